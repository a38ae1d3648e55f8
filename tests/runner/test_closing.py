"""Pipeline.close / aclose call the components' own close hooks (and their stores')."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ragrun import Pipeline, component


class Store:
    """A document store with both hooks, shared by two components."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def close(self) -> None:
        self.log.append("store.close")

    async def aclose(self) -> None:
        self.log.append("store.aclose")


@component
class Holder:
    """A component holding a sync and an async resource, and maybe a store."""

    def __init__(self, name: str, log: list[str], store: Store | None = None, fail: bool = False):
        self.name, self.log, self.document_store, self.fail = name, log, store, fail

    @component.output_types(value=int)
    def run(self, value: int) -> dict[str, Any]:
        return {"value": value + 1}

    def close(self) -> None:
        self.log.append(f"{self.name}.close")
        if self.fail:
            raise OSError("disk gone")

    async def aclose(self) -> None:
        self.log.append(f"{self.name}.aclose")


@component
class Plain:
    @component.output_types(value=int)
    def run(self, value: int) -> dict[str, Any]:
        return {"value": value}


def pipeline(log: list[str], *, fail: bool = False) -> Pipeline:
    store = Store(log)
    p = Pipeline()
    p.add_component("a", Holder("a", log, store, fail=fail))
    p.add_component("b", Holder("b", log, store))
    p.add_component("c", Plain())  # no hooks at all
    p.connect("a.value", "b.value")
    p.connect("b.value", "c.value")
    return p


def test_close_calls_every_close_hook_and_a_shared_store_once() -> None:
    log: list[str] = []
    p = pipeline(log)
    p.close()
    assert log == ["a.close", "store.close", "b.close"]


@pytest.mark.anyio
async def test_aclose_awaits_the_async_hooks_then_the_sync_ones() -> None:
    log: list[str] = []
    p = pipeline(log)
    await p.aclose()
    assert log == ["a.aclose", "store.aclose", "b.aclose", "a.close", "store.close", "b.close"]


def test_a_failing_hook_does_not_stop_the_others(caplog) -> None:
    log: list[str] = []
    p = pipeline(log, fail=True)
    with caplog.at_level(logging.WARNING), pytest.raises(OSError, match="disk gone"):
        p.close()
    assert log == ["a.close", "store.close", "b.close"]
    assert "closing a failed: OSError: disk gone" in caplog.text


def test_a_closed_pipeline_runs_again() -> None:
    log: list[str] = []
    p = pipeline(log)
    assert p.run({"a": {"value": 1}})["c"]["value"] == 3
    p.close()
    assert p.run({"a": {"value": 1}})["c"]["value"] == 3


@pytest.mark.anyio
async def test_closing_after_closes_only_a_block_that_ended_normally() -> None:
    import anyio

    from ragrun.closing import closing_after

    log: list[str] = []
    async with closing_after(pipeline(log)) as closing:
        pass
    assert "a.aclose" in log and "a.close" in log and closing.error is None

    log.clear()
    with pytest.raises(RuntimeError, match="the run failed"):
        async with closing_after(pipeline(log)):
            raise RuntimeError("the run failed")
    assert log == []  # the block's own error stands, and nothing is closed under it

    with anyio.CancelScope() as scope:
        async with closing_after(pipeline(log)):
            scope.cancel()
            await anyio.sleep(1)  # cancelled here: interrupted, so nothing is closed
    assert log == []


@pytest.mark.anyio
async def test_closing_after_keeps_a_close_error_instead_of_raising() -> None:
    from ragrun.closing import closing_after

    async with closing_after(pipeline([], fail=True)) as closing:
        pass
    assert isinstance(closing.error, OSError)
    assert closing.message() == "closing the pipeline failed: OSError: disk gone"
