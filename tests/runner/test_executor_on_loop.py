"""`executor: loop` and `ragrun_on_loop`: quick sync components called on the event loop itself."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from ragrun import (
    ComponentPolicy,
    Pipeline,
    PipelineRuntimeError,
    PipelineValidationError,
    component,
)
from ragrun.components.builders.chat_prompt_builder import ChatPromptBuilder

pytestmark = pytest.mark.anyio


@component
class Where:
    """Sync: records the thread it ran on, adds one."""

    def __init__(self, threads: list[int], fail: bool = False) -> None:
        self.threads, self.fail = threads, fail

    @component.output_types(out=int)
    def run(self, value: int) -> dict[str, Any]:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise ValueError("no")
        return {"out": value + 1}


@component
class QuickWhere(Where):
    """The same, declaring itself quick."""

    ragrun_on_loop = True


def chain(*parts: tuple[str, Any, ComponentPolicy | None]) -> Pipeline:
    p = Pipeline()
    for name, instance, policy in parts:
        p.add_component(name, instance, policy=policy)
    for (sender, _, _), (receiver, _, _) in itertools.pairwise(parts):
        p.connect(f"{sender}.out", f"{receiver}.value")
    return p


async def run_watched_and_not(p: Pipeline, first: str) -> list[dict[str, Any]]:
    """Run once without listeners (fast paths) and once streaming events (policy path)."""
    await p.run_async({first: {"value": 1}})
    return [e.model_dump() async for e in p.stream({first: {"value": 1}})]


async def test_a_quick_component_runs_on_the_loop_thread_watched_or_not() -> None:
    threads: list[int] = []
    p = chain(("quick", QuickWhere(threads), None))
    await run_watched_and_not(p, "quick")
    assert threads == [threading.get_ident()] * 2


async def test_a_plain_component_runs_in_a_worker_thread() -> None:
    threads: list[int] = []
    p = chain(("plain", Where(threads), None))
    await run_watched_and_not(p, "plain")
    assert len(threads) == 2 and threading.get_ident() not in threads


async def test_executor_thread_overrides_the_declaration() -> None:
    threads: list[int] = []
    p = chain(("quick", QuickWhere(threads), ComponentPolicy(executor="thread")))
    await run_watched_and_not(p, "quick")
    assert len(threads) == 2 and threading.get_ident() not in threads


async def test_executor_loop_puts_any_sync_component_on_the_loop() -> None:
    threads: list[int] = []
    p = chain(("plain", Where(threads), ComponentPolicy(executor="loop")))
    await run_watched_and_not(p, "plain")
    assert threads == [threading.get_ident()] * 2


async def test_a_timeout_sends_a_quick_component_to_a_thread() -> None:
    threads: list[int] = []
    p = chain(("quick", QuickWhere(threads), ComponentPolicy(timeout=5)))
    await run_watched_and_not(p, "quick")
    assert len(threads) == 2 and threading.get_ident() not in threads


def test_executor_loop_with_a_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="executor: loop cannot be combined with timeout"):
        ComponentPolicy(executor="loop", timeout=1)
    yaml = """
components:
  quick:
    type: ChatPromptBuilder
    init_parameters: {template: "hi {{ name }}"}
    executor: loop
    timeout: 2
"""
    with pytest.raises(PipelineValidationError, match="executor: loop cannot be combined"):
        Pipeline.loads(yaml)


async def test_a_chain_mixing_thread_and_loop_components_keeps_the_order() -> None:
    threads: list[int] = []
    parts = [
        ("a", Where(threads), None),
        ("b", QuickWhere(threads), None),
        ("c", Where(threads), None),
        ("d", QuickWhere(threads), None),
    ]
    p = chain(*parts)
    assert (await p.run_async({"a": {"value": 0}}))["d"]["out"] == 4
    assert len(threads) == 4


@pytest.mark.parametrize("watched", [False, True], ids=["unwatched", "watched"])
async def test_a_failing_loop_component_fails_its_run(watched: bool) -> None:
    p = chain(("a", Where([]), None), ("bad", QuickWhere([], fail=True), None))
    if not watched:
        with pytest.raises(PipelineRuntimeError, match=r"component 'bad'.*ValueError: no"):
            await p.run_async({"a": {"value": 1}})
        return
    kinds = [e.event async for e in p.stream({"a": {"value": 1}})]
    assert kinds[-2:] == ["component_failed", "run_failed"]


def test_the_prompt_builders_declare_themselves_quick() -> None:
    assert ChatPromptBuilder.ragrun_on_loop is True


# -- batch sinks that keep only summary events take the fast paths --------------------------


async def test_a_summary_sink_still_gets_component_failed_from_the_fast_paths() -> None:
    threads: list[int] = []
    p = chain(
        ("quick", QuickWhere(threads), None),  # on the loop, in place
        ("b", Where(threads), None),  # b and bad: one sync segment, one worker thread
        ("bad", Where(threads, fail=True), None),
    )
    events: list[Any] = []
    results = [r async for r in p.run_batch([{"quick": {"value": 1}}], sink=events.append)]
    assert not results[0].ok
    assert threading.get_ident() == threads[0] != threads[1] == threads[2]
    kinds = [e.event for e in events]
    assert kinds == ["run_started", "component_failed", "run_failed"]
    failed = events[1]
    assert (failed.component, failed.attempt, failed.will_retry) == ("bad", 1, False)


async def test_a_failing_loop_component_is_reported_to_a_summary_sink() -> None:
    p = chain(("bad", QuickWhere([], fail=True), None))
    events: list[Any] = []
    results = [r async for r in p.run_batch([{"bad": {"value": 1}}], sink=events.append)]
    assert not results[0].ok
    assert [e.event for e in events] == ["run_started", "component_failed", "run_failed"]


async def test_a_failure_inside_a_sync_segment_is_reported_too() -> None:
    p = chain(("a", Where([]), None), ("bad", Where([], fail=True), None))
    events: list[Any] = []
    results = [r async for r in p.run_batch([{"a": {"value": 1}}], sink=events.append)]
    assert not results[0].ok
    assert [(e.event, getattr(e, "component", None)) for e in events] == [
        ("run_started", None),
        ("component_failed", "bad"),
        ("run_failed", "bad"),
    ]


def test_an_emitter_builds_only_the_kinds_asked_for() -> None:
    from ragrun.events import ComponentFinished, Emitter, RunFinished

    seen: list[Any] = []
    emit = Emitter("r1", seen.append, kinds=frozenset({"run_finished"}))
    assert emit.wants("run_finished") and not emit.wants("component_finished")
    emit(ComponentFinished, component="x", duration=0.0, outputs={})
    emit(RunFinished, outputs={"y": 1})
    assert [e.event for e in seen] == ["run_finished"]
    assert not Emitter("r2", None).wants("run_finished")
