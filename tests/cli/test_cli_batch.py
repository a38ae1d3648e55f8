"""`ragrun FILE --inputs FILE.jsonl|-`: one run per line, events stamped with the line."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.clirun import ROOT, SAMPLES, child_env, events, ragrun, write

ADD = f"components:\n  add: {{type: {SAMPLES}.Add}}\n"
BATCH = "tests.cli.batch_components"
SUMMARY_EVENTS = {"run_started", "component_failed", "run_finished", "run_failed"}


@pytest.fixture
def add(tmp_path: Path) -> Path:
    return write(tmp_path / "add.yaml", ADD)


def finals(stdout: str) -> dict[int, dict]:
    """The one `run_finished` / `run_failed` event of each line, by line number."""
    ends = [e for e in events(stdout) if e["event"] in ("run_finished", "run_failed")]
    assert len(ends) == len({e["line"] for e in ends}), "a line ended twice"
    return {e["line"]: e for e in ends}


def numbers(count: int, name: str = "a") -> str:
    return "".join(json.dumps({name: i}) + "\n" for i in range(count))


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
    assert "3 ok, 0 failed, 0 retried" in done.stderr


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
    assert "(line 3) failed" in done.stderr  # each failure told on stderr too


def test_command_line_inputs_lie_under_every_line(add: Path) -> None:
    done = ragrun(add, "--inputs", "-", "-i", "b=100", stdin='{"a": 1}\n{"a": 2, "b": 0}\n')
    totals = {n: e["outputs"]["add"]["total"] for n, e in finals(done.stdout).items()}
    assert totals == {1: 101, 2: 2}


def test_only_summary_events_are_written_unless_verbose(add: Path) -> None:
    stdin = '{"a": 1}\n{"a": "x"}\n'
    quiet = ragrun(add, "--inputs", "-", stdin=stdin)
    loud = ragrun(add, "--inputs", "-", "--verbose", stdin=stdin)
    assert {e["event"] for e in events(quiet.stdout)} <= SUMMARY_EVENTS
    assert {"component_started", "component_finished"} <= {e["event"] for e in events(loud.stdout)}


def test_ordered_emits_runs_in_input_order(tmp_path: Path) -> None:
    """Line 1 finishes last on purpose: --ordered still writes it first, whole."""
    relay = write(
        tmp_path / "relay.yaml",
        f"components:\n  relay: {{type: {BATCH}.Relay, init_parameters: {{others: 3}}}}\n",
    )
    stdin = numbers(4, "value")
    unordered = ragrun(relay, "--inputs", "-", "--concurrency", "4", stdin=stdin)
    ordered = ragrun(relay, "--inputs", "-", "--concurrency", "4", "--ordered", stdin=stdin)
    assert unordered.returncode == ordered.returncode == 0, ordered.stderr
    first_end = next(e for e in events(unordered.stdout) if e["event"] == "run_finished")
    assert first_end["line"] != 1
    lines = [e["line"] for e in events(ordered.stdout)]
    assert lines == [1, 1, 2, 2, 3, 3, 4, 4]


def test_output_appends_to_a_file_and_leaves_stdout_empty(add: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = ragrun(add, "--inputs", "-", "--output", out, stdin='{"a": 1}\n')
    second = ragrun(add, "--inputs", "-", "--output", out, stdin='{"a": 2}\n{"a": "x"}\n')
    assert first.returncode == 0 and second.returncode == 1
    assert first.stdout == second.stdout == ""
    written = events(out.read_text())
    ends = [(e["event"], e["line"]) for e in written if e["event"].startswith("run_f")]
    assert ends[0] == ("run_finished", 1)  # the first job's, kept: the file is appended to
    assert sorted(ends[1:]) == [("run_failed", 2), ("run_finished", 1)]
    assert "2 runs from stdin: 1 ok, 1 failed (line 2)" in second.stderr
    assert "(line 2) failed" in second.stderr


def test_max_failures_stops_reading_new_lines(add: Path) -> None:
    stdin = '{"a": 1}\n{"a": "x"}\n{"a": "y"}\n{"a": 4}\n{"a": 5}\n'
    done = ragrun(add, "--inputs", "-", "--concurrency", "1", "--max-failures", "2", stdin=stdin)
    assert done.returncode == 1
    assert sorted(finals(done.stdout)) == [1, 2, 3]
    assert "stopped after 2 failed runs (--max-failures)" in done.stderr


def test_retried_attempts_are_counted_in_the_summary(tmp_path: Path) -> None:
    flaky = write(
        tmp_path / "flaky.yaml",
        f"components:\n  flaky:\n    type: {BATCH}.Flaky\n"
        "    retry: {attempts: 2, initial_delay: 0, max_delay: 0}\n",
    )
    done = ragrun(flaky, "--inputs", "-", stdin=numbers(3, "value"))
    assert done.returncode == 0, done.stderr
    retries = [e for e in events(done.stdout) if e["event"] == "component_failed"]
    assert len(retries) == 3 and all(e["will_retry"] for e in retries)
    assert "3 ok, 0 failed, 3 retried" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--resume"], "--resume: only with --output FILE", id="resume-no-output"),
        pytest.param(
            ["--backend", "ray", "--output", "o.jsonl", "--resume"],
            "--resume: not available with --backend ray",
            id="ray-resume",
        ),
        pytest.param(["--actors", "2"], "--actors: only with --backend ray", id="ray-option"),
        pytest.param(["--ordered"], "--ordered: only with --inputs", id="not-batch"),
    ],
)
def test_impossible_option_mixes_are_usage_errors(
    add: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    batch = [] if "--ordered" in args else ["--inputs", "-"]
    done = ragrun(add, *batch, *args, "-i", "a=1", stdin="", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_unreadable_inputs_file_is_a_usage_error(add: Path, tmp_path: Path) -> None:
    done = ragrun(add, "--inputs", tmp_path / "missing.jsonl")
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert "Traceback" not in done.stderr


def test_progress_bar_goes_to_the_terminal_on_stderr_never_to_stdout(
    add: Path, tmp_path: Path
) -> None:
    """stderr is a terminal (a pty), stdout a pipe: the bar is drawn on one, JSON on the other."""
    inputs = write(tmp_path / "in.jsonl", numbers(40))
    main, side = pty.openpty()
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(main, chunks), daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ragrun", str(add), "--inputs", str(inputs)],
            stdout=subprocess.PIPE,
            stderr=side,
            cwd=ROOT,
            env=child_env(COLUMNS="100"),
            timeout=120,  # a safety net against a hung child, not a timing assertion
        )
    finally:
        os.close(side)
    reader.join(timeout=30)
    terminal = b"".join(chunks).decode()
    assert done.returncode == 0, terminal
    assert len(finals(done.stdout.decode())) == 40  # stdout: JSON lines only
    assert "runs/s" in terminal and "\x1b[K" in terminal  # a bar, redrawn in place
    assert "40 runs from" in terminal


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)


def test_a_failing_close_is_told_after_the_summary_and_exits_1(tmp_path) -> None:
    p = write(
        tmp_path / "closes.yaml",
        "components:\n  c: {type: tests.cli.batch_components.FailsToClose}\n",
    )
    done = ragrun(p, "--inputs", "-", stdin='{"c": {"value": 1}}\n{"c": {"value": 2}}\n')
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert "2 ok, 0 failed" in lines[-2]  # the runs' own summary first
    assert lines[-1] == (
        "ragrun: closing the pipeline failed: OSError: the index could not be built"
    )
    assert "Traceback" not in done.stderr
    single = ragrun(p, "-i", "c.value=1")  # a single run tells it the same way
    assert single.returncode == 1
    assert "closing the pipeline failed: OSError" in single.stderr
