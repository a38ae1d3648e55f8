"""A component that measures how many of its calls overlap: the tests of concurrency limits
(per run in the executor, across runs in batch mode) share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.lowlevel

from ragrun import component


@dataclass
class Tally:
    """Calls in flight now, and the most there ever were at once."""

    in_flight: int = 0
    peak: int = 0


@component
class CountsInFlight:
    """Passes `value` on after a few checkpoints, counting overlapping calls in `tally`.

    Several instances may share one tally, so a limit across components can be checked too.
    Only `run_async` may be used: `run` fails, so a test notices if the async twin is skipped.
    """

    def __init__(self, tally: Tally | None = None) -> None:
        self.tally = tally or Tally()

    @component.output_types(out=int)
    def run(self, value: int) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(out=int)
    async def run_async(self, value: int) -> dict[str, Any]:
        self.tally.in_flight += 1
        self.tally.peak = max(self.tally.peak, self.tally.in_flight)
        for _ in range(5):  # checkpoints give other calls the chance to overlap
            await anyio.lowlevel.checkpoint()
        self.tally.in_flight -= 1
        return {"out": value}
