"""`ragrun FILE --inputs FILE.jsonl|-`: one run per line, events stamped with the line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.cli.clirun import SAMPLES, events, ragrun, write

ADD = f"components:\n  add: {{type: {SAMPLES}.Add}}\n"


@pytest.fixture
def add(tmp_path: Path) -> Path:
    return write(tmp_path / "add.yaml", ADD)


def finals(stdout: str) -> dict[int, dict]:
    """The one `run_finished` / `run_failed` event of each line, by line number."""
    ends = [e for e in events(stdout) if e["event"] in ("run_finished", "run_failed")]
    assert len(ends) == len({e["line"] for e in ends}), "a line ended twice"
    return {e["line"]: e for e in ends}


def test_each_line_is_one_run_and_every_event_carries_its_line(add: Path, tmp_path: Path) -> None:
    inputs = write(tmp_path / "in.jsonl", '{"a": 1, "b": 2}\n\n{"a": 10}\n{"a": 5, "b": 5}\n')
    done = ragrun(add, "--inputs", inputs, "--concurrency", "2")
    assert done.returncode == 0, done.stderr
    lines = events(done.stdout)
    assert all(e["line"] in (1, 3, 4) for e in lines)
    assert Counter(e["run"] for e in lines).keys() == {e["run"] for e in lines}
    ends = finals(done.stdout)
    assert {n: e["outputs"]["add"]["total"] for n, e in ends.items()} == {1: 3, 3: 10, 4: 10}
    assert {e["index"] for e in ends.values()} == {0, 1, 2}
    assert "3 runs from" in done.stderr
    assert "3 ok, 0 failed" in done.stderr


def test_failed_lines_are_isolated_and_make_the_exit_code_1(add: Path) -> None:
    stdin = '{"a": 1}\nnot json\n{"a": "x"}\n[1]\n{"a": 2}\n'
    done = ragrun(add, "--inputs", "-", stdin=stdin)
    assert done.returncode == 1
    ends = finals(done.stdout)
    assert sorted(ends) == [1, 2, 3, 4, 5]
    assert {n for n, e in ends.items() if e["event"] == "run_finished"} == {1, 5}
    assert "line 2 is not valid JSON" in ends[2]["error"]["message"]
    assert "expected int" in ends[3]["error"]["message"]
    assert "expected a JSON object, found list" in ends[4]["error"]["message"]
    assert "5 runs from stdin: 2 ok, 3 failed (lines 2, 3, 4)" in done.stderr


def test_command_line_inputs_lie_under_every_line(add: Path) -> None:
    done = ragrun(add, "--inputs", "-", "-i", "b=100", stdin='{"a": 1}\n{"a": 2, "b": 0}\n')
    totals = {n: e["outputs"]["add"]["total"] for n, e in finals(done.stdout).items()}
    assert totals == {1: 101, 2: 2}


def test_options_of_later_batch_work_are_refused_clearly(add: Path) -> None:
    done = ragrun(add, "--inputs", "-", "--resume", "--output", "out.jsonl", stdin="")
    assert done.returncode == 2
    assert "--output, --resume: not available yet in batch mode" in done.stderr


def test_unreadable_inputs_file_is_a_usage_error(add: Path, tmp_path: Path) -> None:
    done = ragrun(add, "--inputs", tmp_path / "missing.jsonl")
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert "Traceback" not in done.stderr
