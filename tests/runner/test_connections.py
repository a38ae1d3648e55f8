"""Connecting sockets through Pipeline.connect: short forms, messages, fed-twice."""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import Pipeline, PipelineValidationError, component
from tests.runner.sample_components import Gather


@component
class Source:
    @component.output_types(text=str, count=int)
    def run(self, seed: str) -> dict[str, Any]:
        return {"text": seed, "count": 1}


@component
class Sink:
    @component.output_types(done=bool)
    def run(self, text: str, flag: bool = False) -> dict[str, Any]:
        return {"done": True}


def _pipeline() -> Pipeline:
    p = Pipeline()
    p.add_component("src", Source())
    p.add_component("sink", Sink())
    p.add_component("gather", Gather())
    return p


def test_short_forms_pick_the_only_compatible_pair() -> None:
    p = _pipeline()
    p.connect("src", "sink")
    [c] = p.connections
    assert (c.sender_socket, c.receiver_socket) == ("text", "text")


def test_variadic_accepts_many_senders() -> None:
    p = _pipeline()
    p.add_component("src2", Source())
    p.connect("src.text", "gather.texts").connect("src2.text", "gather.texts")
    assert len(p.connections) == 2


@pytest.mark.parametrize(
    ("sender", "receiver", "message"),
    [
        pytest.param(
            "src.txt",
            "sink.text",
            "connect: 'src.txt' is not an output of 'src' (Source); its outputs are text (str), "
            "count (int). Did you mean 'text'?",
            id="unknown-output",
        ),
        pytest.param(
            "src.text",
            "sink.txet",
            "connect: 'sink.txet' is not an input of 'sink' (Sink); its inputs are text (str), "
            "flag (bool). Did you mean 'text'?",
            id="unknown-input",
        ),
        pytest.param(
            "scr.text",
            "sink.text",
            "connect: no component named 'scr'; components are gather, sink, src. "
            "Did you mean 'src'?",
            id="unknown-component",
        ),
        pytest.param(
            "src.count",
            "sink.text",
            "connect: 'src.count' (int) cannot feed 'sink.text' (str): the types are incompatible",
            id="incompatible",
        ),
    ],
)
def test_connection_errors_say_what_was_expected_and_found(
    sender: str, receiver: str, message: str
) -> None:
    with pytest.raises(PipelineValidationError) as info:
        _pipeline().connect(sender, receiver)
    assert str(info.value) == message


def test_a_socket_fed_twice_is_rejected() -> None:
    p = _pipeline()
    p.add_component("src2", Source())
    p.connect("src.text", "sink.text")
    fed_twice = r"'sink\.text' is already fed by 'src\.text'"
    with pytest.raises(PipelineValidationError, match=fed_twice):
        p.connect("src2.text", "sink.text")
