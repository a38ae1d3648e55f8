"""Micro-batching gathers concurrent calls into batch calls and scatters the results back."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from ragrun import component
from ragrun.clock import FakeClock
from ragrun.component import sockets_of
from ragrun.errors import PipelineRuntimeError
from ragrun.microbatch import MicroBatcher, call_run_batch, has_run_batch
from ragrun.pipeline import Node
from ragrun.policy import ComponentPolicy, MicroBatch
from ragrun.resources import ComponentResources


class Recorder:
    """A batch function that records each batch and doubles every call's `x`."""

    def __init__(self, fail_batch: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_batch = fail_batch

    async def __call__(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.batches.append([c["x"] for c in calls])
        number = len(self.batches)
        await anyio.lowlevel.checkpoint()
        if self.fail_batch == number:
            raise ConnectionError(f"batch {number} failed")
        return [{"y": c["x"] * 2} for c in calls]


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 3, 8, 20, 32])
async def test_twenty_concurrent_calls_make_ceil_20_over_size_batch_calls(size: int) -> None:
    clock = FakeClock()
    record = Recorder()
    batcher = MicroBatcher(
        MicroBatch(max_batch_size=size, max_wait_ms=1000), record, component="emb", clock=clock
    )
    results: dict[int, Any] = {}

    async def one(x: int) -> None:
        results[x] = await batcher.submit({"x": x})

    async with anyio.create_task_group() as tg:
        for x in range(20):
            tg.start_soon(one, x)
        await anyio.wait_all_tasks_blocked()
        full_batches = 20 // size
        assert len(record.batches) == full_batches  # full batches do not wait for the window
        assert batcher.open_size == 20 % size
        clock.advance(1.0)  # the last, partial batch's window ends
    assert len(record.batches) == math.ceil(20 / size)
    assert sorted(x for batch in record.batches for x in batch) == list(range(20))
    assert all(len(batch) <= size for batch in record.batches)
    assert results == {x: {"y": 2 * x} for x in range(20)}
    assert (batcher.batches, batcher.calls) == (math.ceil(20 / size), 20)


@pytest.mark.anyio
async def test_the_window_closes_a_partial_batch_after_max_wait() -> None:
    clock = FakeClock()
    record = Recorder()
    batcher = MicroBatcher(
        MicroBatch(max_batch_size=10, max_wait_ms=5), record, component="c", clock=clock
    )
    results: dict[int, Any] = {}

    async def one(x: int) -> None:
        results[x] = await batcher.submit({"x": x})

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 1)
        await clock.wait_for_sleepers(1)
        assert clock.sleeps == [0.005]
        tg.start_soon(one, 2)
        await anyio.wait_all_tasks_blocked()
        assert record.batches == []
        clock.advance(0.005)
    assert record.batches == [[1, 2]]
    assert results == {1: {"y": 2}, 2: {"y": 4}}


@pytest.mark.anyio
async def test_an_error_in_a_batch_call_fails_each_caller_of_that_batch_only() -> None:
    clock = FakeClock()
    record = Recorder(fail_batch=1)
    batcher = MicroBatcher(
        MicroBatch(max_batch_size=4, max_wait_ms=1000), record, component="c", clock=clock
    )
    results: dict[int, Any] = {}

    async def one(x: int) -> None:
        try:
            results[x] = await batcher.submit({"x": x})
        except ConnectionError as exc:
            results[x] = exc

    async with anyio.create_task_group() as tg:
        for x in range(8):
            tg.start_soon(one, x)
    failed = [x for x, r in results.items() if isinstance(r, ConnectionError)]
    assert sorted(failed) == record.batches[0]
    assert len(failed) == 4
    assert all(results[x] == {"y": 2 * x} for x in record.batches[1])


@pytest.mark.anyio
async def test_a_wrong_number_of_results_fails_the_batch_with_a_clear_message() -> None:
    async def short(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"y": 0}]

    batcher = MicroBatcher(
        MicroBatch(max_batch_size=2, max_wait_ms=0), short, component="emb", clock=FakeClock()
    )
    errors: list[Exception] = []

    async def one(x: int) -> None:
        try:
            await batcher.submit({"x": x})
        except PipelineRuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 1)
        tg.start_soon(one, 2)
    assert len(errors) == 2
    assert str(errors[0]) == (
        "'emb'.run_batch returned 1 results for 2 calls; it must return one output dict per "
        "call, in the order of the calls"
    )


@pytest.mark.anyio
async def test_the_other_callers_get_results_when_the_leader_is_cancelled() -> None:
    clock = FakeClock()
    record = Recorder()
    batcher = MicroBatcher(
        MicroBatch(max_batch_size=10, max_wait_ms=1000), record, component="c", clock=clock
    )
    follower_result: list[Any] = []

    async def follower() -> None:
        follower_result.append(await batcher.submit({"x": 2}))

    async with anyio.create_task_group() as outer:
        async with anyio.create_task_group() as leader_group:
            leader_group.start_soon(batcher.submit, {"x": 1})
            await clock.wait_for_sleepers(1)
            outer.start_soon(follower)
            await anyio.wait_all_tasks_blocked()
            leader_group.cancel_scope.cancel()
            clock.advance(1)
    assert record.batches == [[1, 2]]
    assert follower_result == [{"y": 4}]


@component
class Doubler:
    """Offers a batch form beside `run`."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    @component.output_types(y=int)
    def run(self, x: int) -> dict:
        return {"y": 2 * x}

    def run_batch(self, calls: list[dict]) -> list[dict]:
        self.batch_sizes.append(len(calls))
        return [self.run(**call) for call in calls]


@component
class AsyncDoubler(Doubler):
    async def run_batch_async(self, calls: list[dict]) -> list[dict]:
        self.batch_sizes.append(-len(calls))
        return [self.run(**call) for call in calls]


def test_has_run_batch_detects_the_batch_forms() -> None:
    assert has_run_batch(Doubler())
    assert has_run_batch(AsyncDoubler())
    assert not has_run_batch(object())


@pytest.mark.anyio
async def test_call_run_batch_prefers_the_async_form() -> None:
    sync, async_ = Doubler(), AsyncDoubler()
    assert await call_run_batch(sync, [{"x": 1}]) == [{"y": 2}]
    assert await call_run_batch(async_, [{"x": 1}, {"x": 2}]) == [{"y": 2}, {"y": 4}]
    assert (sync.batch_sizes, async_.batch_sizes) == ([1], [-2])


@pytest.mark.anyio
async def test_component_resources_route_calls_through_the_batcher() -> None:
    clock = FakeClock()
    instance = Doubler()
    policy = ComponentPolicy(batch=MicroBatch(max_batch_size=8, max_wait_ms=10), concurrency=2)
    resources = ComponentResources(Node("emb", instance, sockets_of(instance), policy), clock)
    results: dict[int, Any] = {}

    async def single(inputs: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a batched component is not called one by one")

    async def one(x: int) -> None:
        results[x] = await resources.call(single, {"x": x})

    async with anyio.create_task_group() as tg:
        for x in range(20):
            tg.start_soon(one, x)
        await clock.wait_for_sleepers(1)
        await anyio.wait_all_tasks_blocked()
        clock.advance(0.01)
    assert sorted(instance.batch_sizes) == [4, 8, 8]
    assert results == {x: {"y": 2 * x} for x in range(20)}


@pytest.mark.anyio
async def test_a_batch_stays_open_while_an_earlier_batch_call_runs() -> None:
    release, sizes = anyio.Event(), []

    async def call_batch(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sizes.append(len(calls))
        if len(sizes) == 1:
            await release.wait()  # the first batch call is busy (a model encoding)
        return [{"y": c["x"]} for c in calls]

    batcher = MicroBatcher(MicroBatch(max_batch_size=64, max_wait_ms=0), call_batch, component="e")
    results: dict[int, Any] = {}

    async def one(x: int) -> None:
        results[x] = await batcher.submit({"x": x})

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 0)
        await anyio.wait_all_tasks_blocked()  # the first batch call is running
        for x in range(1, 6):  # one at a time: each arrives after the last one's window passed
            tg.start_soon(one, x)
            await anyio.wait_all_tasks_blocked()
        release.set()
    assert sizes == [1, 5]
    assert results == {x: {"y": x} for x in range(6)}
