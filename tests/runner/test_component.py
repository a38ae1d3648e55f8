"""The @component decorator: sockets from signatures, output types, run/run_async parity."""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import ComponentDefinitionError, Variadic, component, sockets_of
from ragrun.component import has_run_async, init_parameters_of
from ragrun.sockets import NO_DEFAULT


@component
class Upper:
    def __init__(self, suffix: str = "!"):
        self.suffix = suffix

    @component.output_types(text=str, length=int)
    def run(self, text: str, times: int = 1) -> dict[str, Any]:
        out = (text.upper() + self.suffix) * times
        return {"text": out, "length": len(out)}

    @component.output_types(text=str, length=int)
    async def run_async(self, text: str, times: int = 1) -> dict[str, Any]:
        return self.run(text, times)


@component
class Join:
    @component.output_types(joined=str)
    def run(self, parts: Variadic[str], sep: str = " ") -> dict[str, Any]:
        return {"joined": sep.join(parts)}


@component
class Template:
    def __init__(self, variables: list[str]):
        for name in variables:
            component.set_input_type(self, name, str, default="")
        component.set_output_types(self, prompt=str)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return {"prompt": " ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))}


def test_sockets_come_from_run_signature() -> None:
    sockets = sockets_of(Upper())
    assert list(sockets.inputs) == ["text", "times"]
    assert sockets.inputs["text"].is_required and sockets.inputs["text"].default is NO_DEFAULT
    assert not sockets.inputs["times"].is_required and sockets.inputs["times"].default == 1
    assert {n: s.type for n, s in sockets.outputs.items()} == {"text": str, "length": int}


def test_variadic_socket_receives_a_list() -> None:
    socket = sockets_of(Join()).inputs["parts"]
    assert socket.variadic and socket.type is str and socket.value_type == list[str]


def test_per_instance_sockets_do_not_leak_between_instances() -> None:
    a, b = Template(["question"]), Template(["context", "query"])
    assert list(sockets_of(a).inputs) == ["question"]
    assert list(sockets_of(b).inputs) == ["context", "query"]
    assert list(sockets_of(b).outputs) == ["prompt"]


def test_init_parameters_record_only_what_was_passed() -> None:
    assert init_parameters_of(Upper()) == {}
    assert init_parameters_of(Upper(suffix="?")) == {"suffix": "?"}
    assert init_parameters_of(Upper("?")) == {"suffix": "?"}


def test_run_async_is_detected() -> None:
    assert has_run_async(Upper()) and not has_run_async(Join())


def _define(kind: str) -> None:
    if kind == "no-run":

        @component
        class NoRun:
            pass

    elif kind == "async-run":

        @component
        class AsyncRun:
            async def run(self, x: int) -> dict[str, Any]:
                return {}

    elif kind == "inputs-differ":

        @component
        class InputsDiffer:
            def run(self, x: int) -> dict[str, Any]:
                return {}

            async def run_async(self, x: str) -> dict[str, Any]:
                return {}

    elif kind == "outputs-differ":

        @component
        class OutputsDiffer:
            @component.output_types(a=int)
            def run(self, x: int) -> dict[str, Any]:
                return {}

            @component.output_types(b=int)
            async def run_async(self, x: int) -> dict[str, Any]:
                return {}

    elif kind == "sync-twin":

        @component
        class SyncTwin:
            def run(self, x: int) -> dict[str, Any]:
                return {}

            def run_async(self, x: int) -> dict[str, Any]:
                return {}

    elif kind == "star-args":

        @component
        class StarArgs:
            def run(self, *xs: int) -> dict[str, Any]:
                return {}


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param("no-run", "NoRun has no run() method", id="no-run"),
        pytest.param("async-run", "run is async: name it run_async", id="async-run"),
        pytest.param(
            "inputs-differ",
            "run_async must take the same inputs as run: run has (x: int), run_async has (x: str)",
            id="inputs-differ",
        ),
        pytest.param(
            "outputs-differ",
            "must declare the same output types as run: run has (a: int), run_async has (b: int)",
            id="outputs-differ",
        ),
        pytest.param("sync-twin", "run_async must be defined with 'async def'", id="sync-twin"),
        pytest.param("star-args", "sockets must be named parameters", id="star-args"),
    ],
)
def test_definition_errors_are_raised_when_the_class_is_defined(kind: str, message: str) -> None:
    with pytest.raises(ComponentDefinitionError, match=None) as info:
        _define(kind)
    assert message in str(info.value)


def test_non_component_is_rejected_by_sockets_of() -> None:
    with pytest.raises(ComponentDefinitionError, match="decorate its class with @component"):
        sockets_of(object())
