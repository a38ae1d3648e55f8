"""Putting the runs of a batch back in item order, for `run_batch(..., ordered=True)`.

Runs finish in any order; each is numbered (`seq`) in the order its item was read. `InOrder`
passes events on as they come for the head run (the earliest not yet ended) and holds later
runs' events until their turn; `in_order` does the same for results. What they hold is bounded
by `run_batch`, which starts no run more than `2 * concurrency` ahead of the head.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeVar

R = TypeVar("R")


class InOrder:
    """Passes events on in run order: the head run's at once, later runs' held until their turn.

    Every run ends with exactly one ending event, which moves the head on.
    """

    def __init__(self, emit: Callable[[Any], None]) -> None:
        self._emit = emit
        self._head = 0
        self._held: dict[int, list[Any]] = {}
        self._ended: set[int] = set()

    def add(self, seq: int, event: Any, ending: bool) -> None:
        """Pass on or hold `event` of run `seq`; `ending` when it ends that run."""
        if seq != self._head:
            self._held.setdefault(seq, []).append(event)
            if ending:
                self._ended.add(seq)
            return
        self._emit(event)
        if ending:
            self._advance()

    def _advance(self) -> None:
        self._head += 1
        while True:
            for event in self._held.pop(self._head, ()):
                self._emit(event)
            if self._head not in self._ended:
                return
            self._ended.discard(self._head)
            self._head += 1


async def in_order(
    pairs: AsyncIterable[tuple[int, R]],
) -> AsyncIterator[R]:
    """Re-emit `(seq, result)` pairs by seq, holding early ones until those before are out."""
    waiting: dict[int, R] = {}
    head = 0
    async for seq, result in pairs:
        waiting[seq] = result
        while head in waiting:
            yield waiting.pop(head)
            head += 1
