"""RunState: counters decide when components are ready or skipped, without running anything."""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import Pipeline, component
from ragrun.readiness import RunState, Skip, Status, Step
from tests.runner.sample_components import Gather


@component
class Router:
    @component.output_types(left=str, right=str)
    def run(self, text: str) -> dict[str, Any]:
        return {"left": text}


@component
class Step_:
    @component.output_types(out=str)
    def run(self, text: str, extra: str = "") -> dict[str, Any]:
        return {"out": text + extra}


@component
class OptionalOnly:
    @component.output_types(out=str)
    def run(self, extra: str = "") -> dict[str, Any]:
        return {"out": extra}


KINDS = {"r": Router, "s": Step_, "o": OptionalOnly, "g": Gather}


def state(spec: str, *connections: str, inputs: dict[str, Any] | None = None) -> RunState:
    """Components named by `spec`; the first letter of a name picks its class (see KINDS)."""
    p = Pipeline()
    for name in spec.split():
        p.add_component(name, KINDS[name[0]]())
    for connection in connections:
        sender, receiver = (part.strip() for part in connection.split(">"))
        p.connect(sender, receiver)
    return RunState(p.graph(), inputs or {})


def test_a_chain_runs_one_after_the_other() -> None:
    run = state("s1 s2", "s1.out > s2.text", inputs={"s1": {"text": "x"}})
    assert run.start() == Step(ready=["s1"])
    assert run.inputs_for("s1") == {"text": "x"}
    assert run.finish("s1", {"out": "y"}) == Step(ready=["s2"])
    assert run.inputs_for("s2") == {"text": "y"}
    assert run.finish("s2", {"out": "z"}) == Step()
    assert run.unfinished() == []


def test_a_branch_not_taken_skips_its_receivers_and_everything_behind_them() -> None:
    run = state(
        "r s1 s2 s3",
        "r.left > s1.text",
        "r.right > s2.text",
        "s2.out > s3.text",
        inputs={"r": {"text": "x"}},
    )
    assert run.start().ready == ["r"]
    step = run.finish("r", {"left": "x"})
    assert step.ready == ["s1"]
    assert step.skipped == [
        Skip("s2", "none of its senders delivered a value"),
        Skip("s3", "none of its senders delivered a value"),
    ]
    assert run.status["s3"] is Status.SKIPPED


def test_a_missing_required_input_skips_even_when_another_socket_got_a_value() -> None:
    run = state("r s", "r.right > s.text", "r.left > s.extra", inputs={"r": {"text": "x"}})
    run.start()
    step = run.finish("r", {"left": "x"})
    assert step == Step(skipped=[Skip("s", "its required input 'text' received no value")])


def test_an_optional_input_from_a_skipped_branch_is_left_to_its_default() -> None:
    run = state("r s", "r.left > s.text", "r.right > s.extra", inputs={"r": {"text": "x"}})
    run.start()
    assert run.finish("r", {"left": "x"}).ready == ["s"]
    assert run.inputs_for("s") == {"text": "x"}


def test_a_component_fed_only_optional_inputs_by_a_branch_not_taken_is_skipped() -> None:
    run = state("r o", "r.right > o.extra", inputs={"r": {"text": "x"}})
    run.start()
    assert run.finish("r", {"left": "x"}).skipped == [
        Skip("o", "none of its senders delivered a value")
    ]


def test_a_component_nothing_feeds_runs_with_its_defaults() -> None:
    assert state("o").start() == Step(ready=["o"])


def test_variadic_values_come_in_connection_order_whatever_the_finishing_order() -> None:
    run = state(
        "s1 s2 s3 g",
        "s1.out > g.texts",
        "s2.out > g.texts",
        "s3.out > g.texts",
        inputs={name: {"text": name} for name in ("s1", "s2", "s3")},
    )
    assert run.start().ready == ["s1", "s2", "s3"]
    assert run.finish("s3", {"out": "3"}) == Step()
    assert run.finish("s1", {"out": "1"}) == Step()
    assert run.finish("s2", {"out": "2"}) == Step(ready=["g"])
    assert run.inputs_for("g") == {"texts": ["1", "2", "3"]}


def test_a_variadic_socket_runs_with_the_values_that_arrived() -> None:
    run = state("r g", "r.left > g.texts", "r.right > g.texts", inputs={"r": {"text": "x"}})
    run.start()
    assert run.finish("r", {"right": "b"}).ready == ["g"]
    assert run.inputs_for("g") == {"texts": ["b"]}


def test_a_required_variadic_socket_with_no_value_is_skipped() -> None:
    run = state("r g", "r.left > g.texts", inputs={"r": {"text": "x"}})
    run.start()
    assert run.finish("r", {"right": "b"}).skipped == [
        Skip("g", "none of its senders delivered a value")
    ]


def test_a_run_value_for_a_variadic_socket_comes_first() -> None:
    run = state("s g", "s.out > g.texts", inputs={"s": {"text": "x"}, "g": {"texts": "given"}})
    run.start()
    run.finish("s", {"out": "sent"})
    assert run.inputs_for("g") == {"texts": ["given", "sent"]}


def test_a_value_of_none_counts_as_delivered() -> None:
    run = state("r s", "r.left > s.text", inputs={"r": {"text": "x"}})
    run.start()
    assert run.finish("r", {"left": None}).ready == ["s"]
    assert run.inputs_for("s") == {"text": None}


def test_values_are_passed_by_reference() -> None:
    value = ["not", "copied"]
    run = state("s1 s2", "s1.out > s2.text", inputs={"s1": {"text": "x"}})
    run.start()
    run.finish("s1", {"out": value})
    assert run.inputs_for("s2")["text"] is value


def test_finishing_a_component_that_is_not_running_is_a_bug() -> None:
    run = state("s1 s2", "s1.out > s2.text", inputs={"s1": {"text": "x"}})
    run.start()
    with pytest.raises(RuntimeError, match="'s2' finished while waiting"):
        run.finish("s2", {})


def test_waits_name_each_socket_and_the_senders_still_pending() -> None:
    given = {"s1": {"text": "a"}, "s2": {"text": "b"}}
    run = state("s1 s2 g", "s1.out > g.texts", "s2.out > g.texts", inputs=given)
    run.start()
    run.finish("s1", {"out": "a"})
    [wait] = run.waits()
    assert (wait.component, wait.socket, wait.senders) == ("g", "texts", ("s2.out",))
    assert run.unfinished() == ["s2", "g"]
