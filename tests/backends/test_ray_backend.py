"""The Ray backend: same results as local batch mode, failures isolated, exactly-once accounting.

The tests marked `slow` run jobs on the session's local Ray (`ray_local`, 2 CPUs); the others
check the pieces the accounting rests on (line numbering of a split file, dedup of redone
rows, one ending per line) without Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from ragrun import Pipeline
from ragrun.backends.line_batch import InputLine, LineOptions, run_lines
from ragrun.backends.ray import RayBackendError, account, run_on_ray
from ragrun.backends.ray_inputs import JsonLinesDatasource, read_split, split_file, spool
from ragrun.jsonl import to_jsonable

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = "tests.backends.ray_components"
SQUARE_LABEL = f"""
components:
  square: {{type: {COMPONENTS}.Square}}
  label: {{type: {COMPONENTS}.Label, init_parameters: {{prefix: "n="}}}}
connections:
  - {{sender: square.y, receiver: label.y}}
"""
ENDINGS = ("run_finished", "run_failed")
# Blank lines are skipped, a bad line fails alone, x=-3 fails inside `square`.
INPUTS = [json.dumps({"x": x}) for x in range(12)]
INPUTS[3:3] = ["", "not json", '{"x": -3}', "[1, 2]"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def endings(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The one `run_finished` / `run_failed` of each line, by line; fails if a line ended twice."""
    ends = [e for e in events if e["event"] in ENDINGS]
    counts = Counter(e["line"] for e in ends)
    assert [line for line, n in counts.items() if n > 1] == []
    return {e["line"]: e for e in ends}


def summary(event: dict[str, Any]) -> Any:
    """What must match between backends: outputs, or the error (run ids and times differ)."""
    if event["event"] == "run_finished":
        return ("finished", event["index"], event["outputs"])
    return ("failed", event["index"], event["component"], event["error"])


def local_cli_events(pipeline: Path, inputs: Path) -> list[dict[str, Any]]:
    """The events of `ragrun FILE --inputs FILE` on the local backend, as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "ragrun", str(pipeline), "--inputs", str(inputs)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**_env(), "PYTHONPATH": str(ROOT)},
        timeout=120,  # a safety net against a hung child, not a timing assertion
    )
    assert done.returncode == 1, done.stderr  # some lines fail on purpose
    return [json.loads(line) for line in done.stdout.splitlines()]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("RAGRUN_DEBUG", "FORCE_COLOR")}


# -- on a local Ray -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def square_job(ray_local: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One Ray job over INPUTS (several batches on 2 actors), and the files it ran from."""
    folder = tmp_path_factory.mktemp("square")
    pipeline = write(folder / "square.yaml", SQUARE_LABEL)
    inputs = write(folder / "in.jsonl", "\n".join(INPUTS) + "\n")
    events = run_on_ray(pipeline, inputs, actors=2, batch_size=3, ordered=True)
    return {
        "pipeline": pipeline,
        "inputs": inputs,
        "events": [to_jsonable(e.model_dump()) for e in events],
    }


@pytest.mark.slow
def test_same_results_as_the_local_backend(square_job: dict[str, Any]) -> None:
    ray_ends = endings(square_job["events"])
    local_ends = endings(local_cli_events(square_job["pipeline"], square_job["inputs"]))
    assert sorted(ray_ends) == sorted(local_ends) == [1, 2, 3, 5, 6, 7, 8, *range(9, 17)]
    assert {n: summary(e) for n, e in ray_ends.items()} == {
        n: summary(e) for n, e in local_ends.items()
    }
    assert ray_ends[1]["outputs"] == {"label": {"text": "n=0"}}


@pytest.mark.slow
def test_a_failing_input_fails_alone(square_job: dict[str, Any]) -> None:
    ends = endings(square_job["events"])
    failed = {n: e["error"]["type"] for n, e in ends.items() if e["event"] == "run_failed"}
    assert failed == {5: "PipelineInputError", 6: "ValueError", 7: "PipelineInputError"}
    assert ends[6]["component"] == "square"
    assert "line 5 is not valid JSON" in ends[5]["error"]["message"]
    assert "expected a JSON object, found list" in ends[7]["error"]["message"]


@pytest.mark.slow
def test_every_event_carries_its_line_and_ordered_keeps_input_order(
    square_job: dict[str, Any],
) -> None:
    events = square_job["events"]
    lines_of_run: dict[str, set[int]] = {}
    for event in events:
        lines_of_run.setdefault(event["run"], set()).add(event["line"])
    assert all(len(lines) == 1 for lines in lines_of_run.values())  # a run is one line's
    assert len(lines_of_run) == len(endings(events))  # and each run ended once
    lines = [e["line"] for e in events if e["event"] in ENDINGS]
    assert lines == sorted(lines)


def die_once_pipeline(folder: Path, marker: Path) -> Path:
    """`die` (exits its worker once, on x=7) then `square`."""
    return write(
        folder / "die.yaml",
        f"""
components:
  die: {{type: {COMPONENTS}.DieOnce, init_parameters: {{marker: "{marker}", trigger: 7}}}}
  square: {{type: {COMPONENTS}.Square}}
connections:
  - {{sender: die.x, receiver: square.x}}
""",
    )


@pytest.mark.slow
def test_an_actor_redacts_the_secrets_it_resolved_before_its_events_leave_it(
    ray_local: Any, tmp_path: Path
) -> None:
    key = "sk-actor-only-3e8b1f0c"
    component = f"{{type: {COMPONENTS}.TokenUser, init_parameters: {{token: {key}}}}}"
    pipeline = write(tmp_path / "token.yaml", f"components:\n  use: {component}\n")
    inputs = write(tmp_path / "in.jsonl", '{"x": 1}\n{"x": -1}\n')
    events = [to_jsonable(e.model_dump()) for e in run_on_ray(pipeline, inputs, actors=1)]
    assert key not in json.dumps(events)
    ends = endings(events)
    assert ends[1]["outputs"] == {"use": {"text": "1 signed with ***"}}
    assert ends[2]["error"]["message"].endswith("refused key ***")


@pytest.mark.slow
def test_an_actor_killed_mid_job_is_replaced_and_nothing_is_lost_or_doubled(
    ray_local: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    pipeline = die_once_pipeline(tmp_path, marker)
    items = [{"x": x} for x in range(24)]  # given as an iterable: spooled, then read by Ray
    events = [
        to_jsonable(e.model_dump())
        for e in run_on_ray(pipeline, items, actors=2, batch_size=4, include_outputs_from=["die"])
    ]
    ends = endings(events)
    assert marker.exists(), "the trigger line never ran: no actor died"
    assert sorted(ends) == list(range(1, 25))
    assert {n: e["outputs"]["square"]["y"] for n, e in ends.items()} == {
        n: (n - 1) ** 2 for n in range(1, 25)
    }
    dead_pid = int(marker.read_text())
    assert ends[8]["outputs"]["die"]["pid"] != dead_pid  # x=7 (line 8) was redone elsewhere
    assert Counter(e["line"] for e in events if e["event"] == "run_started") == dict.fromkeys(
        range(1, 25), 1
    )


@pytest.mark.slow
def test_a_driver_on_ray_address_reading_stdin_writes_only_events_to_stdout(
    ray_local: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    pipeline = die_once_pipeline(tmp_path, marker)
    address = ray_local.get_runtime_context().gcs_address
    done = subprocess.run(
        [sys.executable, "-m", "tests.backends.ray_driver", str(pipeline), "-"],
        input="".join(json.dumps({"x": x}) + "\n" for x in range(12)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**_env(), "PYTHONPATH": str(ROOT), "RAY_ADDRESS": address},
        timeout=300,  # a safety net against a hung child, not a timing assertion
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]  # nothing but events
    assert marker.exists(), "the trigger line never ran: no actor died"
    assert {n: e["outputs"]["square"]["y"] for n, e in endings(events).items()} == {
        n: (n - 1) ** 2 for n in range(1, 13)
    }
    assert "driver done" in done.stderr


@pytest.mark.slow
def test_actors_that_cannot_warm_up_fail_the_job_with_the_reason(
    ray_local: Any, tmp_path: Path
) -> None:
    pipeline = write(tmp_path / "cold.yaml", f"components:\n  c: {{type: {COMPONENTS}.ColdFeet}}\n")
    with pytest.raises(RayBackendError, match="model 'nowhere/nothing' is not on this worker"):
        list(run_on_ray(pipeline, ['{"x": 1}'] * 3, actors=1, batch_size=2))


@pytest.mark.slow
def test_stopping_early_releases_the_actors_for_the_next_job(
    ray_local: Any, tmp_path: Path
) -> None:
    pipeline = write(tmp_path / "square.yaml", SQUARE_LABEL)
    lines = [json.dumps({"x": x}) for x in range(200)]
    events = run_on_ray(pipeline, lines, actors=2, batch_size=2)
    assert next(events).event == "run_started"
    events.close()  # as the CLI does after --max-failures
    again = list(run_on_ray(pipeline, lines[:5], actors=2, batch_size=2))
    assert sorted(endings([e.model_dump() for e in again])) == [1, 2, 3, 4, 5]


def test_empty_inputs_run_nothing_and_start_no_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_ray(options: Any) -> None:
        raise AssertionError("Ray was started for no input")

    monkeypatch.setattr("ragrun.backends.ray.ray_session", no_ray)
    pipeline = write(tmp_path / "square.yaml", SQUARE_LABEL)
    assert list(run_on_ray(pipeline, ["", "  "])) == []


def test_a_pipeline_that_cannot_load_is_reported_before_ray_runs(tmp_path: Path) -> None:
    from ragrun import PipelineValidationError

    pipeline = write(tmp_path / "bad.yaml", "components:\n  x: {type: NoSuchComponent}\n")
    inputs = write(tmp_path / "in.jsonl", '{"x": 1}\n')
    with pytest.raises(PipelineValidationError, match="NoSuchComponent"):
        list(run_on_ray(pipeline, inputs))


# -- the pieces, without Ray -------------------------------------------------------------------


@pytest.mark.parametrize("rows_per_split", [1, 2, 3, 100], ids=lambda n: f"split-{n}")
def test_split_files_keep_line_numbers_and_indexes(tmp_path: Path, rows_per_split: int) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\n{"a": 1}\r\n\n  \n{"a": 2}\n{"a": 3}\n\n{"a": 4}')  # no final newline
    splits = split_file(path, rows_per_split)
    rows = [row for split in splits for row in read_split(str(path), split)]
    assert rows == [
        (0, 2, '{"a": 1}'),
        (1, 5, '{"a": 2}'),
        (2, 6, '{"a": 3}'),
        (3, 8, '{"a": 4}'),
    ]
    assert sum(s.items for s in splits) == 4
    assert max(s.items for s in splits) <= rows_per_split


def test_spool_writes_one_line_per_item_and_refuses_embedded_line_breaks(tmp_path: Path) -> None:
    path = spool(['{"a": 1}\n', b"", {"a": 2}], directory=str(tmp_path))
    assert path.read_text().splitlines() == ['{"a": 1}', "", '{"a":2}']
    with pytest.raises(ValueError, match="input 2 holds a line break"):
        spool(["{}", '{"a":\n1}'], directory=str(tmp_path))


def test_account_drops_a_redone_row_and_fails_a_lost_input(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"x": 0}\n\n{"x": 1}\n{"x": 2}\n')
    source = JsonLinesDatasource(path, rows_per_block=2, rows_per_split=2)

    def row(index: int, line: int, run: str) -> dict[str, Any]:
        event = {"event": "run_finished", "run": run, "t": 0.1, "index": index, "line": line}
        return {
            "index": index,
            "line": line,
            "events": json.dumps({**event, "outputs": {}}).encode(),
        }

    rows = [row(0, 1, "a"), row(2, 4, "b"), row(0, 1, "again")]  # index 1 (line 3) never came
    events = list(account(rows, source))
    assert [(e.event, e.line, e.run) for e in events[:2]] == [
        ("run_finished", 1, "a"),
        ("run_finished", 4, "b"),
    ]
    lost = events[2]
    assert (lost.event, lost.index, lost.line, lost.error.type) == (
        "run_failed",
        1,
        3,
        "RayBackendError",
    )
    assert len(events) == 3


def test_run_lines_ends_each_line_once_whatever_fails() -> None:
    p = Pipeline.loads(SQUARE_LABEL, source="square.yaml")
    lines = [
        InputLine(0, 1, '{"x": 2}'),
        InputLine(1, 2, "{"),
        InputLine(2, 3, '{"x": -1}'),
        InputLine(3, 4, '{"y": 1}'),  # no input named y
        InputLine(4, 5, "{}"),  # x missing
    ]
    base = LineOptions(base={"x": 5}, concurrency=2)
    results = anyio.run(run_lines, p, lines, base)
    assert [(r.index, r.ok) for r in results] == [
        (0, True),
        (1, False),
        (2, False),
        (3, False),
        (4, True),  # x comes from the base inputs
    ]
    for result in results:
        kinds = [json.loads(raw)["event"] for raw in result.events.splitlines()]
        assert sum(kind in ENDINGS for kind in kinds) == 1
        assert kinds[-1] == ("run_finished" if result.ok else "run_failed")
    last = json.loads(results[4].events.splitlines()[-1])
    assert (last["outputs"], last["line"], last["index"]) == ({"label": {"text": "n=25"}}, 5, 4)
