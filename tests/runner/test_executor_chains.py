"""Sync chains: sync components that follow one another alone share one worker-thread hop."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import anyio
import anyio.from_thread
import pytest

from ragrun import ComponentPolicy, Pipeline, PipelineRuntimeError, component
from ragrun.executor import Run
from ragrun.policy import RetryPolicy

pytestmark = pytest.mark.anyio

TIMEOUT = 10  # generous: only reached when the property under test is broken


@component
class Blocking:
    """Sync: tells the loop it has started, then blocks its thread until released."""

    def __init__(self, started: anyio.Event, released: threading.Event) -> None:
        self.started, self.released = started, released

    @component.output_types(out=Any)
    def run(self, value: Any) -> dict[str, Any]:
        anyio.from_thread.run_sync(self.started.set)
        if not self.released.wait(TIMEOUT):
            raise TimeoutError("never released")
        return {"out": value}


@component
class Failing:
    @component.output_types(out=Any)
    def run(self, value: Any) -> dict[str, Any]:
        raise ValueError(f"boom: {value}")


@component
class Recorder:
    """Sync: records the thread it ran on, adds one."""

    def __init__(self, threads: list[int]) -> None:
        self.threads = threads

    @component.output_types(out=Any)
    def run(self, value: Any) -> dict[str, Any]:
        self.threads.append(threading.get_ident())
        return {"out": value + 1}


@component
class FailsOnce:
    """Sync: a transient failure on the first call, then adds one."""

    def __init__(self) -> None:
        self.calls = 0

    @component.output_types(out=int)
    def run(self, value: int) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError("transient")
        return {"out": value + 1}


def chain_of(*components: tuple[str, Any]) -> Pipeline:
    p = Pipeline()
    for name, instance in components:
        p.add_component(name, instance)
    names = [name for name, _ in components]
    for sender, receiver in itertools.pairwise(names):
        p.connect(f"{sender}.out", f"{receiver}.value")
    return p


async def test_a_chain_of_sync_components_costs_one_thread_hop(monkeypatch: Any) -> None:
    hops = 0
    real = anyio.to_thread.run_sync

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    threads: list[int] = []
    p = chain_of(*((f"c{i}", Recorder(threads)) for i in range(5)))
    p.warm_up()
    assert await p.run_async({"c0": {"value": 0}}) == {"c4": {"out": 5}}
    assert hops == 1
    assert len(threads) == 5 and threading.get_ident() not in threads


async def test_a_watched_chain_reports_each_sync_component() -> None:
    p = chain_of(*((f"c{i}", Recorder([])) for i in range(3)))
    with anyio.fail_after(TIMEOUT):
        events = [event async for event in p.stream({"c0": {"value": 0}})]
    finished = [(e.component, e.outputs) for e in events if e.event == "component_finished"]
    assert finished == [("c0", {"out": 1}), ("c1", {"out": 2}), ("c2", {"out": 3})]


async def test_a_component_with_a_policy_inside_a_sync_chain_keeps_its_policy() -> None:
    flaky = FailsOnce()
    p = Pipeline()
    p.add_component("a", Recorder([]))
    retry = ComponentPolicy(retry=RetryPolicy(attempts=2, initial_delay=0))
    p.add_component("flaky", flaky, policy=retry)
    p.add_component("c", Recorder([]))
    p.connect("a.out", "flaky.value").connect("flaky.out", "c.value")
    assert await p.run_async({"a": {"value": 0}}) == {"c": {"out": 3}}
    assert flaky.calls == 2


async def test_a_failure_inside_a_sync_chain_names_its_component_and_stops_the_chain() -> None:
    after: list[int] = []
    p = chain_of(("a", Recorder([])), ("bad", Failing()), ("after", Recorder(after)))
    with pytest.raises(PipelineRuntimeError) as info:
        await p.run_async({"a": {"value": 0}})
    assert info.value.component == "bad" and after == []


async def test_a_cancelled_run_stops_its_sync_chain_after_the_running_component(
    monkeypatch: Any,
) -> None:
    started, released, ended = anyio.Event(), threading.Event(), threading.Event()
    original = Run._segment_in_thread

    def observed(self: Run, name: str, stop: threading.Event) -> Any:
        try:
            return original(self, name, stop)
        finally:
            ended.set()

    monkeypatch.setattr(Run, "_segment_in_thread", observed)
    after: list[int] = []
    p = chain_of(("blocking", Blocking(started, released)), ("after", Recorder(after)))
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(p.run_async, {"blocking": {"value": "x"}})
            await started.wait()
            tg.cancel_scope.cancel()
        released.set()
        assert await anyio.to_thread.run_sync(ended.wait, TIMEOUT)
    assert after == []
