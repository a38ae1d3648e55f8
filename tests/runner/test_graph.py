"""Graph.build: sender counts, outgoing edges, topological order, cycles reported by name."""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import Pipeline, PipelineValidationError, component
from ragrun.graph import Edge, Graph
from tests.runner.sample_components import Gather


@component
class Step:
    @component.output_types(out=str, other=str)
    def run(self, text: str, extra: str = "") -> dict[str, Any]:
        return {"out": text}


def build(names: str, *connections: str) -> Pipeline:
    """A pipeline of Step components named by `names` (space-separated), then connected."""
    p = Pipeline()
    for name in names.split():
        p.add_component(name, Gather() if name.startswith("g") else Step())
    for connection in connections:
        sender, receiver = connection.split(">")
        p.connect(sender.strip(), receiver.strip())
    return p


def test_sender_counts_cover_every_socket_and_count_variadic_senders() -> None:
    p = build("a b g", "a.out > g.texts", "b.out > g.texts", "a.other > b.text")
    graph = p.graph()
    assert graph.senders == {
        "a": {"text": 0, "extra": 0},
        "b": {"text": 1, "extra": 0},
        "g": {"texts": 2},
    }


def test_outgoing_groups_edges_by_sender_socket_with_variadic_slots() -> None:
    p = build("a b g", "a.out > g.texts", "b.out > g.texts", "a.other > b.text")
    graph = p.graph()
    assert graph.outgoing["a"] == {
        "out": (Edge("g", "texts", 0),),
        "other": (Edge("b", "text", 0),),
    }
    assert graph.outgoing["b"] == {"out": (Edge("g", "texts", 1),)}
    assert graph.outgoing["g"] == {}
    assert graph.is_consumed("a", "out") and not graph.is_consumed("b", "other")
    assert [str(c) for c in graph.incoming["g"]] == ["a.out -> g.texts", "b.out -> g.texts"]


@pytest.mark.parametrize(
    ("names", "connections", "order"),
    [
        pytest.param("a b c", ["a.out > b.text", "b.out > c.text"], "a b c", id="chain"),
        pytest.param(
            "c b a", ["a.out > b.text", "b.out > c.text"], "a b c", id="chain-added-backwards"
        ),
        pytest.param(
            "a b c g",
            ["a.out > b.text", "a.other > c.text", "b.out > g.texts", "c.out > g.texts"],
            "a b c g",
            id="diamond",
        ),
        pytest.param("x y", [], "x y", id="unconnected-keep-insertion-order"),
    ],
)
def test_topological_order(names: str, connections: list[str], order: str) -> None:
    assert build(names, *connections).graph().order == tuple(order.split())


@pytest.mark.parametrize(
    ("names", "connections", "cycle"),
    [
        pytest.param("a b", ["a.out > b.text", "b.out > a.text"], "a -> b -> a", id="two"),
        pytest.param(
            "a b c",
            ["a.out > b.text", "b.out > c.text", "c.out > a.text"],
            "a -> b -> c -> a",
            id="three",
        ),
        pytest.param(
            "s a b d",
            ["s.out > a.text", "a.out > b.text", "b.out > a.extra", "b.other > d.text"],
            "a -> b -> a",
            id="cycle-between-a-source-and-a-sink",
        ),
        pytest.param("a", ["a.out > a.text"], "a -> a", id="self-loop"),
    ],
)
def test_a_cycle_is_named(names: str, connections: list[str], cycle: str) -> None:
    p = build(names, *connections)
    with pytest.raises(PipelineValidationError) as info:
        p.graph()
    [problem] = info.value.problems
    assert problem.where == "connections"
    assert problem.message == (
        f"the connections form a cycle: {cycle}; loops are not supported yet "
        "(remove one of these connections)"
    )


def test_allow_cycles_builds_the_acyclic_part_in_order() -> None:
    p = build("s a b", "s.out > a.text", "a.out > b.text", "b.out > a.extra")
    graph = Graph.build(p, allow_cycles=True)
    assert graph.order == ("s",)
    assert graph.senders["a"] == {"text": 1, "extra": 1}


def test_an_unfed_required_socket_is_fine() -> None:
    graph = build("a b", "a.out > b.extra").graph()
    assert graph.senders["b"]["text"] == 0


def test_graph_is_built_once_and_rebuilt_after_a_change() -> None:
    p = build("a b")
    first = p.graph()
    assert p.graph() is first
    p.connect("a.out", "b.text")
    second = p.graph()
    assert second is not first
    assert second.senders["b"]["text"] == 1
