"""Progress on stderr: a bar redrawn at most 10 times a second, or a plain line every 5 s."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from ragrun.progress import Progress, Tally, clock_text, summary


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def end(event: str, line: int = 1) -> SimpleNamespace:
    return SimpleNamespace(event=event, line=line, will_retry=False)


def finish(tally: Tally, progress: Progress, count: int, event: str = "run_finished") -> None:
    for i in range(count):
        tally.count(end(event, i + 1))
        progress.update()


def test_the_bar_is_redrawn_at_most_ten_times_a_second() -> None:
    clock, stream, tally = Clock(), io.StringIO(), Tally()
    progress = Progress(tally, stream, terminal=True, clock=clock, total=1000)
    finish(tally, progress, 50)  # all at the same instant: one drawing
    assert stream.getvalue().count("\r") == 1
    clock.now += 0.05
    finish(tally, progress, 50)
    assert stream.getvalue().count("\r") == 1
    clock.now += 0.06
    finish(tally, progress, 1)
    drawings = stream.getvalue().split("\r")
    assert len(drawings) == 3
    assert drawings[-1].startswith("[##...")
    assert "101/1000" in drawings[-1]
    assert "918.2 runs/s" in drawings[-1]  # 101 runs in 0.11 s
    assert "ETA 0:01" in drawings[-1]  # 899 left


def test_without_a_total_there_is_no_bar_and_no_eta() -> None:
    clock, stream, tally = Clock(), io.StringIO(), Tally()
    progress = Progress(tally, stream, terminal=True, clock=clock)
    clock.now += 2
    finish(tally, progress, 10)
    finish(tally, progress, 2, "run_failed")
    clock.now += 1
    progress.tick()
    text = stream.getvalue()
    assert text.endswith("\r12 done  4.0 runs/s  2 failed\x1b[K")
    assert "ETA" not in text and "[." not in text


def test_a_total_counted_later_brings_the_eta() -> None:
    clock, stream, tally = Clock(), io.StringIO(), Tally()
    progress = Progress(tally, stream, terminal=True, clock=clock)
    clock.now += 10
    finish(tally, progress, 100)
    assert "ETA" not in stream.getvalue()
    progress.set_total(1000)
    clock.now += 1
    progress.tick()
    assert "ETA 1:39" in stream.getvalue()  # 900 left at 100/11 s


def test_without_a_terminal_a_plain_line_every_five_seconds() -> None:
    clock, stream, tally = Clock(), io.StringIO(), Tally()
    progress = Progress(tally, stream, terminal=False, clock=clock)
    finish(tally, progress, 100)
    clock.now += 4.9
    progress.tick()
    assert stream.getvalue() == ""  # not before 5 s
    finish(tally, progress, 20, "run_failed")
    clock.now += 0.1
    progress.tick()
    assert stream.getvalue() == "ragrun: 120 done (100 ok, 20 failed), 24.0 runs/s\n"
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    clock.now += 5
    progress.tick()  # the heartbeat: a line even while no run ends
    assert stream.getvalue().count("\n") == 2


def test_messages_above_the_bar_clear_it_and_draw_it_again() -> None:
    clock, stream, tally = Clock(), io.StringIO(), Tally()
    progress = Progress(tally, stream, terminal=True, clock=clock, total=10)
    finish(tally, progress, 1)
    progress.above("ragrun: run r1 (line 3) failed")
    text = stream.getvalue()
    assert "\r\x1b[Kragrun: run r1 (line 3) failed\n\r[" in text
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    clock.now += 60
    progress.tick()
    assert stream.getvalue().endswith("\r\x1b[K")  # closed: never drawn again


def test_the_tally_counts_endings_and_retries() -> None:
    tally = Tally()
    for event in ("run_finished", "run_failed", "run_started", "run_failed"):
        tally.count(end(event, 7))
    tally.count(SimpleNamespace(event="component_failed", will_retry=True))
    tally.count(SimpleNamespace(event="component_failed", will_retry=False))
    assert (tally.ok, tally.failed, tally.retried, tally.failed_lines) == (1, 2, 1, [7, 7])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0:00"), (16, "0:16"), (723, "12:03"), (7509, "2:05:09")],
)
def test_clock_text(seconds: float, text: str) -> None:
    assert clock_text(seconds) == text


def test_the_summary_says_how_many_how_they_ended_how_fast() -> None:
    tally = Tally(ok=990, failed=12, retried=4, skipped=200, failed_lines=list(range(3, 13)))
    text = summary(tally, "in.jsonl", 2.0, output="out.jsonl")
    assert text == (
        "ragrun: 1002 runs from in.jsonl: 990 ok, 12 failed "
        "(lines 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ...), 4 retried; "
        "200 skipped (finished in out.jsonl); 2.00 s, 501.0 runs/s"
    )
    assert (
        summary(Tally(), "-", 0.0) == "ragrun: 0 runs from stdin: 0 ok, 0 failed, 0 retried; 0.00 s"
    )


def test_the_summary_times_the_runs_apart_from_the_warm_up() -> None:
    tally = Tally(ok=100, warm_up=3.0)
    assert summary(tally, "in.jsonl", 5.0) == (
        "ragrun: 100 runs from in.jsonl: 100 ok, 0 failed, 0 retried; "
        "2.00 s, 50.0 runs/s, after a 3.00 s warm-up"
    )


def test_the_summary_names_failed_files_of_a_glob() -> None:
    tally = Tally(ok=1, failed=2, failed_files=["b.json", "a.json"])
    assert "2 failed (a.json, b.json), 0 retried" in summary(tally, "*.json", 1.0)
