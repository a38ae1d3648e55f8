"""Every shape of the corpus: its outputs, its event trace, the same through every API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ragrun import Pipeline
from ragrun.jsonl import to_jsonable
from tests.pipelines.shapes import SHAPES, Shape

pytestmark = pytest.mark.anyio

YAML_DIR = Path(__file__).parent / "yaml"

CASES = [pytest.param(shape, id=shape.id) for shape in SHAPES]
YAML_CASES = [pytest.param(shape, id=shape.id) for shape in SHAPES if shape.yaml]


def from_yaml(shape: Shape) -> Callable[[], Pipeline]:
    assert shape.yaml is not None
    return lambda: Pipeline.load(YAML_DIR / shape.yaml)


async def stream_events(shape: Shape, build: Callable[[], Pipeline] | None = None) -> list[Any]:
    p = (build or shape.build)()
    with anyio.fail_after(10):
        stream = p.stream(shape.data, include_outputs_from=shape.include_outputs_from)
        return [event async for event in stream]


@pytest.mark.parametrize("shape", CASES)
async def test_outputs(shape: Shape) -> None:
    p = shape.build()
    outputs = await p.run_async(shape.data, include_outputs_from=shape.include_outputs_from)
    assert outputs == shape.outputs


@pytest.mark.parametrize("shape", CASES)
async def test_event_trace(shape: Shape) -> None:
    check_trace(shape, await stream_events(shape))


@pytest.mark.parametrize("shape", YAML_CASES)
async def test_the_yaml_version_runs_the_same(shape: Shape) -> None:
    check_trace(shape, await stream_events(shape, from_yaml(shape)))


def check_trace(shape: Shape, events: list[Any]) -> None:
    kinds = [e.event for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert events[-1].outputs == shape.outputs
    assert {e.component for e in events if e.event == "component_skipped"} == shape.skipped
    finished = [e.component for e in events if e.event == "component_finished"]
    stages = []
    for stage in shape.stages:
        stages.append(set(finished[: len(stage)]))
        finished = finished[len(stage) :]
    assert stages == list(shape.stages)
    assert finished == []
    assert len({e.run for e in events}) == 1


@pytest.mark.parametrize("shape", CASES)
def test_the_sync_api_gives_the_same_outputs(shape: Shape) -> None:
    p = shape.build()
    assert p.run(shape.data, include_outputs_from=shape.include_outputs_from) == shape.outputs


@pytest.mark.parametrize("shape", CASES)
async def test_every_event_is_json(shape: Shape) -> None:
    for event in await stream_events(shape):
        data = to_jsonable(event)
        assert data["event"] == event.event
