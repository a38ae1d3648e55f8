"""Timing helpers the benchmarks share: best-of-N wall time, so noise only ever adds."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from statistics import median


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """The fastest of `repeat` timings of `number` calls of `fn`, in seconds per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


async def best_of_async(
    fn: Callable[[], Awaitable[object]], repeat: int = 5, number: int = 1
) -> float:
    """`best_of` for a coroutine function, awaited on the running loop."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            await fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def cold_command(args: list[str], repeat: int = 5) -> float:
    """Median wall time of a fresh process running `args` (a cold start each time)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return median(times)


def python() -> str:
    """The interpreter running the benchmark, so both sides use the same environment."""
    return sys.executable


def row(name: str, ragrun: float, haystack: float, unit: str = "ms", scale: float = 1e3) -> str:
    """One line of a side-by-side table: both figures and how many times faster ragrun is."""
    ratio = haystack / ragrun if ragrun else float("inf")
    return (
        f"| {name} | {ragrun * scale:.3f} {unit} | {haystack * scale:.3f} {unit} | {ratio:.1f}x |"
    )
