"""Run policies enforced by the engine on whole pipelines: events, timeouts, batches, processes."""

from __future__ import annotations

import os
import threading
from typing import Any

import anyio
import pytest

from ragrun import Pipeline, PipelineRuntimeError, component
from ragrun.breaker import CircuitOpenError
from ragrun.clock import FakeClock
from ragrun.policy import (
    CircuitBreaker,
    ComponentPolicy,
    MicroBatch,
    RateLimit,
    RetryPolicy,
)
from ragrun.resources import PipelineResources, close_resources, use_resources
from ragrun.timeouts import ComponentTimeoutError
from tests.runner.process_components import PidReporter

pytestmark = pytest.mark.anyio


@component
class Flaky:
    """Fails with the queued errors first, then echoes."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = list(errors)
        self.calls = 0

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(text=str)
    async def run_async(self, text: str) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"text": text}


def _pipeline(instance: Any, clock: FakeClock | None = None, **policy: Any) -> Pipeline:
    pipeline = Pipeline(metadata={"name": "policies"})
    pipeline.add_component("c", instance, policy=ComponentPolicy(**policy))
    use_resources(pipeline, PipelineResources(clock or FakeClock(auto_advance=True)))
    return pipeline


async def _events(pipeline: Pipeline, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [event.model_dump() async for event in pipeline.stream(data)]


async def test_each_failed_attempt_is_a_component_failed_event_then_the_retry_succeeds() -> None:
    flaky = Flaky([ConnectionError("reset"), TimeoutError("slow")])
    pipeline = _pipeline(flaky, retry=RetryPolicy(attempts=3))
    events = await _events(pipeline, {"text": "hi"})
    kinds = [e["event"] for e in events]
    assert kinds == [
        "run_started",
        "component_failed",
        "component_failed",
        "component_finished",
        "run_finished",
    ]
    failed = [(e["attempt"], e["error"]["type"], e["will_retry"]) for e in events[1:3]]
    assert failed == [(1, "ConnectionError", True), (2, "TimeoutError", True)]
    assert events[-1]["outputs"] == {"c": {"text": "hi"}}
    assert flaky.calls == 3


async def test_an_error_that_is_not_retried_is_reported_once_and_fails_the_run() -> None:
    pipeline = _pipeline(Flaky([ValueError("bad input")]), retry=RetryPolicy(attempts=3))
    events = await _events(pipeline, {"text": "hi"})
    assert [e["event"] for e in events] == ["run_started", "component_failed", "run_failed"]
    assert (events[1]["attempt"], events[1]["will_retry"]) == (1, False)
    assert events[2]["component"] == "c"


@component
class Blocking:
    """Sync: blocks its worker thread until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        self.release.wait()
        self.finished.set()
        return {"text": text}


async def test_a_sync_component_past_its_timeout_is_abandoned_and_the_run_fails() -> None:
    blocking = Blocking()
    pipeline = _pipeline(blocking, timeout=0.05)
    with pytest.raises(PipelineRuntimeError, match="did not finish within its timeout") as info:
        await pipeline.run_async({"text": "hi"})
    assert isinstance(info.value.__cause__, ComponentTimeoutError)
    assert "worker thread was abandoned" in str(info.value)
    assert not blocking.finished.is_set()
    blocking.release.set()
    assert await anyio.to_thread.run_sync(blocking.finished.wait, 10)


async def test_the_breaker_fails_later_runs_fast() -> None:
    flaky = Flaky([ConnectionError("down")] * 5)
    pipeline = _pipeline(flaky, circuit_breaker=CircuitBreaker(failures=1, cooldown=60))
    with pytest.raises(PipelineRuntimeError, match="ConnectionError"):
        await pipeline.run_async({"text": "a"})
    with pytest.raises(PipelineRuntimeError, match="circuit breaker") as info:
        await pipeline.run_async({"text": "b"})
    assert isinstance(info.value.__cause__, CircuitOpenError)
    assert flaky.calls == 1


async def test_a_rate_limit_holds_across_runs() -> None:
    clock = FakeClock()
    flaky = Flaky([])
    pipeline = _pipeline(flaky, clock, rate_limit=RateLimit(per_minute=2))
    async with anyio.create_task_group() as tg:
        for text in "abc":
            tg.start_soon(pipeline.run_async, {"text": text})
        await clock.wait_for_sleepers(1)
        assert flaky.calls == 2
        clock.advance(30)
    assert flaky.calls == 3


@component
class BatchDoubler:
    """Offers `run_batch`; records the size of each batch call."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    @component.output_types(y=int)
    def run(self, x: int) -> dict[str, Any]:
        raise AssertionError("a micro-batched component is called through run_batch")

    def run_batch(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.batch_sizes.append(len(calls))
        return [{"y": 2 * call["x"]} for call in calls]


async def test_concurrent_runs_are_gathered_into_batch_calls() -> None:
    doubler = BatchDoubler()
    # The window never closes on this clock: only full batches are called, whatever the timing.
    pipeline = _pipeline(doubler, FakeClock(), batch=MicroBatch(max_batch_size=5, max_wait_ms=10))
    results: dict[int, Any] = {}

    async def run(x: int) -> None:
        results[x] = await pipeline.run_async({"x": x})

    async with anyio.create_task_group() as tg:
        for x in range(20):
            tg.start_soon(run, x)
    assert doubler.batch_sizes == [5, 5, 5, 5]
    assert results == {x: {"c": {"y": 2 * x}} for x in range(20)}


async def test_a_process_component_runs_in_a_worker_process() -> None:
    pipeline = _pipeline(PidReporter(offset=1), executor="process", processes=1)
    try:
        first = await pipeline.run_async({"n": 3})
        second = await pipeline.run_async({"n": 4})
    finally:
        close_resources(pipeline)
    assert (first["c"]["value"], second["c"]["value"]) == (10, 17)
    assert first["c"]["pid"] == second["c"]["pid"] != os.getpid()
    assert second["c"]["warm_ups"] == 1
