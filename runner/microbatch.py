"""Micro-batching: gather concurrent calls of one component from different runs into one batch call.

A component offers a batch form by defining `run_batch(calls: list[dict]) -> list[dict]` (or
`async def run_batch_async(calls)`), beside `run`: `calls[i]` is the keyword arguments one
`run` call would get and the result `i` is that call's output dict, in order. The engine uses
it only when the component's YAML sets `batch: {max_batch_size, max_wait_ms}`.

The first call that finds no open batch opens one and leads it: it waits up to `max_wait_ms`
for others to join, or less when the batch fills up to `max_batch_size`, then makes the batch
call and scatters the results back. While an earlier batch call of the component is still
running, an open batch stays open past its window (until that call ends or the batch is full):
its calls would only queue behind the running one, so they may as well gather. Under load this
keeps batches full instead of cutting them every `max_wait_ms`. A batch call that raises fails
every caller in it (each caller's retry policy then decides for itself). The leader finishes
its batch even when its own run is cancelled, so the other callers are never left waiting on a
batch nobody runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread

from .clock import SYSTEM_CLOCK, Clock
from .errors import PipelineRuntimeError
from .policy import MicroBatch

Outputs = dict[str, Any]
BatchCall = Callable[[list[dict[str, Any]]], Awaitable[list[Outputs]]]


def has_run_batch(instance: Any) -> bool:
    """True when a component offers `run_batch` or a coroutine `run_batch_async`."""
    return callable(getattr(instance, "run_batch", None)) or inspect.iscoroutinefunction(
        getattr(instance, "run_batch_async", None)
    )


async def call_run_batch(instance: Any, calls: list[dict[str, Any]]) -> list[Outputs]:
    """One batch call: await `run_batch_async`, or run `run_batch` in a worker thread."""
    run_async = getattr(instance, "run_batch_async", None)
    if inspect.iscoroutinefunction(run_async):
        return list(await run_async(calls))
    return list(await anyio.to_thread.run_sync(instance.run_batch, calls, abandon_on_cancel=True))


class _Batch:
    """Calls gathered so far, and how their batch call ended."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.closed = anyio.Event()
        self.done = anyio.Event()
        self.results: list[Outputs] | None = None
        self.error: Exception | None = None


class MicroBatcher:
    """Gathers calls of one component into batch calls (one batcher per event loop).

    Args:
        policy: the largest batch and the longest a batch stays open.
        call_batch: makes one batch call (the engine wraps it in the component's concurrency
            limit, rate limit and timeout).
        component: the component's name, for messages.
        clock: where the batch window is waited.
    """

    def __init__(
        self,
        policy: MicroBatch,
        call_batch: BatchCall,
        *,
        component: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.policy = policy
        self.component = component
        self._call_batch = call_batch
        self._clock = clock
        self._open: _Batch | None = None
        self._running = 0
        self._idle: anyio.Event | None = None
        self.batches = 0
        """Batch calls made so far."""
        self.calls = 0
        """Calls served so far, over all batches."""

    @property
    def open_size(self) -> int:
        """Calls waiting in the batch that is still open (0 when none is)."""
        return len(self._open.calls) if self._open is not None else 0

    async def submit(self, inputs: dict[str, Any]) -> Outputs:
        """Make one call through a batch; returns this call's outputs.

        Raises:
            Exception: whatever the batch call raised, for every caller of that batch.
        """
        batch, leader = self._open, False
        if batch is None:
            batch, leader = _Batch(), True
            self._open = batch
        index = len(batch.calls)
        batch.calls.append(inputs)
        if len(batch.calls) >= self.policy.max_batch_size:
            self._close(batch)
        if leader:
            with anyio.CancelScope(shield=True):
                await self._lead(batch)
        else:
            await batch.done.wait()
        if batch.error is not None:
            raise batch.error
        assert batch.results is not None
        return batch.results[index]

    def _close(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None
        batch.closed.set()

    async def _lead(self, batch: _Batch) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._window, batch)
            await batch.closed.wait()
            tg.cancel_scope.cancel()
        self.batches += 1
        self.calls += len(batch.calls)
        self._running += 1
        try:
            batch.results = self._checked(await self._call_batch(batch.calls), len(batch.calls))
        except Exception as exc:
            batch.error = exc
        finally:
            self._running -= 1
            if self._running == 0 and self._idle is not None:
                self._idle.set()
                self._idle = None
            if batch.results is None and batch.error is None:
                batch.error = PipelineRuntimeError(
                    f"the batch call of '{self.component}' ended without results",
                    component=self.component,
                )
            batch.done.set()

    async def _window(self, batch: _Batch) -> None:
        # Even with max_wait_ms 0 the sleep is a checkpoint, so calls already scheduled join.
        await self._clock.sleep(self.policy.max_wait_ms / 1000)
        while self._running and self._open is batch:  # an earlier batch call still runs
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()
        self._close(batch)

    def _checked(self, results: list[Outputs], expected: int) -> list[Outputs]:
        if len(results) != expected:
            raise PipelineRuntimeError(
                f"'{self.component}'.run_batch returned {len(results)} results for {expected} "
                "calls; it must return one output dict per call, in the order of the calls",
                component=self.component,
            )
        for result in results:
            if not isinstance(result, dict):
                raise PipelineRuntimeError(
                    f"'{self.component}'.run_batch returned a {type(result).__name__} among its "
                    "results; each result must be the output dict of one call",
                    component=self.component,
                )
        return results
