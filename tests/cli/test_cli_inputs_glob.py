"""`--inputs GLOB`: one run per matched file, each file one run's inputs as a JSON object."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ragrun.inputs_glob import InputFiles, is_glob, matched_files
from tests.cli.clirun import ragrun, write

ASK = """
inputs:
  question: [prompt.question]
outputs:
  prompt: prompt.prompt
components:
  prompt:
    type: PromptBuilder
    init_parameters: {template: "Q: {{ question }}"}
"""


def inputs_tree(root: Path) -> Path:
    """b.json, a nested c/d.json (pretty-printed), and e.json that is not JSON."""
    (root / "in" / "c").mkdir(parents=True)
    (root / "in" / "b.json").write_text('{"question": "bee?"}')
    (root / "in" / "c" / "d.json").write_text('{\n  "question": "dee?"\n}\n')
    (root / "in" / "e.json").write_text("not json")
    (root / "in" / "notes.txt").write_text("not matched")
    return root / "in"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_matched_file_is_one_run_in_path_order(tmp_path) -> None:
    folder = inputs_tree(tmp_path)
    p = write(tmp_path / "ask.yaml", ASK)
    done = ragrun(p, "--inputs", f"{folder}/**/*.json", "--ordered")
    assert done.returncode == 1, done.stderr  # e.json failed
    found = [json.loads(line) for line in done.stdout.splitlines()]
    endings = [e for e in found if e["event"] in ("run_finished", "run_failed")]
    files = [Path(e["file"]).relative_to(folder).as_posix() for e in endings]
    assert files == ["b.json", "c/d.json", "e.json"]  # sorted paths; notes.txt not matched
    assert [e["line"] for e in endings] == [1, 2, 3]
    assert [e["outputs"]["prompt"] for e in endings[:2]] == ["Q: bee?", "Q: dee?"]
    failed = endings[2]
    assert failed["event"] == "run_failed" and "is not valid JSON" in failed["error"]["message"]
    assert "e.json" in done.stderr.splitlines()[-1]  # the summary names the failed file
    assert "2 ok, 1 failed" in done.stderr


def test_a_glob_matching_nothing_is_a_usage_error(tmp_path) -> None:
    p = write(tmp_path / "ask.yaml", ASK)
    done = ragrun(p, "--inputs", f"{tmp_path}/none/*.json")
    assert done.returncode == 2
    assert "no file matches" in done.stderr and "Traceback" not in done.stderr


def test_a_glob_is_refused_with_ray(tmp_path) -> None:
    folder = inputs_tree(tmp_path)
    p = write(tmp_path / "ask.yaml", ASK)
    done = ragrun(p, "--inputs", f"{folder}/*.json", "--backend", "ray")
    assert done.returncode == 2
    assert "not available with --backend ray" in done.stderr


def test_resume_skips_finished_files_by_path_even_when_files_were_added(tmp_path) -> None:
    folder = inputs_tree(tmp_path)
    p = write(tmp_path / "ask.yaml", ASK)
    out = tmp_path / "out.jsonl"
    first = ragrun(p, "--inputs", f"{folder}/**/*.json", "--output", out)
    assert first.returncode == 1
    (folder / "e.json").write_text('{"question": "fixed?"}')
    (folder / "a.json").write_text('{"question": "new?"}')  # sorts first: numbers shift
    second = ragrun(p, "--inputs", f"{folder}/**/*.json", "--output", out, "--resume")
    assert second.returncode == 0, second.stderr
    assert "2 skipped" in second.stderr
    finished = Counter(Path(e["file"]).name for e in read(out) if e["event"] == "run_finished")
    assert finished == {"a.json": 1, "b.json": 1, "d.json": 1, "e.json": 1}


def test_is_glob_only_for_patterns_that_name_no_file(tmp_path) -> None:
    odd = tmp_path / "odd[1].jsonl"
    odd.write_text("{}\n")
    assert is_glob(f"{tmp_path}/*.jsonl")
    assert not is_glob(str(odd))  # an existing file is a file, brackets or not
    assert not is_glob("-")
    assert not is_glob(f"{tmp_path}/plain.jsonl")
    assert matched_files(f"{tmp_path}/*.jsonl") == [str(odd)]


@pytest.mark.anyio
async def test_a_file_gone_since_the_glob_fails_alone(tmp_path) -> None:
    from ragrun import Pipeline

    there, gone = tmp_path / "a.json", tmp_path / "b.json"
    there.write_text('{"question": "here?"}')
    p = Pipeline.loads(ASK)
    results = [r async for r in p.run_batch(InputFiles([str(there), str(gone)]))]
    first, second = sorted(results, key=lambda r: r.index)
    assert first.ok and first.outputs == {"prompt": "Q: here?"}
    assert not second.ok and second.line == 2
    assert "cannot read" in str(second.error) and "b.json" in str(second.error)


def test_resume_finds_finished_files_however_the_glob_is_spelled(tmp_path) -> None:
    inputs_tree(tmp_path)
    p = write(tmp_path / "ask.yaml", ASK)
    out = tmp_path / "out.jsonl"
    first = ragrun(p, "--inputs", "in/*.json", "--output", out, cwd=tmp_path)
    assert first.returncode == 1  # e.json is not JSON
    second = ragrun(p, "--inputs", "./in/*.json", "--output", out, "--resume", cwd=tmp_path)
    assert "1 skipped" in second.stderr  # b.json finished; e.json runs (and fails) again
    finished = [e["file"] for e in read(out) if e["event"] == "run_finished"]
    assert finished == ["in/b.json"]
