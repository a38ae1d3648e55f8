"""`--output FILE --resume`: a job killed with `kill -9` restarts where it stopped; in the final
file every input has exactly one `run_finished`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.cli.clirun import ROOT, child_env, ragrun, write

GATE = """
components:
  gate: {type: tests.cli.batch_components.Gate, init_parameters: {mode: second}}
"""
COUNT = 20
DEADLINE = 60.0
"""Seconds to wait for the first job to reach its stuck state (a safety net, not a timing)."""


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every line of an output file, parsed (fails on a line that is not JSON)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def kinds_by_line(found: list[dict[str, Any]], kind: str) -> Counter[int]:
    return Counter(e["line"] for e in found if e["event"] == kind)


def wait_for(path: Path, finished: set[int], failed: set[int]) -> list[dict[str, Any]]:
    """Poll the output file until those lines finished and failed (no fixed sleeps)."""
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        if path.exists():
            lines = [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]
            if (
                set(kinds_by_line(lines, "run_finished")) >= finished
                and set(kinds_by_line(lines, "run_failed")) >= failed
            ):
                return lines
        time.sleep(0.02)  # polling the file, not synchronising on time
    raise AssertionError(f"{path} never showed lines {sorted(finished)} finished")


def test_a_job_killed_mid_way_resumes_and_ends_each_input_exactly_once(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "gate.yaml", GATE)
    inputs = write(tmp_path / "in.jsonl", "".join(f'{{"n": {n}}}\n' for n in range(1, COUNT + 1)))
    out = tmp_path / "out.jsonl"
    # First session: n % 5 == 0 fails, n > 8 blocks, so lines 1-8 end and 4 runs hang in flight.
    command = [sys.executable, "-m", "ragrun", str(pipeline), "--inputs", str(inputs)]
    first = subprocess.Popen(
        [*command, "--output", str(out), "--concurrency", "4", "--set", "gate.mode=first"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=child_env(),
    )
    try:
        before = wait_for(out, finished={1, 2, 3, 4, 6, 7, 8}, failed={5, 10})
    finally:
        first.send_signal(signal.SIGKILL)
        stdout, _ = first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert stdout == b""  # with --output, stdout carries nothing
    in_flight = set(kinds_by_line(before, "run_started")) - set(
        kinds_by_line(before, "run_finished")
    )
    assert in_flight - {5, 10}, "the job was killed with runs in flight"

    second = ragrun(pipeline, "--inputs", inputs, "--output", out, "--resume", "--concurrency", "4")
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    assert "7 skipped (finished in" in second.stderr

    after = read_events(out)  # every line is whole JSON
    assert kinds_by_line(after, "run_finished") == Counter(range(1, COUNT + 1))
    started = kinds_by_line(after, "run_started")
    assert all(started[n] == 1 for n in (1, 2, 3, 4, 6, 7, 8))  # finished lines never re-ran
    assert kinds_by_line(after, "run_failed") == Counter({5: 1, 10: 1})  # failed lines ran again
    assert "13 runs from" in second.stderr


def test_resume_removes_a_line_cut_short_and_reruns_what_it_held(tmp_path: Path) -> None:
    """A job killed mid-write leaves half a line: it is dropped, and its run is done again."""
    pipeline = write(tmp_path / "gate.yaml", GATE)
    inputs = write(tmp_path / "in.jsonl", '{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    out = tmp_path / "out.jsonl"
    done = ragrun(pipeline, "--inputs", inputs, "--output", out, "--ordered")
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    cut = text[: text.rindex('"outputs"')]  # the last run_finished (line 3), cut mid-write
    out.write_text(cut)

    resumed = ragrun(pipeline, "--inputs", inputs, "--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "ended with a line cut short" in resumed.stderr
    assert "1 runs from" not in resumed.stderr and "1 run from" in resumed.stderr
    after = read_events(out)
    assert kinds_by_line(after, "run_finished") == Counter({1: 1, 2: 1, 3: 1})
