"""Sockets: the typed inputs and outputs of a component, and the `Variadic` marker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, get_args, get_origin

T = TypeVar("T")


class _NoDefault:
    """Sentinel for a socket without a default value: such an input is required."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __reduce__(self) -> str:  # keeps the singleton across pickling (process pools)
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()

VARIADIC_MARKER = "ragrun.variadic"


class Variadic:
    """`Variadic[T]` marks an input that accepts many senders and receives a `list[T]`.

    The run waits until every sender has delivered or can no longer deliver, then calls the
    component once with the values that arrived, in connection order.
    """

    def __class_getitem__(cls, item: Any) -> Any:
        return Annotated[list[item], VARIADIC_MARKER]


def unwrap_variadic(annotation: Any) -> tuple[Any, bool]:
    """Split a parameter annotation into (socket type, is variadic).

    Understands ragrun's `Variadic[T]` and Haystack's `Variadic[T]` / `GreedyVariadic[T]`
    (an `Annotated[Iterable[T], marker]`), so Haystack components are read the same way.
    """
    if get_origin(annotation) is Annotated:
        base, *markers = get_args(annotation)
        if any(_is_variadic_marker(m) for m in markers):
            args = get_args(base)
            return (args[0] if args else Any), True
    return annotation, False


def _is_variadic_marker(marker: Any) -> bool:
    return marker == VARIADIC_MARKER or (
        isinstance(marker, str) and marker.startswith("__haystack__") and "variadic" in marker
    )


@dataclass(frozen=True)
class InputSocket:
    """One input of a component: a parameter of its `run` method."""

    name: str
    type: Any
    default: Any = NO_DEFAULT
    variadic: bool = False
    """True for `Variadic[T]`: many senders, the component receives `list[type]`."""

    @property
    def is_required(self) -> bool:
        """A socket without a default must be fed by a connection or by the run's data."""
        return self.default is NO_DEFAULT

    @property
    def value_type(self) -> Any:
        """The type of the value the component receives (a list for a variadic socket)."""
        return list[self.type] if self.variadic else self.type  # type: ignore[name-defined]


@dataclass(frozen=True)
class OutputSocket:
    """One output of a component: a key of the dict its `run` returns."""

    name: str
    type: Any


@dataclass(frozen=True)
class Sockets:
    """The inputs and outputs of one component instance."""

    inputs: Mapping[str, InputSocket] = field(default_factory=dict)
    outputs: Mapping[str, OutputSocket] = field(default_factory=dict)
