"""One run of a pipeline: components start as soon as they are ready, concurrently, on anyio.

`run_once` returns the outputs; `stream` yields the run's events as they happen. Both build a
`Run`, which routes the data (`inputs.py`), keeps the scheduling state (`readiness.py`) and
calls each component through `invoke.py`:

- ready components start at once, up to `Pipeline.max_concurrency` in flight per run; one that
  is the only component to run is awaited in place (no task), and when nobody watches the
  events, a chain of sync components without policies runs in one worker-thread hop;
- the pipeline warms up once, before its first run (concurrent first runs share one warm-up);
- values go from component to component by reference, never copied;
- the first component to fail (after its retries) ends the run: the others are cancelled, a
  `run_failed` event is emitted and `run_once` raises `PipelineRuntimeError` naming it;
- a run that ends with components still waiting raises `PipelineStuckError` naming each one
  and the socket it waits on (only a graph with a cycle can get there).

Outputs are every output socket no connection consumes, shaped `{component: {socket: value}}`,
plus every output of the components named in `include_outputs_from`. With `outputs:` declared,
they are `{public_name: value}` instead (a public output whose branch was not taken is absent),
plus the `include_outputs_from` components under their names.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from .errors import PipelineInputError, PipelineRuntimeError, PipelineStuckError
from .events import (
    NOWHERE,
    ComponentFailed,
    ComponentFinished,
    ComponentSkipped,
    ComponentStarted,
    Emitter,
    ErrorInfo,
    Event,
    Origin,
    RunFailed,
    RunFinished,
    RunStarted,
    message_of,
)
from .inputs import route_inputs
from .invoke import (
    CallContext,
    call,
    in_thread,
    plain_loop_components,
    plain_sync_components,
    resources_for,
    run_plain,
)
from .readiness import RunState, Step
from .suggest import did_you_mean

if TYPE_CHECKING:
    from .pipeline import Pipeline


COMPONENT_EVENTS = ("component_started", "component_finished", "chunk")
"""Events about a component's call itself; a run whose sink keeps none of them takes the fast
paths (components in place, sync chains in one thread)."""


def new_run_id() -> str:
    """A short random run id."""
    return os.urandom(6).hex()


async def run_once(
    p: Pipeline,
    data: Mapping[str, Any],
    include_outputs_from: Iterable[str] = (),
    *,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run `p` once on `data` and return its outputs.

    Raises:
        PipelineInputError: `data` does not fit the pipeline's inputs.
        PipelineRuntimeError: a component failed (chained to its exception).
        PipelineStuckError: components were left waiting.
    """
    run = Run(p, data, include_outputs_from=include_outputs_from, run_id=run_id)
    return await run.execute()


async def stream(
    p: Pipeline,
    data: Mapping[str, Any],
    include_outputs_from: Iterable[str] = (),
    verbose: bool = False,
    run_id: str | None = None,
) -> AsyncIterator[Event]:
    """Run `p` once, yielding its events as they happen.

    The last event is `run_finished` or `run_failed`; a failed run does not raise here. Bad
    `data` raises `PipelineInputError` before the first event. Close the iterator in the task
    that iterates it (`async with contextlib.aclosing(p.stream(data)) as events:`) when you
    may stop early; stopping cancels the run.
    """
    send, receive = anyio.create_memory_object_stream[Any](math.inf)

    def sink(event: Any) -> None:
        try:
            send.send_nowait(event)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the consumer stopped listening; the run is being cancelled

    run = Run(
        p,
        data,
        include_outputs_from=include_outputs_from,
        verbose=verbose,
        run_id=run_id,
        sink=sink,
    )
    unexpected: list[BaseException] = []

    async def drive() -> None:
        with send:
            try:
                await run.execute()
            except PipelineRuntimeError:
                pass  # already reported by the run_failed event
            except Exception as exc:  # a bug: re-raised once the events are out
                unexpected.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(drive)
        try:
            with receive:
                async for event in receive:
                    yield event
        except GeneratorExit:  # the consumer closed the iterator: stop the run, quietly
            tg.cancel_scope.cancel()
            return
    if unexpected:
        raise unexpected[0]


async def warm_up(p: Pipeline) -> None:
    """Warm `p` up once (in a worker thread); concurrent callers wait for the one warm-up."""
    if p.warmed_up:  # the common case, without even a lock
        return
    async with resources_for(p).warm_up_lock:
        await p.warm_up_async()


class Run:
    """One execution of a pipeline: routed inputs, scheduling state, collected outputs.

    Args:
        p: the pipeline.
        data: the run's data (nested or flat, see `inputs.py`).
        include_outputs_from: components whose every output is returned.
        verbose: emit `component_started` events with each component's inputs.
        run_id: the run's id (a random one by default).
        sink: receives each event; None when nobody listens (events are not even built).
        origin: where this run's batch item came from, stamped on its events.
        kinds: the event kinds `sink` keeps (None: all); see `Emitter`.

    Raises:
        PipelineInputError: bad `data` or `include_outputs_from` (before anything runs).
    """

    def __init__(
        self,
        p: Pipeline,
        data: Mapping[str, Any],
        *,
        include_outputs_from: Iterable[str] = (),
        verbose: bool = False,
        run_id: str | None = None,
        sink: Callable[[Any], None] | None = None,
        origin: Origin = NOWHERE,
        kinds: frozenset[str] | None = None,
    ) -> None:
        self.pipeline = p
        self.graph = p.graph()
        self.data = data
        self.include = _checked_include(p, include_outputs_from)
        self.state = RunState(self.graph, route_inputs(p, data))
        self.verbose = verbose
        self.emit = Emitter(run_id or new_run_id(), sink, origin=origin, kinds=kinds)
        self.run_id = self.emit.run_id
        self._public = _public_by_component(p)
        self._collected: dict[str, dict[str, Any]] = {}
        self._public_values: dict[str, Any] = {}
        self._failure: tuple[str, Exception] | None = None
        self._in_flight = 0
        self._tg: TaskGroup | None = None  # opened once two components may run at once
        self._limiter: anyio.CapacityLimiter | None = None

    async def execute(self) -> dict[str, Any]:
        """Run every component that can run; return the outputs or raise (see module doc)."""
        p = self.pipeline
        if self.emit.enabled:
            self.emit(RunStarted, pipeline=str(p.metadata.get("name", "")), inputs=dict(self.data))
        resources = resources_for(p)
        try:
            await warm_up(p)
        except Exception as exc:
            message = f"warming up the pipeline failed: {_describe(exc)}"
            raise self._fail(None, exc, message) from exc
        self._ctx = CallContext(self.run_id, self.emit, resources)
        # Fast paths skip per-component events; a failure there still emits component_failed.
        watched = any(map(self.emit.wants, COMPONENT_EVENTS))
        self._chainable = frozenset() if watched else plain_sync_components(self.graph)
        self._on_loop = frozenset() if watched else plain_loop_components(self.graph)
        await self._schedule()
        if self._failure is not None:
            name, error = self._failure
            node = self.graph.nodes[name]
            message = f"component '{name}' ({node.class_name}) failed: {_describe(error)}"
            raise self._fail(name, error, message) from error
        if self.state.unfinished():
            raise self._stuck()
        outputs = self._outputs()
        self.emit(RunFinished, outputs=outputs)
        return outputs

    # -- scheduling ----------------------------------------------------------------------------
    #
    # A component that is the only one to run is awaited in place: a chain costs no task, no
    # limiter and no task group. Tasks start only when several components are ready at once,
    # or one becomes ready while others are in flight (`_in_flight` counts started tasks).

    async def _schedule(self) -> None:
        step = await self._inline(self.state.start())
        if step is None or not step.ready:
            return
        self._limiter = anyio.CapacityLimiter(self.pipeline.max_concurrency)
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._spawn(step.ready)

    async def _inline(self, step: Step | None) -> Step | None:
        """Run what `step` made ready in place, while that is a lone component.

        Returns the first step that needs tasks (several ready, or others in flight), or None
        once the run failed.
        """
        while step is not None:
            for skip in step.skipped:
                self.emit(ComponentSkipped, component=skip.component, reason=skip.reason)
            if len(step.ready) != 1 or self._in_flight:
                return step
            name = step.ready[0]
            if name in self._on_loop:
                step = self._run_here(name)
            elif self._chains(name):
                step = await self._segment(name)
            else:
                step = await self._run(name)
        return None

    def _spawn(self, names: list[str]) -> None:
        assert self._tg is not None
        for name in names:
            self._in_flight += 1
            self._tg.start_soon(self._component, name, name=f"ragrun:{name}")

    async def _component(self, name: str) -> None:
        assert self._limiter is not None
        async with self._limiter:
            step = await self._run(name)
        self._in_flight -= 1
        step = await self._inline(step)
        if step is not None:
            self._spawn(step.ready)

    async def _run(self, name: str) -> Step | None:
        """Call one component; returns what its outputs made ready (None when it failed)."""
        node = self.graph.nodes[name]
        inputs = self.state.inputs_for(name)
        watched = self.emit.wants("component_finished")
        if watched:
            if self.verbose:
                self.emit(ComponentStarted, component=name, inputs=inputs)
            started = time.perf_counter()
        try:
            outputs = await call(node, inputs, self._ctx)
        except Exception as exc:
            self._failed(name, exc)
            return None
        if watched:
            duration = round(time.perf_counter() - started, 6)
            self.emit(ComponentFinished, component=name, duration=duration, outputs=outputs)
        return self._finished(name, outputs)

    def _run_here(self, name: str) -> Step | None:
        """Call a plain component that runs on the loop, in place: no task, no thread, no await."""
        try:
            outputs = run_plain(self.graph.nodes[name], self.state.inputs_for(name))
        except Exception as exc:
            self._fast_path_failed(name, exc)
            return None
        return self._finished(name, outputs)

    def _fast_path_failed(self, name: str, exc: Exception) -> None:
        """What `call` would report for a plain component's one failed attempt, then fail."""
        error = ErrorInfo.of(exc)
        self.emit(ComponentFailed, component=name, attempt=1, error=error, will_retry=False)
        self._failed(name, exc)

    def _finished(self, name: str, outputs: dict[str, Any]) -> Step:
        self._collect(name, outputs)
        return self.state.finish(name, outputs)

    def _failed(self, name: str, exc: Exception) -> None:
        if self._failure is None:
            self._failure = (name, exc)
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    # -- sync segments -------------------------------------------------------------------------
    #
    # A thread hop costs far more than a trivial component. When a sync component runs alone and
    # nobody watches the events, its worker thread goes on with the next component while that is
    # the only one made ready and is sync too: a chain of sync components costs one hop. The
    # thread may touch the run's state because nothing else runs meanwhile: the loop is only
    # waiting for it, and nothing starts a component but a finished one.

    def _chains(self, name: str) -> bool:
        """Whether `name` may run in a sync segment (no policy, sync, no event listener)."""
        return name in self._chainable

    async def _segment(self, name: str) -> Step | None:
        """Run `name` and the sync components that follow it alone, in one worker thread."""
        stop = threading.Event()  # the run was cancelled: the thread ends after its component
        try:
            step, failure = await in_thread(lambda: self._segment_in_thread(name, stop), self._ctx)
        finally:
            stop.set()
        if failure is not None:
            self._fast_path_failed(*failure)
        return step

    def _segment_in_thread(
        self, name: str, stop: threading.Event
    ) -> tuple[Step | None, tuple[str, Exception] | None]:
        while True:
            node = self.graph.nodes[name]
            try:
                outputs = run_plain(node, self.state.inputs_for(name))
            except Exception as exc:
                return None, (name, exc)
            step = self._finished(name, outputs)
            if stop.is_set() or step.skipped or len(step.ready) != 1:
                return step, None
            name = step.ready[0]
            if not self._chains(name):
                return step, None

    # -- results -------------------------------------------------------------------------------

    def _collect(self, name: str, outputs: dict[str, Any]) -> None:
        for public, socket in self._public.get(name, ()):
            if socket in outputs:
                self._public_values[public] = outputs[socket]
        if name in self.include:
            self._collected[name] = dict(outputs)
        elif not self.pipeline.outputs:
            rest = {k: v for k, v in outputs.items() if not self.graph.is_consumed(name, k)}
            if rest:
                self._collected[name] = rest

    def _outputs(self) -> dict[str, Any]:
        if not self.pipeline.outputs:
            return self._collected
        return {**self._public_values, **self._collected}

    # -- failures ------------------------------------------------------------------------------

    def _fail(self, component: str | None, exc: Exception, message: str) -> PipelineRuntimeError:
        self.emit(RunFailed, component=component, error=ErrorInfo.of(exc))
        return PipelineRuntimeError(message, component=component, run_id=self.run_id)

    def _stuck(self) -> PipelineStuckError:
        waits = self.state.waits()
        lines = [
            f"  '{w.component}' waits on '{w.component}.{w.socket}' for "
            f"{', '.join(w.senders) or 'a sender'}"
            for w in waits
        ]
        message = f"run {self.run_id} is stuck: no component can run, but some still wait:\n"
        component = waits[0].component if waits else None
        error = PipelineStuckError(
            message + "\n".join(lines), component=component, run_id=self.run_id
        )
        self.emit(RunFailed, component=component, error=ErrorInfo.of(error))
        return error


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {message_of(exc)}"


def _checked_include(p: Pipeline, names: Iterable[str]) -> frozenset[str]:
    names = frozenset([names] if isinstance(names, str) else names)
    problems = [
        f"include_outputs_from: no component named '{n}'.{did_you_mean(n, p.nodes)}"
        for n in sorted(names)
        if n not in p.nodes
    ]
    problems += [
        f"include_outputs_from: '{n}' is also a public output name; rename one of them"
        for n in sorted(names)
        if n in p.outputs
    ]
    if problems:
        raise PipelineInputError("\n".join(problems))
    return names


def _public_by_component(p: Pipeline) -> dict[str, list[tuple[str, str]]]:
    """Public outputs by the component that produces them: `{comp: [(public, socket)]}`."""
    by: dict[str, list[tuple[str, str]]] = {}
    for public, address in p.outputs.items():
        component, _, socket = address.partition(".")
        by.setdefault(component, []).append((public, socket))
    return by
