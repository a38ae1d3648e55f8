"""Per-attempt timeouts: cancel async work, abandon a thread, and say which component was too slow.

`within` runs one attempt under `anyio.fail_after`. Async work is cancelled. A sync `run` in a
worker thread cannot be interrupted, so the engine starts it with
`anyio.to_thread.run_sync(..., abandon_on_cancel=True)`: on timeout the run stops waiting for
it and the thread finishes (or not) in the background; its result is discarded. Either way the
attempt fails with `ComponentTimeoutError`, a `TimeoutError`, so the default retry rules retry
it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from .errors import PipelineRuntimeError

T = TypeVar("T")


class ComponentTimeoutError(PipelineRuntimeError, TimeoutError):
    """One attempt of a component call ran past the component's `timeout`."""

    def __init__(self, component: str, seconds: float, *, abandoned_thread: bool) -> None:
        self.seconds = seconds
        what = (
            "its worker thread was abandoned and may still be running"
            if abandoned_thread
            else "it was cancelled"
        )
        super().__init__(
            f"component '{component}' did not finish within its timeout of {seconds:g}s; "
            f"{what}. Raise `timeout` for this component if it needs longer",
            component=component,
        )


async def within(
    seconds: float | None,
    attempt: Callable[[], Awaitable[T]],
    *,
    component: str,
    in_thread: bool = False,
) -> T:
    """Await `attempt()`, cancelling it after `seconds` (None: no limit).

    Args:
        seconds: the time allowed.
        attempt: makes the call.
        component: the component's name, for the error.
        in_thread: the call runs a sync `run` in a worker thread (for the message).

    Raises:
        ComponentTimeoutError: the time ran out.
    """
    if seconds is None:
        return await attempt()
    with anyio.CancelScope(deadline=anyio.current_time() + seconds) as scope:
        return await attempt()
    # Reached only when the deadline cancelled the attempt (the scope swallowed it).
    assert scope.cancelled_caught
    raise ComponentTimeoutError(component, seconds, abandoned_thread=in_thread)
