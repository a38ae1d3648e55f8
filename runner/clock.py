"""Clocks: where the run policies read the time and sleep, so tests can drive time by hand.

Retry backoff, rate limits, circuit-breaker cooldowns and micro-batch windows all wait. In
production they use `SYSTEM_CLOCK` (monotonic time, `anyio.sleep`); tests pass a `FakeClock`
whose time moves only when the test calls `advance`, so backoff bounds and rate windows are
checked exactly, without real sleeps and without timing flakiness.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Protocol

import anyio
import anyio.lowlevel


class Clock(Protocol):
    """What the policies need from time: read it and wait for it."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences matter)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (cancellable)."""
        ...


class SystemClock:
    """Real time: `time.monotonic()` and `anyio.sleep`."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop (a checkpoint even for zero seconds)."""
        await anyio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock for tests: `sleep` parks the caller until the test `advance`s time past its deadline.

    Every requested sleep is recorded in `sleeps` so tests can assert on backoff delays. With
    `auto_advance=True` a sleep moves time forward by itself and returns at once, which suits
    tests that only care about which delays were requested.

    Args:
        start: the initial reading of `now()`.
        auto_advance: make each `sleep` advance time instead of waiting for the test.
    """

    def __init__(self, start: float = 0.0, *, auto_advance: bool = False) -> None:
        self._now = start
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        """Every duration passed to `sleep`, in call order."""
        self._waiters: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()
        self._sleeper_added: anyio.Event | None = None

    def now(self) -> float:
        """The fake time."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until the test advances time by `seconds` (or advance it, in auto mode)."""
        self.sleeps.append(seconds)
        if seconds <= 0 or self.auto_advance:
            self._now += max(0.0, seconds)
            await anyio.lowlevel.checkpoint()
            return
        entry = (self._now + seconds, next(self._order), anyio.Event())
        heapq.heappush(self._waiters, entry)
        if self._sleeper_added is not None:
            self._sleeper_added.set()
        try:
            await entry[2].wait()
        finally:
            if not entry[2].is_set():  # cancelled: forget the deadline
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)

    @property
    def sleepers(self) -> int:
        """How many tasks are parked in `sleep` right now."""
        return len(self._waiters)

    def next_deadline(self) -> float | None:
        """The earliest time a parked sleeper wakes at, or None when nobody sleeps."""
        return self._waiters[0][0] if self._waiters else None

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        while self._waiters and self._waiters[0][0] <= self._now:
            heapq.heappop(self._waiters)[2].set()

    def advance_to_next(self) -> float:
        """Advance exactly to the earliest sleeper's deadline; returns the step taken."""
        deadline = self.next_deadline()
        if deadline is None:
            raise RuntimeError("no task is sleeping on this clock")
        step = max(0.0, deadline - self._now)
        self.advance(step)
        return step

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Wait until at least `count` tasks are parked in `sleep`."""
        while len(self._waiters) < count:
            self._sleeper_added = anyio.Event()
            await self._sleeper_added.wait()
