"""A corpus of pipeline shapes with the outputs and event trace each run must produce.

Each `Shape` builds a small pipeline from the components below, runs it on `data`, and states
what must come out: the outputs, the order in which components finish (as stages: the
components of a stage finish in any order, every stage before the next), and which components
are skipped. Haystack's `pipeline_run.feature` scenario catalogue is the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ragrun import Pipeline, Variadic, component

# -- components -----------------------------------------------------------------------------------


@component
class Add:
    """Sync: value + add."""

    @component.output_types(value=int)
    def run(self, value: int, add: int = 1) -> dict[str, Any]:
        return {"value": value + add}


@component
class AsyncAdd:
    """Async twin of Add, so shapes mix loop and thread components."""

    @component.output_types(value=int)
    def run(self, value: int, add: int = 1) -> dict[str, Any]:
        return {"value": value + add}

    @component.output_types(value=int)
    async def run_async(self, value: int, add: int = 1) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {"value": value + add}


@component
class Router:
    """Sends the value down `big` or `small`, never both (like ConditionalRouter)."""

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold

    @component.output_types(big=int, small=int)
    def run(self, value: int) -> dict[str, Any]:
        return {"big": value} if value > self.threshold else {"small": value}


@component
class Sum:
    """Joins any number of senders."""

    @component.output_types(total=int, items=list[int])
    def run(self, values: Variadic[int]) -> dict[str, Any]:
        return {"total": sum(values), "items": list(values)}


@component
class Combine:
    """A required input and an optional one with a default."""

    @component.output_types(value=int)
    def run(self, value: int, bonus: int = 100) -> dict[str, Any]:
        return {"value": value + bonus}


@component
class Label:
    """Text from a number; its prefix is an optional input."""

    @component.output_types(text=str)
    def run(self, value: int, prefix: str = "n=") -> dict[str, Any]:
        return {"text": f"{prefix}{value}"}


# -- shapes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One scenario: a pipeline, the run's data, and what the run must produce."""

    id: str
    build: Callable[[], Pipeline]
    data: dict[str, Any]
    outputs: dict[str, Any]
    stages: Sequence[set[str]]
    """`component_finished` order: each stage's components finish before the next stage's."""
    skipped: set[str] = field(default_factory=set)
    include_outputs_from: tuple[str, ...] = ()
    yaml: str | None = None
    """A file in `tests/pipelines/yaml/` declaring the same pipeline, to run through the loader."""


def pipeline(
    components: dict[str, Any],
    connections: Sequence[str] = (),
    **options: Any,
) -> Callable[[], Pipeline]:
    """A builder for a pipeline of fresh instances (`name: class`), connected `a.x > b.y`."""

    def build() -> Pipeline:
        p = Pipeline(**options)
        for name, cls in components.items():
            p.add_component(name, cls())
        for connection in connections:
            sender, receiver = (part.strip() for part in connection.split(">"))
            p.connect(sender, receiver)
        return p

    return build


CHAIN = pipeline({"a": Add, "b": AsyncAdd, "c": Add}, ["a.value > b.value", "b.value > c.value"])
FAN = pipeline(
    {"source": Add, "left": Add, "right": AsyncAdd, "join": Sum},
    [
        "source.value > left.value",
        "source.value > right.value",
        "left.value > join.values",
        "right.value > join.values",
    ],
)
ROUTED = pipeline(
    {"router": Router, "big": Add, "after_big": Label, "small": AsyncAdd},
    ["router.big > big.value", "big.value > after_big.value", "router.small > small.value"],
)
JOIN_OPTIONAL = pipeline(
    {"router": Router, "big": Add, "small": Add, "combine": Combine},
    [
        "router.big > big.value",
        "router.small > small.value",
        "big.value > combine.value",
        "small.value > combine.bonus",
    ],
)
PUBLIC = pipeline(
    {"a": Add, "b": AsyncAdd, "label": Label},
    ["a.value > label.value"],
    inputs={"number": ["a.value", "b.value"], "step": ["a.add"]},
    outputs={"text": "label.text", "first": "a.value", "second": "b.value"},
)
ROUTED_PUBLIC = pipeline(
    {"router": Router, "big": Add, "small": Add},
    ["router.big > big.value", "router.small > small.value"],
    inputs={"n": ["router.value"]},
    outputs={"big": "big.value", "small": "small.value"},
)

SHAPES = [
    Shape(
        "chain",
        CHAIN,
        {"value": 1},
        {"c": {"value": 4}},
        [{"a"}, {"b"}, {"c"}],
        yaml="chain.yaml",
    ),
    Shape(
        "chain-nested-data",
        CHAIN,
        {"a": {"value": 10, "add": 5}},
        {"c": {"value": 17}},
        [{"a"}, {"b"}, {"c"}],
        yaml="chain.yaml",
    ),
    Shape(
        "fan-out-fan-in",
        FAN,
        {"source": {"value": 1}},
        {"join": {"total": 6, "items": [3, 3]}},
        [{"source"}, {"left", "right"}, {"join"}],
        yaml="fan.yaml",
    ),
    Shape(
        "fan-in-keeps-connection-order",
        FAN,
        {"source": {"value": 1}, "left": {"add": 10}, "right": {"add": 20}},
        {"join": {"total": 34, "items": [12, 22]}},
        [{"source"}, {"left", "right"}, {"join"}],
        yaml="fan.yaml",
    ),
    Shape(
        "router-big-branch",
        ROUTED,
        {"router": {"value": 5}},
        {"after_big": {"text": "n=6"}},
        [{"router"}, {"big"}, {"after_big"}],
        skipped={"small"},
        yaml="routed.yaml",
    ),
    Shape(
        "router-small-branch-skips-a-chain",
        ROUTED,
        {"router": {"value": 1}},
        {"small": {"value": 2}},
        [{"router"}, {"small"}],
        skipped={"big", "after_big"},
        yaml="routed.yaml",
    ),
    Shape(
        "optional-input-default",
        pipeline({"label": Label}),
        {"value": 7},
        {"label": {"text": "n=7"}},
        [{"label"}],
    ),
    Shape(
        "optional-input-given",
        pipeline({"label": Label}),
        {"value": 7, "prefix": "#"},
        {"label": {"text": "#7"}},
        [{"label"}],
    ),
    Shape(
        "join-with-optional-input-from-a-skipped-branch",
        JOIN_OPTIONAL,
        {"router": {"value": 9}},
        {"combine": {"value": 110}},
        [{"router"}, {"big"}, {"combine"}],
        skipped={"small"},
        yaml="join_optional.yaml",
    ),
    Shape(
        "join-whose-required-input-branch-was-not-taken",
        JOIN_OPTIONAL,
        {"router": {"value": 1}},
        {},
        [{"router"}, {"small"}],
        skipped={"big", "combine"},
        yaml="join_optional.yaml",
    ),
    Shape(
        "variadic-join-of-a-branch-not-taken",
        pipeline(
            {"router": Router, "big": Add, "small": Add, "join": Sum},
            [
                "router.big > big.value",
                "router.small > small.value",
                "big.value > join.values",
                "small.value > join.values",
            ],
        ),
        {"router": {"value": 8}},
        {"join": {"total": 9, "items": [9]}},
        [{"router"}, {"big"}, {"join"}],
        skipped={"small"},
    ),
    Shape(
        "public-inputs-and-outputs",
        PUBLIC,
        {"number": 4, "step": 2},
        {"text": "n=6", "first": 6, "second": 5},
        [{"a", "b"}, {"label"}],
        yaml="public.yaml",
    ),
    Shape(
        "public-output-of-a-branch-not-taken-is-absent",
        ROUTED_PUBLIC,
        {"n": 10},
        {"big": 11},
        [{"router"}, {"big"}],
        skipped={"small"},
    ),
    Shape(
        "include-outputs-from",
        CHAIN,
        {"value": 1},
        {"a": {"value": 2}, "b": {"value": 3}, "c": {"value": 4}},
        [{"a"}, {"b"}, {"c"}],
        include_outputs_from=("a", "b"),
        yaml="chain.yaml",
    ),
    Shape(
        "include-outputs-from-with-public-outputs",
        PUBLIC,
        {"number": 1},
        {"text": "n=2", "first": 2, "second": 2, "label": {"text": "n=2"}},
        [{"a", "b"}, {"label"}],
        include_outputs_from=("label",),
        yaml="public.yaml",
    ),
]
