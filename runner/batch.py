"""Many runs of one pipeline, concurrently: one `BatchResult` per item, failures isolated.

Each item is the data of one run. At most `concurrency` runs are in flight; results come out
as runs finish (or in item order with `ordered=True`). A run that fails yields a result with
`ok=False` and its error, and never affects the other runs. The pipeline warms up once, before
the first run; a failing warm-up raises, since no run could succeed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .errors import PipelineInputError
from .executor import new_run_id, run_once, warm_up

if TYPE_CHECKING:
    from .pipeline import Pipeline


@dataclass(frozen=True)
class BatchResult:
    """The result of one item's run."""

    index: int
    """The item's position in the batch, counted from 0."""
    ok: bool
    """True when the run finished; False when it failed (see `error`)."""
    outputs: dict[str, Any] | None = None
    """The run's outputs when it finished."""
    error: Exception | None = None
    """Why the run failed: usually a `PipelineRuntimeError` or `PipelineInputError`."""
    run_id: str = ""
    """The run's id, as stamped on its events."""


async def run_batch(
    p: Pipeline,
    items: Iterable[Mapping[str, Any]],
    *,
    concurrency: int = 8,
    ordered: bool = False,
    include_outputs_from: Iterable[str] = (),
) -> AsyncIterator[BatchResult]:
    """Run `p` once per item, `concurrency` runs at a time, yielding one result per item.

    Args:
        p: the pipeline.
        items: the data of each run (nested or flat, as for `Pipeline.run`).
        concurrency: runs in flight at once.
        ordered: yield results in item order rather than as runs finish.
        include_outputs_from: components whose every output each result includes.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    include = tuple(include_outputs_from)
    await warm_up(p)
    send, receive = anyio.create_memory_object_stream[BatchResult](concurrency)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_feed, p, items, include, concurrency, send)
        with receive:
            results = _in_order(receive) if ordered else receive
            async for result in results:
                yield result


async def _feed(
    p: Pipeline,
    items: Iterable[Mapping[str, Any]],
    include: tuple[str, ...],
    concurrency: int,
    send: MemoryObjectSendStream[BatchResult],
) -> None:
    """Start one run per item, waiting for a free slot before each (backpressure)."""
    slots = anyio.Semaphore(concurrency)
    with send:
        async with anyio.create_task_group() as runs:
            for index, item in enumerate(items):
                await slots.acquire()
                runs.start_soon(_run_one, p, index, item, include, send.clone(), slots)


async def _run_one(
    p: Pipeline,
    index: int,
    item: Mapping[str, Any],
    include: tuple[str, ...],
    send: MemoryObjectSendStream[BatchResult],
    slots: anyio.Semaphore,
) -> None:
    """One isolated run: any exception becomes a failed result, never the batch's."""
    run_id = new_run_id()
    try:
        if not isinstance(item, Mapping):
            raise PipelineInputError(
                f"item {index}: expected a mapping of inputs, found {type(item).__name__}"
            )
        outputs = await run_once(p, item, include, run_id=run_id)
        result = BatchResult(index, True, outputs=outputs, run_id=run_id)
    except Exception as exc:
        result = BatchResult(index, False, error=exc, run_id=run_id)
    try:
        with send:
            await send.send(result)  # waits while the consumer is behind
    finally:
        slots.release()


async def _in_order(results: AsyncIterator[BatchResult]) -> AsyncIterator[BatchResult]:
    """Re-emit results by index, holding early ones until those before them are out."""
    waiting: dict[int, BatchResult] = {}
    next_index = 0
    async for result in results:
        waiting[result.index] = result
        while next_index in waiting:
            yield waiting.pop(next_index)
            next_index += 1
