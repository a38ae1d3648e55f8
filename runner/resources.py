"""What the run policies share across runs: one `ComponentResources` per component of a pipeline.

A pipeline's concurrency limiters, rate limiters, circuit breakers, micro-batchers and process
pools must be shared by all its runs (a rate limit counts every run's calls, whichever event
loop each run is on), so they live in one `PipelineResources` per pipeline
(`pipeline_resources(pipeline)`), made on first use and closed with the pipeline
(`close_resources`, which stops process pools).

`ComponentResources.call` is the one place the policies are applied to a call, in this order,
each attempt: circuit breaker → concurrency limit → rate limit → the call under the timeout; the
retry loop wraps the whole attempt. With micro-batching each caller's attempt joins a batch,
and the breaker, concurrency limit, rate limit and timeout apply to each batch call while
retries stay per caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from .breaker import Breaker
from .clock import SYSTEM_CLOCK, Clock
from .component import has_run_async, runs_on_loop
from .loopbound import PerLoop
from .microbatch import MicroBatcher, call_run_batch, has_run_batch
from .policy import ComponentPolicy, RateLimit
from .process_pool import ProcessPool
from .ratelimit import RateLimiter
from .retry import OnFailure, class_names, retry_after, retry_call, status_code
from .timeouts import within

if TYPE_CHECKING:
    from .pipeline import Node, Pipeline

Outputs = dict[str, Any]
CallOnce = Callable[[dict[str, Any]], Awaitable[Outputs]]

_ATTR = "_ragrun_resources"


class ComponentResources:
    """The shared policy state of one component, and the call path that applies it.

    Args:
        node: the component (its name, instance and policy).
        clock: where backoff, rate-limit, cooldown and batch-window time is read and waited.
    """

    def __init__(self, node: Node, clock: Clock = SYSTEM_CLOCK) -> None:
        policy: ComponentPolicy = node.policy
        self.node = node
        self.policy = policy
        self.clock = clock
        self.breaker = (
            Breaker(policy.circuit_breaker, node.name, clock) if policy.circuit_breaker else None
        )
        # Without a rate_limit, a limiter with no limits still serves as the gate a 429's
        # Retry-After closes for every waiting call.
        wants_gate = policy.rate_limit is not None or policy.retry is not None
        self.rate = RateLimiter(policy.rate_limit or RateLimit(), clock) if wants_gate else None
        limit = policy.concurrency
        self._limiter = PerLoop(lambda: anyio.CapacityLimiter(limit)) if limit else None
        self._batcher = (
            PerLoop(self._new_batcher)
            if policy.batch is not None and has_run_batch(node.instance)
            else None
        )
        self.pool = (
            ProcessPool(node.instance, component=node.name, processes=policy.processes)
            if policy.executor == "process"
            else None
        )
        self.is_async = self.pool is None and has_run_async(node.instance)
        """Whether a single call awaits `run_async` on the loop (looked up once, not per call)."""
        self.on_loop = self.pool is None and not self.is_async and calls_on_loop(node)
        """Whether a single call runs the sync `run` on the event loop (`executor: loop`)."""
        self.plain = is_plain(node)
        """Whether no policy applies at all, so a call is just the component's own call."""

    @property
    def _direct(self) -> bool:
        return (
            self.breaker is None
            and self._limiter is None
            and self.rate is None
            and self.policy.timeout is None
        )

    def _new_batcher(self) -> MicroBatcher:
        assert self.policy.batch is not None
        return MicroBatcher(
            self.policy.batch,
            lambda calls: self.limited(self._run_batch, calls),
            component=self.node.name,
            clock=self.clock,
        )

    async def _run_batch(self, calls: list[dict[str, Any]]) -> list[Outputs]:
        return await call_run_batch(self.node.instance, calls)

    @property
    def batcher(self) -> MicroBatcher | None:
        """The running loop's micro-batcher, when the component is micro-batched."""
        return self._batcher.get() if self._batcher is not None else None

    async def call(
        self, call_once: CallOnce, inputs: dict[str, Any], *, on_failure: OnFailure | None = None
    ) -> Outputs:
        """One component call under every policy; `call_once(inputs)` makes a single attempt.

        Raises:
            Exception: the last attempt's error once retries are spent (or not allowed).
        """
        batcher = self.batcher

        async def attempt(number: int) -> Outputs:
            if batcher is not None:
                return await batcher.submit(inputs)
            if self._direct:  # no policy set: skip the layers that would do nothing
                return await call_once(inputs)
            return await self.limited(call_once, inputs)

        return await retry_call(attempt, self.policy.retry, on_failure=on_failure, clock=self.clock)

    async def limited(self, fn: Callable[[Any], Awaitable[Any]], arg: Any) -> Any:
        """`fn(arg)` under the circuit breaker, concurrency limit, rate limit and timeout."""
        limiter = self._limiter.get() if self._limiter is not None else None
        with self.breaker.guard() if self.breaker is not None else contextlib.nullcontext():
            return await self._admitted(fn, arg, limiter)

    async def _admitted(
        self, fn: Callable[[Any], Awaitable[Any]], arg: Any, limiter: anyio.CapacityLimiter | None
    ) -> Any:
        async with limiter if limiter is not None else contextlib.nullcontext():
            if self.rate is not None:
                await self.rate.acquire()
            try:
                result = await within(
                    self.policy.timeout,
                    lambda: fn(arg),
                    component=self.node.name,
                    in_thread=self.in_thread,
                )
            except Exception as exc:
                self._on_error(exc)
                raise
        if self.rate is not None:
            for outputs in result if isinstance(result, list) else [result]:
                self.rate.charge_outputs(outputs)
        return result

    @property
    def in_thread(self) -> bool:
        """Whether a single call runs a sync `run` in a worker thread (for timeout messages)."""
        return self.pool is None and not self.is_async and not self.on_loop

    def _on_error(self, exc: Exception) -> None:
        throttled = status_code(exc) == 429 or "RateLimitError" in class_names(exc)
        if self.rate is None or not throttled:
            return
        wait = retry_after(exc)
        if wait:
            self.rate.pause(wait)

    def close(self) -> None:
        """Stop the process pool, if any."""
        if self.pool is not None:
            self.pool.close()


def calls_on_loop(node: Node) -> bool:
    """Whether `node`'s sync `run` is called on the event loop rather than in a worker thread.

    `executor: loop` asks for it; `auto` chooses it for components that declare
    `ragrun_on_loop = True`, unless a `timeout` is set (only a thread can be given up on).
    """
    executor = node.policy.executor
    if executor == "loop":
        return True
    return executor == "auto" and node.policy.timeout is None and runs_on_loop(node.instance)


def is_plain(node: Node) -> bool:
    """True when no run policy applies to `node`, so a call is just the component's own call."""
    policy = node.policy
    batched = policy.batch is not None and has_run_batch(node.instance)
    return (
        policy.retry is None
        and policy.timeout is None
        and not policy.concurrency
        and policy.rate_limit is None
        and policy.circuit_breaker is None
        and policy.executor != "process"
        and not batched
    )


class PipelineResources:
    """The `ComponentResources` of every component of one pipeline, made on first use.

    Args:
        clock: the clock every policy uses (a `FakeClock` in tests).
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._by_name: dict[str, ComponentResources] = {}

    def of(self, node: Node) -> ComponentResources:
        """The resources of `node` (rebuilt if a different node now has its name)."""
        found = self._by_name.get(node.name)
        if found is None or found.node is not node:
            if found is not None:
                found.close()
            found = self._by_name[node.name] = ComponentResources(node, self.clock)
        return found

    def close(self) -> None:
        """Release everything that outlives a run (process pools); later calls start afresh."""
        resources, self._by_name = list(self._by_name.values()), {}
        for item in resources:
            item.close()


def pipeline_resources(pipeline: Pipeline) -> PipelineResources:
    """The pipeline's shared `PipelineResources`, made on first use."""
    found = getattr(pipeline, _ATTR, None)
    if found is None:
        found = PipelineResources()
        setattr(pipeline, _ATTR, found)
    return found


def use_resources(pipeline: Pipeline, resources: PipelineResources) -> None:
    """Give a pipeline its `PipelineResources` before its first run (tests pass a `FakeClock`)."""
    close_resources(pipeline)
    setattr(pipeline, _ATTR, resources)


def close_resources(pipeline: Pipeline) -> None:
    """Close the pipeline's resources (stops process pools); the next run makes new ones."""
    found = getattr(pipeline, _ATTR, None)
    if found is not None:
        found.close()
