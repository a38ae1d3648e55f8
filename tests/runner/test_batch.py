"""run_batch: one result and one ending event per item, failures isolated, backpressure, order."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from ragrun import Pipeline, PipelineInputError, PipelineRuntimeError, component
from ragrun.batch import BatchItem, BatchResult
from ragrun.reorder import in_order
from tests.runner.overlap import CountsInFlight, Tally
from tests.runner.warm import CountsWarmUps

pytestmark = pytest.mark.anyio

TIMEOUT = 10
ENDINGS = ("run_finished", "run_failed")


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


def one(instance: Any, name: str = "c") -> Pipeline:
    p = Pipeline()
    p.add_component(name, instance)
    return p


async def collect(p: Pipeline, items: Any, **options: Any) -> list[BatchResult]:
    with anyio.fail_after(TIMEOUT):
        return [result async for result in p.run_batch(items, **options)]


def endings(events: list[Any]) -> Counter[int]:
    """How many ending events each index got."""
    return Counter(e.index for e in events if e.event in ENDINGS)


# -- results and failures -------------------------------------------------------------------------


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
        pytest.param('{"value": ', "item 1 is not valid JSON", id="bad-json-text"),
        pytest.param(b"[1, 2]", "item 1: expected a JSON object, found list", id="json-list"),
        pytest.param((7, "nope"), "line 7 is not valid JSON", id="line-pair"),
    ],
)
async def test_a_bad_item_fails_alone_without_running(item: Any, message: str) -> None:
    events: list[Any] = []
    results = await collect(
        divide_then_add(), [{"value": 1}, item], ordered=True, sink=events.append
    )
    assert results[0].ok
    assert not results[1].ok
    assert isinstance(results[1].error, PipelineInputError)
    assert message in str(results[1].error)
    second = [e for e in events if e.index == 1]
    assert [e.event for e in second] == ["run_failed"]  # no run_started: nothing ran
    assert second[0].run == results[1].run_id
    assert message in second[0].error.message


async def test_json_text_items_and_line_pairs_are_runs_stamped_with_their_line() -> None:
    events: list[Any] = []
    items = [(3, '{"value": 4}'), BatchItem(b'{"value": 5}', line=9, index=40), {"value": 10}]
    results = await collect(divide_then_add(), items, sink=events.append, ordered=True)
    assert [(r.index, r.line, r.outputs) for r in results] == [
        (0, 3, {"then": {"out": 26.0}}),
        (40, 9, {"then": {"out": 21.0}}),
        (2, None, {"then": {"out": 11.0}}),
    ]
    assert {(e.index, e.line) for e in events} == {(0, 3), (40, 9), (2, None)}


async def test_base_inputs_lie_under_every_item() -> None:
    @component
    class Add:
        @component.output_types(total=int)
        def run(self, a: int, b: int) -> dict[str, Any]:
            return {"total": a + b}

    items = [{"a": 1}, '{"a": 2, "b": 0}']
    results = await collect(one(Add()), items, base_inputs={"b": 100}, ordered=True)
    assert [r.outputs for r in results] == [{"c": {"total": 101}}, {"c": {"total": 2}}]


async def test_each_item_ends_exactly_once_under_concurrency() -> None:
    """500 items, random failures of every kind, random finishing order: one ending each."""
    rng = random.Random(20240611)

    @component
    class Jitter:
        @component.output_types(out=int)
        def run(self, value: int, fail: bool = False) -> dict[str, Any]:
            raise AssertionError("the async twin must be used")

        @component.output_types(out=int)
        async def run_async(self, value: int, fail: bool = False) -> dict[str, Any]:
            for _ in range(value % 7):
                await anyio.lowlevel.checkpoint()  # finish in a shuffled order
            if fail:
                raise RuntimeError(f"item {value} fails")
            return {"out": value}

    items: list[Any] = []
    expected_ok = set()
    for i in range(500):
        kind = rng.random()
        if kind < 0.1:
            items.append("not json")
        elif kind < 0.2:
            items.append({"value": "not a number"})
        elif kind < 0.35:
            items.append({"value": i, "fail": True})
        else:
            items.append({"value": i})
            expected_ok.add(i)
    events: list[Any] = []
    results = await collect(one(Jitter()), items, concurrency=16, sink=events.append)
    assert sorted(r.index for r in results) == list(range(500))
    assert endings(events) == Counter(range(500))  # exactly one ending per item
    assert {r.index for r in results if r.ok} == expected_ok
    finished = {e.index for e in events if e.event == "run_finished"}
    assert finished == expected_ok
    by_run = {e.run for e in events}
    assert by_run == {r.run_id for r in results}


# -- concurrency and backpressure -----------------------------------------------------------------


@component
class Held:
    """Each value waits for its own release; counts started and finished calls."""

    def __init__(self, releases: dict[int, anyio.Event], when_started: int) -> None:
        self.releases = releases
        self.started = 0
        self.finished = 0
        self.enough_started = anyio.Event()
        self.when_started = when_started

    @component.output_types(out=int)
    def run(self, value: int) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(out=int)
    async def run_async(self, value: int) -> dict[str, Any]:
        self.started += 1
        if self.started == self.when_started:
            self.enough_started.set()
        await self.releases[value].wait()
        self.finished += 1
        return {"out": value}


class CountingSource:
    """An async source that notes, at every pull, how far reading ran ahead of finished runs."""

    def __init__(self, count: int, finished: Any) -> None:
        self.count = count
        self.finished = finished
        self.pulled = 0
        self.most_ahead = 0

    async def __aiter__(self) -> AsyncIterator[dict[str, int]]:
        for i in range(self.count):
            self.pulled += 1
            self.most_ahead = max(self.most_ahead, self.pulled - self.finished())
            yield {"value": i}


@pytest.mark.parametrize(
    ("ordered", "ahead"), [(False, 4), (True, 8)], ids=["as-finished", "ordered"]
)
async def test_reading_waits_while_the_runs_in_flight_are_enough(ordered: bool, ahead: int) -> None:
    """Unordered: at most `concurrency` items read and not finished. Ordered: at most twice
    that are read and not yet handed out, however long the head run takes."""
    concurrency, count = 4, 24
    releases = {i: anyio.Event() for i in range(count)}
    held = Held(releases, when_started=concurrency)
    source = CountingSource(count, lambda: held.finished)
    results: list[BatchResult] = []

    async def consume() -> None:
        batch = one(held).run_batch(source, concurrency=concurrency, ordered=ordered)
        async for result in batch:
            results.append(result)

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await held.enough_started.wait()
            await anyio.wait_all_tasks_blocked()
            assert source.pulled == concurrency  # the runs are stuck: nothing more is read
            # Release from the end, so in ordered mode the head run holds everything back.
            for i in reversed(range(count)):
                releases[i].set()
                await anyio.wait_all_tasks_blocked()
                assert source.pulled - len(results) <= ahead
    assert source.most_ahead <= concurrency if not ordered else source.most_ahead <= ahead
    assert sorted(r.index for r in results) == list(range(count))
    if ordered:
        assert [r.index for r in results] == list(range(count))


async def test_concurrency_bounds_the_runs_in_flight() -> None:
    tally = Tally()
    results = await collect(
        one(CountsInFlight(tally)), ({"value": i} for i in range(20)), concurrency=3
    )
    assert sorted(r.index for r in results) == list(range(20))
    assert tally.peak == 3


# -- order ----------------------------------------------------------------------------------------


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


async def test_results_come_as_runs_finish() -> None:
    received_second = anyio.Event()  # item 0 cannot finish before item 1 has been yielded
    seen = []
    with anyio.fail_after(TIMEOUT):
        batch = one(Gate(received_second), "gate").run_batch(
            [{"value": 0}, {"value": 1}], concurrency=2
        )
        async for result in batch:
            seen.append(result.index)
            if result.index == 1:
                received_second.set()
    assert seen == [1, 0]


async def test_ordered_events_and_results_come_in_item_order() -> None:
    """Item 0 ends last, yet its events come first and the others' are held until it ends."""
    later_done = anyio.Event()
    done = 0

    @component
    class LastFirst:
        @component.output_types(out=int)
        def run(self, value: int) -> dict[str, Any]:
            raise AssertionError("the async twin must be used")

        @component.output_types(out=int)
        async def run_async(self, value: int) -> dict[str, Any]:
            nonlocal done
            if value == 0:
                await later_done.wait()
            else:
                done += 1
                if done == 3:
                    later_done.set()
            return {"out": value}

    events: list[Any] = []
    items = [{"value": i} for i in range(4)]
    results = await collect(
        one(LastFirst()), items, concurrency=4, ordered=True, sink=events.append, verbose=True
    )
    assert [r.index for r in results] == [0, 1, 2, 3]
    order = [e.index for e in events]
    assert order == sorted(order)  # each run's events together, runs in item order
    kinds = [e.event for e in events if e.index == 0]
    assert kinds == ["run_started", "component_started", "component_finished", "run_finished"]


async def test_unordered_events_come_as_runs_finish() -> None:
    release = anyio.Event()
    events: list[Any] = []

    def sink(event: Any) -> None:
        events.append(event)
        if event.event == "run_finished" and event.index == 1:
            release.set()

    await collect(one(Gate(release), "gate"), [{"value": 0}, {"value": 1}], sink=sink)
    assert [e.index for e in events if e.event == "run_finished"] == [1, 0]


async def test_reordering_holds_early_results_until_their_turn() -> None:
    async def finishing_order() -> Any:
        for seq in (2, 0, 3, 1):
            yield seq, BatchResult(seq * 10, True)

    assert [r.index async for r in in_order(finishing_order())] == [0, 10, 20, 30]


# -- events ---------------------------------------------------------------------------------------


async def test_the_sink_gets_summary_events_unless_verbose() -> None:
    quiet: list[Any] = []
    loud: list[Any] = []
    items = [{"value": 1}, {"value": 0}]
    await collect(divide_then_add(), items, sink=quiet.append)
    await collect(divide_then_add(), items, sink=loud.append, verbose=True)
    summary = {"run_started", "component_failed", "run_finished", "run_failed"}
    assert {e.event for e in quiet} == summary
    assert {"component_started", "component_finished"} <= {e.event for e in loud}


async def test_a_failing_sink_ends_the_batch_with_its_error() -> None:
    def sink(event: Any) -> None:
        if event.event == "run_finished":
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        await collect(divide_then_add(), [{"value": i} for i in range(1, 50)], sink=sink)


# -- stopping early -------------------------------------------------------------------------------


async def test_max_failures_stops_reading_new_items() -> None:
    pulled = 0

    def items() -> Any:
        nonlocal pulled
        for value in (1, 0, 2, 0, 3, 4, 5):
            pulled += 1
            yield {"value": value}

    results = await collect(divide_then_add(), items(), concurrency=1, max_failures=2)
    assert [(r.index, r.ok) for r in results] == [(0, True), (1, False), (2, True), (3, False)]
    assert pulled == 4


async def test_max_failures_stops_a_source_that_waits_for_more() -> None:
    never = anyio.Event()

    async def items() -> Any:
        yield {"value": 0}
        await never.wait()  # a stdin nobody writes to any more
        yield {"value": 1}

    results = await collect(divide_then_add(), items(), max_failures=1)
    assert [(r.index, r.ok) for r in results] == [(0, False)]


async def test_options_are_checked_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1, got 0"):
        await collect(divide_then_add(), [], concurrency=0)
    with pytest.raises(ValueError, match="max_failures must be at least 1, got 0"):
        await collect(divide_then_add(), [], max_failures=0)
    with pytest.raises(PipelineInputError, match=r"no component named 'thne'.*'then'"):
        await collect(divide_then_add(), [{"value": 1}], include_outputs_from=["thne"])


# -- warm-up --------------------------------------------------------------------------------------


async def test_warm_up_runs_once_before_the_batch() -> None:
    warm = CountsWarmUps()
    results = await collect(one(warm), [{"value": i} for i in range(10)], concurrency=5)
    assert all(r.ok for r in results)
    assert warm.warm_ups == 1


async def test_a_failing_warm_up_fails_the_batch_before_any_run() -> None:
    @component
    class Broken:
        def warm_up(self) -> None:
            raise OSError("model not found")

        @component.output_types(out=int)
        def run(self, value: int) -> dict[str, Any]:
            raise AssertionError("never called")

    with pytest.raises(PipelineRuntimeError, match="warming up the pipeline failed: OSError"):
        await collect(one(Broken()), [{"value": 1}])
