"""Event models: the JSON Schema they generate, parsing back, and the run's Emitter."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from ragrun.events import (
    EVENT_TYPES,
    Chunk,
    ComponentFailed,
    ComponentFinished,
    Emitter,
    ErrorInfo,
    Event,
    Origin,
    RunStarted,
    events_schema,
    parse_event,
)
from ragrun.jsonl import dumps_line, to_jsonable


def test_the_union_lists_every_event_type() -> None:
    union = get_args(get_args(Event)[0])
    assert set(union) == set(EVENT_TYPES)


def test_schema_has_one_branch_per_event_kind_told_apart_by_event() -> None:
    schema = events_schema()
    kinds = {
        schema["$defs"][ref.rsplit("/", 1)[1]]["properties"]["event"]["const"]
        for ref in (branch["$ref"] for branch in schema["oneOf"])
    }
    assert kinds == {
        "run_started",
        "component_started",
        "component_finished",
        "component_skipped",
        "chunk",
        "component_failed",
        "run_finished",
        "run_failed",
    }
    assert schema["discriminator"]["propertyName"] == "event"


@pytest.mark.parametrize("model", EVENT_TYPES, ids=lambda m: m.__name__)
def test_every_field_is_documented_and_the_common_ones_are_required(model: type) -> None:
    definition = events_schema()["$defs"][model.__name__]
    assert definition["description"]
    undocumented = [n for n, p in definition["properties"].items() if not p.get("description")]
    assert undocumented == []
    assert {"event", "run", "t"} <= set(definition["required"])
    assert "index" not in definition["required"] and "line" not in definition["required"]


def test_a_written_event_parses_back() -> None:
    event = ComponentFailed(
        run="r1",
        t=1.5,
        component="llm",
        attempt=2,
        error=ErrorInfo(type="RateLimitError", message="slow down"),
        will_retry=True,
    )
    data = to_jsonable(event)
    assert parse_event(data) == event


def test_emitter_stamps_run_time_and_batch_position() -> None:
    seen: list[Any] = []
    emit = Emitter("r9", seen.append, origin=Origin(index=3, line=4))
    emit(Chunk, component="llm", content="The")
    [chunk] = seen
    assert (chunk.run, chunk.index, chunk.line, chunk.content) == ("r9", 3, 4, "The")
    assert chunk.t >= 0


def test_emitter_without_a_sink_builds_nothing() -> None:
    emit = Emitter("r1")
    assert not emit.enabled
    emit(RunStarted)  # missing fields would fail validation if the event were built


def test_event_lines_start_with_event_run_and_t() -> None:
    line = dumps_line(
        ComponentFinished(run="r1", t=0.5, component="a", duration=0.1, outputs={"x": 1})
    )
    assert line == (
        b'{"event":"component_finished","run":"r1","t":0.5,"component":"a",'
        b'"duration":0.1,"outputs":{"x":1}}\n'
    )
