"""Many runs of one pipeline, concurrently: one `BatchResult` per item, failures isolated.

This is the one machinery behind `Pipeline.run_batch` and `ragrun FILE --inputs`:

- Items are pulled from a sync or async iterable one at a time, and only when a run may start:
  at most `concurrency` runs are in flight and the source is not read while they are
  (backpressure), so a source of a million lines is never held in memory.
- Every item yields exactly one result and, when a `sink` listens, exactly one `run_finished`
  or `run_failed` event. An item that is not a mapping (or the JSON text of an object), or whose
  data does not fit the pipeline, fails alone without running; a failing run never touches the
  others. JSON text is read within bounds (size, depth, UTF-8: `inputs_json.py`), and the
  events of any run can always be written (`jsonl.py`), so no item's content can end the batch.
- Every event is stamped with its item's `index` and `line`.
- Results and events come as runs finish, or in item order with `ordered=True`: the events of
  a run are held back until every earlier run has ended. Held-back runs count: at most
  `2 * concurrency` runs are started and not yet handed out, so memory stays bounded even when
  one slow run holds the head of the line.
- After `max_failures` failed runs no new item is read; the runs in flight finish.

The pipeline warms up once, before the first run; a failing warm-up raises, since no run could
succeed.
"""

from __future__ import annotations

import os
import random
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import PipelineInputError, PipelineRuntimeError
from .events import ErrorInfo, Origin, RunFailed, message_of
from .executor import Run, warm_up
from .inputs_json import parse_object
from .reorder import InOrder, in_order
from .suggest import did_you_mean

if TYPE_CHECKING:
    from .pipeline import Pipeline

ENDINGS = frozenset({"run_finished", "run_failed"})
"""The events that end a run: each item gets exactly one of them."""

SUMMARY_EVENTS = frozenset({"run_started", "component_failed", *ENDINGS})
"""The events a batch reports unless `verbose`: one summary line per input, plus retries."""


def keeps(event: Any, verbose: bool) -> bool:
    """Whether a batch reports `event`: every event when verbose, else `SUMMARY_EVENTS`."""
    return verbose or event.event in SUMMARY_EVENTS


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch, with where it came from."""

    data: Any
    """The run's data: a mapping (nested or flat), or the JSON text of an object."""
    line: int | None = None
    """Its line in an inputs file (counted from 1), stamped on its events."""
    index: int | None = None
    """Its position in the batch; by default the order in which it was read, from 0."""
    file: str | None = None
    """The file that held it (one file per item, `--inputs GLOB`), stamped on its events."""


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
    line: int | None = None
    """The item's line in its inputs file, when it has one."""


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (see `run_batch`)."""

    concurrency: int = 8
    ordered: bool = False
    include_outputs_from: tuple[str, ...] = ()
    verbose: bool = False
    max_failures: int | None = None
    base_inputs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")


async def run_batch(
    p: Pipeline,
    items: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int = 8,
    ordered: bool = False,
    include_outputs_from: Iterable[str] = (),
    sink: Callable[[Any], None] | None = None,
    verbose: bool = False,
    max_failures: int | None = None,
    base_inputs: Mapping[str, Any] | None = None,
) -> AsyncGenerator[BatchResult, None]:
    """Run `p` once per item, `concurrency` runs at a time, yielding one result per item.

    Close the iterator in the task that iterates it (`contextlib.aclosing`) if you may stop
    early; stopping cancels the runs in flight.

    Args:
        p: the pipeline.
        items: a sync or async iterable; each item is a run's data (a mapping, or the JSON
            text of an object), a `(line, data)` pair, or a `BatchItem`. A sync iterable is
            read on the event loop, so it must not block: give an async one for slow sources.
        concurrency: runs in flight at once; the source is not read while they are.
        ordered: results and events in item order rather than as runs finish.
        include_outputs_from: components whose every output each result includes.
        sink: called with the events of every run, on the event loop's thread; an exception
            it raises ends the whole batch and is raised here.
        verbose: send every event to `sink`, not only `run_started`, `component_failed`,
            `run_finished` and `run_failed`.
        max_failures: stop reading new items after this many failed runs.
        base_inputs: data laid under every item's own data.

    Raises:
        PipelineInputError: `include_outputs_from` names an unknown component.
        PipelineRuntimeError: the pipeline's warm-up failed (nothing ran).
    """
    options = BatchOptions(
        concurrency,
        ordered,
        tuple(include_outputs_from),
        verbose,
        max_failures,
        dict(base_inputs or {}),
    )
    _check_names(p, options.include_outputs_from)
    await warm_up_for_batch(p)
    batch = _Batch(p, options, sink)
    send, receive = anyio.create_memory_object_stream[tuple[int, BatchResult]]()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(batch.feed, items, send)
            async for result in batch.results(receive):
                yield result
    except BaseExceptionGroup as group:
        failure = _sink_failure(group)
        if failure is None:
            raise
        raise failure.error from None


async def warm_up_for_batch(p: Pipeline) -> None:
    """Warm `p` up once before a batch's first run (later calls return at once).

    Raises:
        PipelineRuntimeError: a component's warm-up failed, so no run could succeed.
    """
    try:
        await warm_up(p)
    except Exception as exc:
        message = f"warming up the pipeline failed: {type(exc).__name__}: {message_of(exc)}"
        raise PipelineRuntimeError(message) from exc


class _SinkFailure(BaseException):
    """The sink raised: a BaseException so no run mistakes it for its own failure."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _sink_failure(group: BaseExceptionGroup) -> _SinkFailure | None:
    for exc in group.exceptions:
        found = _sink_failure(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, _SinkFailure):
            return found
    return None


class _Batch:
    """The state of one batch: slots, failures, the order in which events go out."""

    def __init__(self, p: Pipeline, options: BatchOptions, sink: Callable[[Any], None] | None):
        self.p = p
        self.options = options
        self.sink = sink
        self.slots = anyio.Semaphore(options.concurrency)
        self.window = anyio.Semaphore(2 * options.concurrency) if options.ordered else None
        self.failures = 0
        self.stopped = False
        self._reading: anyio.CancelScope | None = None
        self._order = InOrder(self._emit) if options.ordered else None
        # Run ids as random as `executor.new_run_id`'s, without a syscall per run: `uuid4` reads
        # os.urandom, which lets a busy worker thread take the GIL at each call.
        self._ids = random.Random(os.urandom(16))

    def new_run_id(self) -> str:
        """A random 12-hex-digit run id."""
        return f"{self._ids.getrandbits(48):012x}"

    # -- reading -----------------------------------------------------------------------------

    async def feed(
        self, items: Iterable[Any] | AsyncIterable[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        """Start one run per item, claiming a slot before reading each item (backpressure)."""
        own = None if isinstance(items, AsyncIterable) else _from_sync(items)
        source = own if own is not None else aiter(cast(AsyncIterable[Any], items))
        try:
            with send:
                async with anyio.create_task_group() as runs:
                    seq = 0
                    while await self._claim():
                        item = await self._next(source)
                        if item is None:
                            self._unclaim()
                            break
                        runs.start_soon(self._run_one, seq, item, send.clone())
                        seq += 1
        finally:
            if own is not None:  # our own wrapper; the caller's iterator stays open
                with anyio.CancelScope(shield=True):
                    await own.aclose()

    async def _claim(self) -> bool:
        if self.window is not None:
            await self.window.acquire()
        await self.slots.acquire()
        if self.stopped:
            self._unclaim()
            return False
        return True

    def _unclaim(self) -> None:
        self.slots.release()
        if self.window is not None:
            self.window.release()

    async def _next(self, source: AsyncIterator[Any]) -> BatchItem | None:
        """The next item, or None at the end (or once stopped while waiting for it)."""
        with anyio.CancelScope() as scope:
            self._reading = scope
            try:
                return _as_item(await source.__anext__())
            except StopAsyncIteration:
                return None
            finally:
                self._reading = None
        return None  # cancelled by `_stop`

    def _stop(self) -> None:
        self.stopped = True
        if self._reading is not None:
            self._reading.cancel()

    # -- running -----------------------------------------------------------------------------

    async def _run_one(self, seq: int, item: BatchItem, send: MemoryObjectSendStream[Any]) -> None:
        """One isolated run: any exception becomes a failed result, never the batch's."""
        index = seq if item.index is None else item.index
        run_id = self.new_run_id()
        events = _RunEvents(self, seq) if self.sink is not None else None
        try:
            data = _data_of(item, index, self.options.base_inputs)
            run = Run(
                self.p,
                data,
                include_outputs_from=self.options.include_outputs_from,
                verbose=self.options.verbose,
                run_id=run_id,
                sink=events,
                origin=Origin(index, item.line, item.file),
                kinds=None if self.options.verbose else SUMMARY_EVENTS,
            )
            outputs = await run.execute()
            result = BatchResult(index, True, outputs, None, run_id, item.line)
        except Exception as exc:
            result = BatchResult(index, False, None, exc, run_id, item.line)
            if events is not None and not events.ended:  # failed before the run could say so
                events(_failed(run_id, index, item, exc))
        if not result.ok:
            self.failures += 1
            if self.options.max_failures is not None and self.failures >= self.options.max_failures:
                self._stop()
        try:
            with send:
                await send.send((seq, result))  # waits while the consumer is behind
        finally:
            self.slots.release()

    # -- handing out ---------------------------------------------------------------------------

    def deliver(self, seq: int, event: Any) -> None:
        """Pass one run's event on, now or (ordered) once every earlier run has ended."""
        if not keeps(event, self.options.verbose):
            return
        if self._order is None:
            self._emit(event)
        else:
            self._order.add(seq, event, event.event in ENDINGS)

    def _emit(self, event: Any) -> None:
        assert self.sink is not None
        try:
            self.sink(event)
        except Exception as exc:
            raise _SinkFailure(exc) from exc

    async def results(
        self, receive: MemoryObjectReceiveStream[tuple[int, BatchResult]]
    ) -> AsyncIterator[BatchResult]:
        """The results as runs finish, or in item order (each frees a window place)."""
        with receive:
            if self.window is None:
                async for _, result in receive:
                    yield result
                return
            async for result in in_order(receive):
                self.window.release()
                yield result


def _failed(run_id: str, index: int, item: BatchItem, exc: Exception) -> RunFailed:
    where = Origin(index, item.line, item.file).stamp()
    return RunFailed(run=run_id, t=0.0, component=None, error=ErrorInfo.of(exc), **where)


class _RunEvents:
    """The sink of one run: notes whether the run's ending was told, passes events on."""

    def __init__(self, batch: _Batch, seq: int) -> None:
        self._batch = batch
        self._seq = seq
        self.ended = False

    def __call__(self, event: Any) -> None:
        if event.event in ENDINGS:
            self.ended = True
        self._batch.deliver(self._seq, event)


# -- items ---------------------------------------------------------------------------------------


async def _from_sync(items: Iterable[Any]) -> AsyncGenerator[Any, None]:
    for item in items:
        yield item


def _as_item(raw: Any) -> BatchItem:
    if isinstance(raw, BatchItem):
        return raw
    if isinstance(raw, tuple) and len(raw) == 2 and isinstance(raw[0], int):
        return BatchItem(raw[1], line=raw[0])
    return BatchItem(raw)


def _data_of(item: BatchItem, index: int, base: Mapping[str, Any]) -> Mapping[str, Any]:
    """The run's data: the item's mapping (or parsed JSON object) laid over `base`.

    Raises:
        PipelineInputError: the item is not a mapping, or its text not a JSON object.
    """
    data = item.data
    if isinstance(data, Exception):  # the item could not even be read (InputFiles)
        raise data
    if item.file is not None:
        where = item.file
    else:
        where = f"line {item.line}" if item.line is not None else f"item {index}"
    if isinstance(data, str | bytes | bytearray | memoryview):
        data = parse_object(data, where)
    elif not isinstance(data, Mapping):
        kind = type(data).__name__
        raise PipelineInputError(f"{where}: expected a mapping of inputs, found {kind}")
    return {**base, **data} if base else data


def _check_names(p: Pipeline, names: tuple[str, ...]) -> None:
    for name in names:
        if name not in p.nodes:
            hint = did_you_mean(name, p.nodes)
            raise PipelineInputError(f"include_outputs_from: no component named '{name}'.{hint}")
