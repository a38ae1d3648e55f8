"""How a batch is going, told on stderr: a live bar on a terminal, a plain line now and then
elsewhere (CI logs), and one summary line at the end. stdout is never used: it carries events.

- On a terminal: `[#######.......]  1200/5000  24%  240.1 runs/s  ETA 0:16  20 failed`, redrawn
  in place at most 10 times a second. Without a known total (stdin) there is no bar and no ETA.
- Elsewhere: `ragrun: 1200/5000 done (1180 ok, 20 failed), 240.1 runs/s, ETA 0:16`, every 5 s.

`Tally` counts what the events tell; `Progress` draws it. Both read time from an injected clock,
so tests drive them without sleeping; `Heartbeat` redraws from a thread while no run ends.
"""

from __future__ import annotations

import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

BAR_INTERVAL = 0.1
"""Seconds between redraws of the bar, at least."""
LINE_INTERVAL = 5.0
"""Seconds between plain progress lines."""
_FAILED_LINES_KEPT = 10


@dataclass
class Tally:
    """How the runs of a batch ended, counted from their events."""

    ok: int = 0
    failed: int = 0
    retried: int = 0
    """Failed attempts that were retried (`component_failed` with `will_retry`)."""
    skipped: int = 0
    """Inputs not run because `--resume` found them finished."""
    failed_lines: list[int] = field(default_factory=list)
    """The first failed lines (a few, for the summary)."""
    failed_files: list[str] = field(default_factory=list)
    """With `--inputs GLOB`: the first failed files instead."""
    warm_up: float = 0.0
    """Seconds the pipeline's warm-up took before the first run (models, clients)."""

    @property
    def done(self) -> int:
        """Runs that ended."""
        return self.ok + self.failed

    def count(self, event: Any) -> None:
        """Count one event (only endings and retries matter)."""
        kind = event.event
        if kind == "run_finished":
            self.ok += 1
        elif kind == "run_failed":
            self.failed += 1
            file = getattr(event, "file", None)
            if file is not None:
                if len(self.failed_files) < _FAILED_LINES_KEPT:
                    self.failed_files.append(file)
            elif len(self.failed_lines) < _FAILED_LINES_KEPT and event.line is not None:
                self.failed_lines.append(event.line)
        elif kind == "component_failed" and event.will_retry:
            self.retried += 1


class Progress:
    """Draws a batch's progress on `stream` (stderr): a bar on a terminal, lines elsewhere.

    Thread-safe: `Heartbeat` calls `tick` from its own thread.

    Args:
        tally: the counts to show.
        stream: where to draw (stderr).
        terminal: draw a bar redrawn in place, rather than plain lines.
        clock: monotonic seconds (injected by tests).
        total: the runs expected, when known (set later with `set_total`).
    """

    def __init__(
        self,
        tally: Tally,
        stream: TextIO,
        *,
        terminal: bool,
        clock: Callable[[], float] = time.monotonic,
        total: int | None = None,
    ) -> None:
        self.tally = tally
        self.total = total
        self._stream = stream
        self._terminal = terminal
        self._clock = clock
        self._start = clock()
        self._interval = BAR_INTERVAL if terminal else LINE_INTERVAL
        self._last = -math.inf if terminal else self._start
        self._drawn = False
        self._lock = threading.RLock()

    def set_total(self, total: int) -> None:
        """The runs expected, once counted: the bar and the ETA appear."""
        with self._lock:
            self.total = total

    def update(self) -> None:
        """A run ended: redraw if the last drawing is old enough."""
        self.tick()

    def tick(self) -> None:
        """Redraw if the last drawing is old enough (called by the heartbeat too)."""
        with self._lock:
            now = self._clock()
            if now - self._last < self._interval:
                return
            self._last = now
            if self._terminal:
                self._draw_bar(now)
            else:
                self._write(f"ragrun: {self.describe(now)}\n")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Clear the bar while something else writes to the terminal, then draw it again."""
        with self._lock:
            drawn = self._drawn
            self._clear()
            try:
                yield
            finally:
                if drawn:
                    self._draw_bar(self._clock())

    def above(self, text: str) -> None:
        """Write a line of text (a failure, a notice) above the bar."""
        with self.paused():
            self._write(text + "\n")

    def close(self) -> None:
        """Clear the bar for good (before the summary)."""
        with self._lock:
            self._clear()
            self._terminal = False
            self._last = math.inf  # no more drawing

    # -- text --------------------------------------------------------------------------------

    def describe(self, now: float) -> str:
        """`1200/5000 done (1180 ok, 20 failed), 240.1 runs/s, ETA 0:16`."""
        tally = self.tally
        done = f"{tally.done}/{self.total}" if self.total is not None else str(tally.done)
        text = f"{done} done ({tally.ok} ok, {tally.failed} failed), {self._rate(now):.1f} runs/s"
        eta = self._eta(now)
        return text + (f", ETA {eta}" if eta else "")

    def bar(self, now: float, width: int) -> str:
        """One line of at most `width - 1` characters: bar, counts, rate, ETA, failures."""
        tally = self.tally
        parts = []
        if self.total:
            fraction = min(1.0, tally.done / self.total)
            size = max(10, min(30, width // 4))
            filled = int(fraction * size)
            parts.append("[" + "#" * filled + "." * (size - filled) + "]")
            parts.append(f"{tally.done}/{self.total}")
            parts.append(f"{fraction:4.0%}")
        else:
            parts.append(f"{tally.done} done")
        parts.append(f"{self._rate(now):.1f} runs/s")
        eta = self._eta(now)
        if eta:
            parts.append(f"ETA {eta}")
        if tally.failed:
            parts.append(f"{tally.failed} failed")
        return "  ".join(parts)[: max(1, width - 1)]

    def _rate(self, now: float) -> float:
        elapsed = now - self._start
        return self.tally.done / elapsed if elapsed > 0 else 0.0

    def _eta(self, now: float) -> str | None:
        rate = self._rate(now)
        if self.total is None or rate <= 0:
            return None
        return clock_text(max(0, self.total - self.tally.done) / rate)

    # -- drawing -----------------------------------------------------------------------------

    def _draw_bar(self, now: float) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        self._write("\r" + self.bar(now, width) + "\x1b[K")
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


class Heartbeat:
    """Calls `progress.tick()` every `period` seconds from a daemon thread, while in use.

    So the bar's rate and the plain lines keep coming while no run ends.
    """

    def __init__(self, progress: Progress, period: float) -> None:
        self._progress = progress
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="ragrun-progress", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._period):
            self._progress.tick()


def clock_text(seconds: float) -> str:
    """`0:16`, `12:03`, `2:05:09`: seconds as a clock reading."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary(tally: Tally, source: str, seconds: float, *, output: str | None = None) -> str:
    """The last line of a batch: how many runs, how they ended, how long, how fast.

    `seconds` is the whole job; the time and rate shown are the runs', with the warm-up (a
    model load can take longer than the runs) told apart.
    """
    runs = tally.done
    failed = ""
    if tally.failed_files:
        shown = ", ".join(sorted(tally.failed_files))
        more = ", ..." if tally.failed > len(tally.failed_files) else ""
        failed = f" ({shown}{more})"
    elif tally.failed_lines:
        shown = ", ".join(map(str, sorted(tally.failed_lines)))
        more = ", ..." if tally.failed > len(tally.failed_lines) else ""
        failed = f" (line{'s' if tally.failed > 1 else ''} {shown}{more})"
    name = "stdin" if source == "-" else source
    text = (
        f"ragrun: {runs} run{'s' if runs != 1 else ''} from {name}: {tally.ok} ok, "
        f"{tally.failed} failed{failed}, {tally.retried} retried"
    )
    if tally.skipped:
        text += f"; {tally.skipped} skipped (finished in {output})"
    running = seconds - tally.warm_up  # runs/s counts the runs, not loading the model
    rate = f", {runs / running:.1f} runs/s" if running > 0 and runs else ""
    text = f"{text}; {running:.2f} s{rate}"
    if tally.warm_up >= 0.005:
        text += f", after a {tally.warm_up:.2f} s warm-up"
    return text
