"""One component call: await `run_async` on the event loop, run `run` in a worker thread, on
the loop itself (`executor: loop`) or in a worker process, under the component's run policies.

`call` hands one `_attempt` to the component's `ComponentResources` (`resources.py`), which
applies the policies in one place, each attempt: circuit breaker → concurrency limit → rate
limit → the call (single, or gathered into a micro-batch) under the timeout, with the retry
loop around it. Every failed attempt becomes a `component_failed` event with its `attempt` and
`will_retry` (one `_report_failure`). A sync `run` is started with `abandon_on_cancel`, so a
timeout or a cancelled run stops waiting for its thread instead of blocking on it.

A component with no policy at all skips those layers: one attempt, straight to its call, its
failure still reported once. Such a sync component may also be chained with the next one in
the same worker thread by the executor (`plain_sync_components`, `run_plain`).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from .component import has_run_async
from .events import Chunk, ComponentFailed, Emitter, ErrorInfo
from .resources import (
    ComponentResources,
    PipelineResources,
    calls_on_loop,
    is_plain,
    pipeline_resources,
)
from .retry import AttemptFailure
from .streaming import streaming_to

if TYPE_CHECKING:
    from .chat import StreamingChunk
    from .graph import Graph
    from .pipeline import Node, Pipeline

T = TypeVar("T")

WORKER_THREADS = 40
"""Sync `run` calls of one pipeline in flight at once (anyio's own default)."""


@dataclass
class Resources:
    """What every run of one pipeline shares on one event loop."""

    threads: anyio.CapacityLimiter
    """Worker threads for sync `run` calls, shared by every run of the pipeline."""
    warm_up_lock: anyio.Lock
    """Held while the pipeline warms up, so concurrent first runs warm it once."""
    policies: PipelineResources
    """The run policies' state (limiters, breakers, batchers, process pools), one per
    pipeline whatever the loop, so every run of the pipeline shares it."""


# anyio primitives belong to one event loop, and `Pipeline.run` starts a new loop each time:
# keep one `Resources` per pipeline per loop.
_RESOURCES: RunVar[weakref.WeakKeyDictionary[Any, Resources]] = RunVar("ragrun_resources")


def resources_for(p: Pipeline) -> Resources:
    """The shared resources of `p` on the running event loop (created on first use)."""
    try:
        table = _RESOURCES.get()
    except LookupError:
        table = weakref.WeakKeyDictionary()
        _RESOURCES.set(table)
    resources = table.get(p)
    if resources is None:
        resources = table[p] = Resources(
            anyio.CapacityLimiter(WORKER_THREADS), anyio.Lock(), pipeline_resources(p)
        )
    return resources


@dataclass(frozen=True)
class CallContext:
    """What a component call needs from its run."""

    run_id: str
    emit: Emitter
    """Builds and sends this run's events: `emit(ComponentFailed, component=..., ...)`."""
    resources: Resources


async def call(node: Node, inputs: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    """Call `node` with `inputs` under its run policies and return its outputs.

    Raises:
        Exception: the last attempt's error (each failed attempt is a `component_failed`
            event), a TypeError when the component returned something other than a dict, or
            a `CircuitOpenError` while its circuit breaker is open.
    """
    shared = ctx.resources.policies.of(node)
    if shared.plain:  # no policy: one attempt, no layer in between (what retry_call would do)
        try:
            return await _attempt(node, inputs, ctx, shared)
        except Exception as exc:
            _report_failure(node, ctx, 1, exc, will_retry=False)
            raise

    def report(failure: AttemptFailure) -> None:
        _report_failure(node, ctx, failure.attempt, failure.error, will_retry=failure.will_retry)

    async def attempt(call_inputs: dict[str, Any]) -> dict[str, Any]:
        return await _attempt(node, call_inputs, ctx, shared)

    return await shared.call(attempt, inputs, on_failure=report)


def plain_sync_components(graph: Graph) -> frozenset[str]:
    """Components whose call is just their sync `run` in a worker thread: no policy, no pool.

    Such calls may be chained in one worker thread (see `executor.py`) when nobody watches
    the run's events (a `component_failed` event would then have nowhere to go). Computed
    once per graph, so a worker thread can ask without touching shared state.
    """
    found = _PLAIN_SYNC.get(graph)
    if found is None:
        found = _PLAIN_SYNC[graph] = frozenset(
            name
            for name, node in graph.nodes.items()
            if is_plain(node) and not has_run_async(node.instance)
        )
    return found


_PLAIN_SYNC: weakref.WeakKeyDictionary[Graph, frozenset[str]] = weakref.WeakKeyDictionary()


def plain_loop_components(graph: Graph) -> frozenset[str]:
    """The `plain_sync_components` whose `run` is called on the event loop (`calls_on_loop`).

    The executor calls them in place, without a task or a thread, when nobody watches the
    run's events; in a sync segment's worker thread they run there, like the others.
    """
    found = _PLAIN_LOOP.get(graph)
    if found is None:
        plain = plain_sync_components(graph)
        found = _PLAIN_LOOP[graph] = frozenset(
            name for name in plain if calls_on_loop(graph.nodes[name])
        )
    return found


_PLAIN_LOOP: weakref.WeakKeyDictionary[Graph, frozenset[str]] = weakref.WeakKeyDictionary()


def run_plain(node: Node, inputs: dict[str, Any]) -> dict[str, Any]:
    """Call the `run` of one of the `plain_sync_components` in the calling (worker) thread."""
    return checked(node, node.instance.run(**inputs))


async def in_thread(fn: Callable[[], T], ctx: CallContext) -> T:
    """`fn()` in one of the pipeline's worker threads; a cancelled caller stops waiting for it."""
    return await anyio.to_thread.run_sync(fn, limiter=ctx.resources.threads, abandon_on_cancel=True)


async def _attempt(
    node: Node, inputs: dict[str, Any], ctx: CallContext, shared: ComponentResources
) -> dict[str, Any]:
    """One try: on the loop for `run_async`, in a worker thread for `run`, or in the pool."""
    if ctx.emit.wants("chunk"):
        with streaming_to(node.name, functools.partial(_chunk_event, ctx.emit, node.name)):
            result = await _invoke(node.instance, inputs, ctx, shared)
    else:
        result = await _invoke(node.instance, inputs, ctx, shared)
    return checked(node, result)


async def _invoke(
    instance: Any, inputs: dict[str, Any], ctx: CallContext, shared: ComponentResources
) -> Any:
    if shared.pool is not None:
        return await shared.pool.call(inputs)
    if shared.is_async:
        return await instance.run_async(**inputs)
    if shared.on_loop:
        return instance.run(**inputs)
    return await in_thread(functools.partial(instance.run, **inputs), ctx)


def checked(node: Node, result: Any) -> dict[str, Any]:
    """`result`, once it is known to be a dict (what every `run` must return)."""
    if isinstance(result, dict):
        return result
    expected = ", ".join(node.sockets.outputs) or "no keys"
    raise TypeError(
        f"component '{node.name}' ({node.class_name}) returned "
        f"{type(result).__name__}; run must return a dict of its outputs ({expected})"
    )


def _report_failure(
    node: Node, ctx: CallContext, attempt: int, exc: BaseException, *, will_retry: bool
) -> None:
    """The one place a failed attempt becomes a `component_failed` event."""
    ctx.emit(
        ComponentFailed,
        component=node.name,
        attempt=attempt,
        error=ErrorInfo.of(exc),
        will_retry=will_retry,
    )


def _chunk_event(emit: Emitter, component: str, chunk: StreamingChunk) -> None:
    emit(Chunk, component=component, content=chunk.content, meta=chunk.meta or None)
