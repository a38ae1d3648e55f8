"""Components for the process-pool tests; importable so spawned workers can build them."""

from __future__ import annotations

import os

from ragrun import component

WARM_UPS = 0
"""How often `warm_up` ran in this process."""


@component
class PidReporter:
    """CPU-bound work that reports which process did it and how often that process warmed up."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset

    def warm_up(self) -> None:
        global WARM_UPS
        WARM_UPS += 1

    @component.output_types(value=int, pid=int, warm_ups=int)
    def run(self, n: int) -> dict:
        sum(i * i for i in range(n * 1000))  # a little real CPU work
        return {"value": n * n + self.offset, "pid": os.getpid(), "warm_ups": WARM_UPS}


@component
class Failing:
    """Raises inside the worker, to check the error comes back to the caller."""

    @component.output_types(value=int)
    def run(self, n: int) -> dict:
        raise ValueError(f"bad input {n}")
