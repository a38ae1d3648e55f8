"""A component that counts its warm-ups: the executor's and batch mode's warm-up tests share it."""

from __future__ import annotations

import threading
from typing import Any

from ragrun import component


@component
class CountsWarmUps:
    """Passes `value` on; `warm_ups` counts the calls of `warm_up` (from any thread)."""

    def __init__(self) -> None:
        self.warm_ups = 0
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            self.warm_ups += 1

    @component.output_types(out=int)
    def run(self, value: int) -> dict[str, Any]:
        return {"out": value}
