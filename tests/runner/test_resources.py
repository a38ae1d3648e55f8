"""The policies applied together to one component's calls, shared by every run of the pipeline."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from ragrun import Pipeline, component
from ragrun.breaker import CircuitOpenError
from ragrun.chat import ChatMessage
from ragrun.clock import FakeClock
from ragrun.component import sockets_of
from ragrun.pipeline import Node
from ragrun.policy import CircuitBreaker, ComponentPolicy, RateLimit, RetryPolicy
from ragrun.resources import (
    ComponentResources,
    PipelineResources,
    close_resources,
    pipeline_resources,
    use_resources,
)
from ragrun.retry import AttemptFailure
from ragrun.timeouts import ComponentTimeoutError


@component
class Echo:
    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        return {"text": text}


def _resources(clock: FakeClock | None = None, **policy: Any) -> ComponentResources:
    instance = Echo()
    node = Node("echo", instance, sockets_of(instance), ComponentPolicy(**policy))
    return ComponentResources(node, clock or FakeClock(auto_advance=True))


class Throttled(Exception):
    """A 429 answer carrying Retry-After, like openai.RateLimitError."""

    def __init__(self, seconds: str) -> None:
        super().__init__("429 Too Many Requests")
        self.status_code = 429
        self.response = type("R", (), {"headers": {"Retry-After": seconds}})()


@pytest.mark.anyio
async def test_failed_attempts_are_retried_and_each_is_reported() -> None:
    resources = _resources(retry=RetryPolicy(attempts=3, initial_delay=1, jitter=0))
    failures: list[AttemptFailure] = []
    errors = [ConnectionError("reset"), TimeoutError("slow")]

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        if errors:
            raise errors.pop(0)
        return {"text": inputs["text"]}

    assert await resources.call(once, {"text": "hi"}, on_failure=failures.append) == {"text": "hi"}
    assert [(f.attempt, type(f.error).__name__, f.will_retry) for f in failures] == [
        (1, "ConnectionError", True),
        (2, "TimeoutError", True),
    ]


@pytest.mark.anyio
async def test_a_timed_out_attempt_is_retried() -> None:
    resources = _resources(timeout=0.05, retry=RetryPolicy(attempts=2, initial_delay=0))
    failures: list[AttemptFailure] = []
    hang = [True]

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        if hang:
            hang.pop()
            await anyio.Event().wait()  # never set: the timeout cancels it
        return {"text": "second try"}

    assert await resources.call(once, {}, on_failure=failures.append) == {"text": "second try"}
    assert isinstance(failures[0].error, ComponentTimeoutError)
    assert failures[0].will_retry


@pytest.mark.anyio
async def test_a_429_retry_after_pushes_back_the_other_callers() -> None:
    clock = FakeClock()
    resources = _resources(clock, retry=RetryPolicy(attempts=2, initial_delay=0.1, jitter=0))
    made: list[str] = []
    throttled = anyio.Event()

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        made.append(inputs["text"])
        if inputs["text"] == "a" and not throttled.is_set():
            throttled.set()
            raise Throttled("10")
        return inputs

    async with anyio.create_task_group() as tg:
        tg.start_soon(resources.call, once, {"text": "a"})
        await throttled.wait()
        tg.start_soon(resources.call, once, {"text": "b"})
        await anyio.wait_all_tasks_blocked()
        assert made == ["a"]  # b waits behind the 10 s pause
        clock.advance(9.9)
        await anyio.wait_all_tasks_blocked()
        assert made == ["a"]
        clock.advance(0.1)
    assert sorted(made) == ["a", "a", "b"]


@pytest.mark.anyio
async def test_concurrency_bounds_the_calls_in_flight() -> None:
    resources = _resources(concurrency=2)
    in_flight, peak = 0, 0
    release = anyio.Event()

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return {}

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(resources.call, once, {})
        await anyio.wait_all_tasks_blocked()
        assert in_flight == 2
        release.set()
    assert peak == 2


@pytest.mark.anyio
async def test_the_breaker_fails_fast_without_calling_the_component() -> None:
    clock = FakeClock()
    resources = _resources(clock, circuit_breaker=CircuitBreaker(failures=2, cooldown=5))
    calls = 0

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise ConnectionError("down")
        return {"ok": True}

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await resources.call(once, {})
    with pytest.raises(CircuitOpenError):
        await resources.call(once, {})
    assert calls == 2
    clock.advance(5)
    assert await resources.call(once, {}) == {"ok": True}  # the probe closes it


@pytest.mark.anyio
async def test_the_breaker_is_not_retried_by_default() -> None:
    resources = _resources(
        retry=RetryPolicy(attempts=5), circuit_breaker=CircuitBreaker(failures=1, cooldown=60)
    )
    failures: list[AttemptFailure] = []

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("down")

    with pytest.raises(CircuitOpenError):
        await resources.call(once, {}, on_failure=failures.append)
    assert [(type(f.error).__name__, f.will_retry) for f in failures] == [
        ("ConnectionError", True),
        ("CircuitOpenError", False),
    ]


@pytest.mark.anyio
async def test_reported_usage_is_charged_to_the_token_budget() -> None:
    resources = _resources(FakeClock(), rate_limit=RateLimit(tokens_per_minute=600))

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        reply = ChatMessage.from_assistant("x", meta={"usage": {"total_tokens": 900}})
        return {"replies": [reply]}

    await resources.call(once, {})
    assert resources.rate is not None
    assert resources.rate.wait_time() == pytest.approx(30.1)


def test_a_pipeline_keeps_one_component_resources_per_component() -> None:
    pipeline = Pipeline()
    pipeline.add_component("echo", Echo(), policy=ComponentPolicy(concurrency=1))
    shared = pipeline_resources(pipeline)
    assert pipeline_resources(pipeline) is shared
    node = pipeline.nodes["echo"]
    assert shared.of(node) is shared.of(node)

    replaced = Node("echo", Echo(), node.sockets, node.policy)
    assert shared.of(replaced) is not shared.of(node)

    clock = FakeClock()
    use_resources(pipeline, PipelineResources(clock))
    assert pipeline_resources(pipeline).of(node).clock is clock
    close_resources(pipeline)


def test_limits_are_shared_by_runs_on_different_event_loops() -> None:
    resources = _resources(concurrency=1, rate_limit=RateLimit(per_minute=2))

    async def once(inputs: dict[str, Any]) -> dict[str, Any]:
        return inputs

    for text in ("first loop", "second loop"):
        assert anyio.run(resources.call, once, {"text": text}) == {"text": text}
    assert resources.rate is not None
    assert resources.rate.wait_time() == pytest.approx(30)  # one minute budget for both
