"""`PerLoop`: one instance of a loop-bound object (a lock, a limiter) per running event loop.

The run policies are shared by every run of a pipeline, but `Pipeline.run` starts a fresh event
loop each time, and anyio's locks and limiters belong to the loop that first waits on them.
State that must survive across loops (token counts, breaker failures, process pools) lives in
plain objects; only the synchronisation primitives go through `PerLoop`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio.lowlevel

T = TypeVar("T")


class PerLoop(Generic[T]):
    """Makes `factory()` once per event loop and hands the same object back within that loop.

    Args:
        factory: builds the object; called inside the loop that will use it.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._by_loop: weakref.WeakKeyDictionary[object, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The object for the running loop (made on first use in it)."""
        loop = anyio.lowlevel.current_token().native_token
        try:
            return self._by_loop[loop]
        except KeyError:
            value = self._by_loop[loop] = self._factory()
            return value

    def existing(self) -> list[T]:
        """The objects made so far, for loops still alive."""
        return list(self._by_loop.values())
