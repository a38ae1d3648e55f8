"""run_batch: one result per item, failures isolated, bounded concurrency, optional ordering."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from ragrun import Pipeline, PipelineInputError, PipelineRuntimeError, component
from ragrun.batch import BatchResult, _in_order

pytestmark = pytest.mark.anyio

TIMEOUT = 10


@component
class Divide:
    """100 / value: fails for 0."""

    @component.output_types(out=float)
    def run(self, value: int) -> dict[str, Any]:
        return {"out": 100 / value}


@component
class Then:
    @component.output_types(out=float)
    def run(self, value: float) -> dict[str, Any]:
        return {"out": value + 1}


def divide_then_add() -> Pipeline:
    p = Pipeline()
    p.add_component("divide", Divide())
    p.add_component("then", Then())
    p.connect("divide.out", "then.value")
    return p


async def collect(p: Pipeline, items: Any, **options: Any) -> list[BatchResult]:
    with anyio.fail_after(TIMEOUT):
        return [result async for result in p.run_batch(items, **options)]


async def test_a_failing_run_does_not_affect_the_others() -> None:
    items = [{"value": v} for v in (1, 0, 4, 0, 5)]
    results = sorted(await collect(divide_then_add(), items), key=lambda r: r.index)
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert [r.outputs for r in results if r.ok] == [
        {"then": {"out": 101.0}},
        {"then": {"out": 26.0}},
        {"then": {"out": 21.0}},
    ]
    failed = results[1]
    assert isinstance(failed.error, PipelineRuntimeError)
    assert failed.error.component == "divide"
    assert failed.error.run_id == failed.run_id
    assert isinstance(failed.error.__cause__, ZeroDivisionError)
    assert len({r.run_id for r in results}) == 5


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param({"valeu": 1}, "unknown input 'valeu'", id="unknown-name"),
        pytest.param({}, "missing input 'value'", id="missing"),
        pytest.param(["value", 1], "item 1: expected a mapping of inputs, found list", id="list"),
    ],
)
async def test_a_bad_item_fails_alone(item: Any, message: str) -> None:
    results = await collect(divide_then_add(), [{"value": 1}, item], ordered=True)
    assert results[0].ok
    assert not results[1].ok
    assert isinstance(results[1].error, PipelineInputError)
    assert message in str(results[1].error)


async def test_concurrency_bounds_the_runs_in_flight() -> None:
    in_flight = peak = 0

    @component
    class Counted:
        @component.output_types(out=int)
        def run(self, value: int) -> dict[str, Any]:
            raise AssertionError("the async twin must be used")

        @component.output_types(out=int)
        async def run_async(self, value: int) -> dict[str, Any]:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            in_flight -= 1
            return {"out": value}

    p = Pipeline()
    p.add_component("counted", Counted())
    results = await collect(p, ({"value": i} for i in range(20)), concurrency=3)
    assert sorted(r.index for r in results) == list(range(20))
    assert peak == 3


@component
class Gate:
    """Item 0 waits for `release`; any other item runs at once."""

    def __init__(self, release: anyio.Event) -> None:
        self.release = release

    @component.output_types(out=int)
    def run(self, value: int) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(out=int)
    async def run_async(self, value: int) -> dict[str, Any]:
        if value == 0:
            await self.release.wait()
        return {"out": value}


def gated(release: anyio.Event) -> Pipeline:
    p = Pipeline()
    p.add_component("gate", Gate(release))
    return p


async def test_results_come_as_runs_finish() -> None:
    received_second = anyio.Event()  # item 0 cannot finish before item 1 has been yielded
    seen = []
    with anyio.fail_after(TIMEOUT):
        batch = gated(received_second).run_batch([{"value": 0}, {"value": 1}], concurrency=2)
        async for result in batch:
            seen.append(result.index)
            if result.index == 1:
                received_second.set()
    assert seen == [1, 0]


async def test_ordered_results_come_in_item_order() -> None:
    release = anyio.Event()
    items = [{"value": 0}, {"value": 1}, {"value": 2}]
    with anyio.fail_after(TIMEOUT):
        batch = gated(release).run_batch(items, concurrency=3, ordered=True)
        release.set()
        results = [result async for result in batch]
    assert [r.index for r in results] == [0, 1, 2]
    assert [r.outputs for r in results] == [{"gate": {"out": i}} for i in range(3)]


async def test_reordering_holds_early_results_until_their_turn() -> None:
    async def finishing_order() -> Any:
        for index in (2, 0, 3, 1):
            yield BatchResult(index, True)

    assert [r.index async for r in _in_order(finishing_order())] == [0, 1, 2, 3]


async def test_warm_up_runs_once_before_the_batch() -> None:
    @component
    class Warm:
        calls = 0

        def warm_up(self) -> None:
            type(self).calls += 1

        @component.output_types(out=int)
        def run(self, value: int) -> dict[str, Any]:
            return {"out": value}

    p = Pipeline()
    p.add_component("warm", Warm())
    results = await collect(p, [{"value": i} for i in range(10)], concurrency=5)
    assert all(r.ok for r in results)
    assert Warm.calls == 1


async def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1, got 0"):
        await collect(divide_then_add(), [], concurrency=0)
