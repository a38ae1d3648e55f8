"""The executor on real components: threads, concurrency, failures, stuck runs, streamed chunks."""

from __future__ import annotations

import threading
from contextlib import aclosing
from typing import Any

import anyio
import anyio.from_thread
import pytest

from ragrun import (
    Pipeline,
    PipelineInputError,
    PipelineRuntimeError,
    PipelineStuckError,
    StreamingChunk,
    component,
)
from ragrun.graph import Graph
from ragrun.streaming import emit_chunk
from tests.runner.overlap import CountsInFlight, Tally
from tests.runner.warm import CountsWarmUps

pytestmark = pytest.mark.anyio

TIMEOUT = 10  # generous: only reached when the property under test is broken


@component
class Echo:
    @component.output_types(out=Any)
    def run(self, value: Any, extra: Any = None) -> dict[str, Any]:
        return {"out": value}


@component
class BlockingUntilReleased:
    """Sync: tells the loop it has started, then blocks its thread until released."""

    def __init__(self, started: anyio.Event, released: threading.Event) -> None:
        self.started, self.released = started, released

    @component.output_types(out=str)
    def run(self, value: str) -> dict[str, Any]:
        anyio.from_thread.run_sync(self.started.set)  # raises on the event loop's own thread
        if not self.released.wait(TIMEOUT):
            raise TimeoutError("never released: the async component did not run meanwhile")
        return {"out": "blocked"}


@component
class Releaser:
    """Async: waits until the blocking component runs, then releases it."""

    def __init__(self, started: anyio.Event, released: threading.Event) -> None:
        self.started, self.released = started, released

    @component.output_types(out=str)
    def run(self, value: str) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(out=str)
    async def run_async(self, value: str) -> dict[str, Any]:
        await self.started.wait()
        self.released.set()
        return {"out": "released"}


@component
class Rendezvous:
    """Async: sets its own event, then waits for its partner's."""

    def __init__(self, mine: anyio.Event, theirs: anyio.Event) -> None:
        self.mine, self.theirs = mine, theirs

    @component.output_types(out=str)
    def run(self, value: str) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(out=str)
    async def run_async(self, value: str) -> dict[str, Any]:
        self.mine.set()
        await self.theirs.wait()
        return {"out": value}


@component
class Failing:
    @component.output_types(out=str)
    def run(self, value: str) -> dict[str, Any]:
        raise ValueError(f"boom: {value}")


@component
class Forever:
    """Async: waits for an event nobody sets; records being cancelled."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.cancelled = False

    @component.output_types(out=str)
    def run(self, value: str) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(out=str)
    async def run_async(self, value: str) -> dict[str, Any]:
        self.started.set()
        try:
            await anyio.Event().wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        return {"out": value}


@component
class SyncTalker:
    """Streams each word as a chunk from its worker thread."""

    @component.output_types(text=str)
    def run(self, value: str) -> dict[str, Any]:
        for word in value.split():
            emit_chunk(StreamingChunk(content=word, meta={"thread": threading.get_ident()}))
        return {"text": value}


@component
class AsyncTalker:
    """Streams each word as a chunk from the event loop."""

    @component.output_types(text=str)
    def run(self, value: str) -> dict[str, Any]:
        raise AssertionError("the async twin must be used")

    @component.output_types(text=str)
    async def run_async(self, value: str) -> dict[str, Any]:
        for word in value.split():
            emit_chunk(StreamingChunk(content=word, meta={"thread": threading.get_ident()}))
            await anyio.lowlevel.checkpoint()
        return {"text": value}


def parallel(*components: tuple[str, Any]) -> Pipeline:
    p = Pipeline()
    for name, instance in components:
        p.add_component(name, instance)
    return p


async def events_of(p: Pipeline, data: dict[str, Any], **options: Any) -> list[Any]:
    with anyio.fail_after(TIMEOUT):
        return [event async for event in p.stream(data, **options)]


# -- where components run ---------------------------------------------------------------------


async def test_sync_components_run_off_the_event_loop() -> None:
    started, released = anyio.Event(), threading.Event()
    p = parallel(
        ("blocking", BlockingUntilReleased(started, released)),
        ("releaser", Releaser(started, released)),
    )
    with anyio.fail_after(TIMEOUT):
        outputs = await p.run_async({"value": "x"})
    assert outputs == {"blocking": {"out": "blocked"}, "releaser": {"out": "released"}}


async def test_independent_branches_overlap() -> None:
    a, b = anyio.Event(), anyio.Event()
    p = parallel(("a", Rendezvous(a, b)), ("b", Rendezvous(b, a)))
    with anyio.fail_after(TIMEOUT):
        outputs = await p.run_async({"value": "v"})
    assert outputs == {"a": {"out": "v"}, "b": {"out": "v"}}


async def test_max_concurrency_bounds_the_components_in_flight() -> None:
    tally = Tally()
    p = parallel(*((f"c{i}", CountsInFlight(tally)) for i in range(4)))
    p.max_concurrency = 2
    await p.run_async({"value": 1})
    assert tally.peak == 2


async def test_values_travel_by_reference() -> None:
    value = {"big": list(range(10))}
    p = parallel(("first", Echo()), ("second", Echo()))
    p.connect("first.out", "second.value")
    outputs = await p.run_async({"first": {"value": value}})
    assert outputs["second"]["out"] is value


def test_the_sync_api_runs_twice_on_fresh_event_loops() -> None:
    p = parallel(("echo", Echo()))
    assert p.run({"value": 1}) == {"echo": {"out": 1}}
    assert p.run({"value": 2}) == {"echo": {"out": 2}}


async def test_the_pipeline_warms_up_once_even_for_concurrent_first_runs() -> None:
    warm = CountsWarmUps()
    p = parallel(("warm", warm))
    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(p.run_async, {"value": i})
    await p.run_async({"value": 9})
    assert warm.warm_ups == 1


async def test_warm_up_async_is_awaited_once_on_the_running_loop_after_warm_up() -> None:
    order: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    @component
    class TwoWarmUps:
        def warm_up(self) -> None:
            order.append(("warm_up", threading.get_ident() == loop_thread))

        async def warm_up_async(self) -> None:
            order.append(("warm_up_async", threading.get_ident() == loop_thread))

        @component.output_types(out=int)
        def run(self, value: int) -> dict[str, Any]:
            return {"out": value}

    p = parallel(("warm", TwoWarmUps()))
    await p.run_async({"value": 1})
    await p.run_async({"value": 2})
    # the sync one in a worker thread, the async one on the loop, each once
    assert order == [("warm_up", False), ("warm_up_async", True)]


# -- failures ---------------------------------------------------------------------------------


async def test_a_failing_component_ends_the_run_and_cancels_the_others() -> None:
    forever = Forever()
    p = parallel(("forever", forever), ("bad", Failing()))
    with anyio.fail_after(TIMEOUT), pytest.raises(PipelineRuntimeError) as info:
        await p.run_async({"value": "x"}, include_outputs_from=())
    error = info.value
    assert str(error) == "component 'bad' (Failing) failed: ValueError: boom: x"
    assert error.component == "bad" and error.run_id
    assert isinstance(error.__cause__, ValueError)
    assert forever.cancelled


async def test_a_failed_run_streams_component_failed_then_run_failed_last() -> None:
    p = parallel(("bad", Failing()))
    events = await events_of(p, {"value": "x"}, run_id="r1")
    assert [e.event for e in events] == ["run_started", "component_failed", "run_failed"]
    failed, last = events[1], events[2]
    assert (failed.component, failed.attempt, failed.will_retry) == ("bad", 1, False)
    assert failed.error.model_dump() == {"type": "ValueError", "message": "boom: x"}
    assert (last.run, last.component, last.error.type) == ("r1", "bad", "ValueError")


async def test_a_component_returning_something_else_than_a_dict_is_named() -> None:
    @component
    class Wrong:
        @component.output_types(out=str)
        def run(self, value: str) -> dict[str, Any]:
            return ["not", "a", "dict"]  # type: ignore[return-value]

    p = parallel(("wrong", Wrong()))
    with pytest.raises(PipelineRuntimeError) as info:
        await p.run_async({"value": "x"})
    assert str(info.value.__cause__) == (
        "component 'wrong' (Wrong) returned list; run must return a dict of its outputs (out)"
    )


async def test_a_stuck_run_names_each_waiting_component_and_socket() -> None:
    p = parallel(("source", Echo()), ("a", Echo()), ("b", Echo()))
    p.connect("source.out", "a.value").connect("a.out", "b.value").connect("b.out", "a.extra")
    p._graph = Graph.build(p, allow_cycles=True)  # loops are refused by graph(); force one
    with anyio.fail_after(TIMEOUT), pytest.raises(PipelineStuckError) as info:
        await p.run_async({"source": {"value": 1}}, include_outputs_from=())
    message = str(info.value)
    assert message.endswith(
        "is stuck: no component can run, but some still wait:\n"
        "  'a' waits on 'a.extra' for b.out\n"
        "  'b' waits on 'b.value' for a.out"
    )
    assert info.value.component == "a"


async def test_unknown_include_outputs_from_is_an_input_error() -> None:
    with pytest.raises(PipelineInputError, match=r"no component named 'ech'\. Did you mean 'echo'"):
        await parallel(("echo", Echo())).run_async({"value": 1}, include_outputs_from=["ech"])


# -- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize("talker", [SyncTalker, AsyncTalker], ids=["from-thread", "from-loop"])
async def test_chunks_arrive_in_order_before_their_component_finishes(talker: type) -> None:
    p = parallel(("talker", talker()))
    text = " ".join(f"w{i}" for i in range(50))
    events = await events_of(p, {"value": text})
    kinds = [e.event for e in events]
    assert kinds == ["run_started", *["chunk"] * 50, "component_finished", "run_finished"]
    chunks = [e for e in events if e.event == "chunk"]
    assert [c.content for c in chunks] == text.split()
    assert {c.component for c in chunks} == {"talker"}
    on_loop = {c.meta["thread"] == threading.get_ident() for c in chunks}
    assert on_loop == {talker is AsyncTalker}


async def test_chunks_are_dropped_when_nobody_listens() -> None:
    emit_chunk("outside any run")  # a no-op, not an error
    p = parallel(("talker", SyncTalker()))
    assert await p.run_async({"value": "a b"}) == {"talker": {"text": "a b"}}


async def test_verbose_runs_report_each_component_start_with_its_inputs() -> None:
    p = parallel(("echo", Echo()))
    events = await events_of(p, {"value": 1}, verbose=True)
    started = events[1]
    assert (started.event, started.component, started.inputs) == (
        "component_started",
        "echo",
        {"value": 1},
    )


async def test_closing_the_stream_early_cancels_the_run() -> None:
    forever = Forever()
    p = parallel(("forever", forever))
    with anyio.fail_after(TIMEOUT):
        async with aclosing(p.stream({"value": "x"})) as events:
            async for event in events:
                if event.event == "run_started":
                    await forever.started.wait()
                    break
    assert forever.cancelled


async def test_bad_data_raises_before_any_event() -> None:
    with pytest.raises(PipelineInputError, match="missing input 'value'"):
        await events_of(parallel(("echo", Echo())), {})


async def test_a_failed_warm_up_async_is_tried_again_by_the_next_run() -> None:
    @component
    class FlakyWarmUp:
        tries = 0

        async def warm_up_async(self) -> None:
            type(self).tries += 1
            if type(self).tries == 1:
                raise ConnectionError("the server is not up yet")

        @component.output_types(out=int)
        def run(self, value: int) -> dict[str, Any]:
            return {"out": value}

    p = parallel(("warm", FlakyWarmUp()))
    with pytest.raises(PipelineRuntimeError, match="warming up the pipeline failed"):
        await p.run_async({"value": 1})
    assert (await p.run_async({"value": 2}))["warm"]["out"] == 2
    assert FlakyWarmUp.tries == 2
