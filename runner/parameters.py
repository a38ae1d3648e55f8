"""A component class's init parameters, read from `__init__`, and YAML values checked against them.

Both the loader (to check `init_parameters` before building) and the schema generator (a
branch per built-in) read constructors here, so they agree on what a parameter is.

Values are type-checked only where the annotation is plain data (`str`, `int`, `float`, `bool`,
`None`, `Any`, `Literal`, an `Enum`, and lists, dicts, tuples and unions of those). Parameters
annotated with other classes (`Callable`, `ChatMessage`, a document store) are left to the
component's constructor, which knows the serialized forms it accepts.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .sockets import NO_DEFAULT
from .spec import arms, describe
from .typecheck import type_name

UNKNOWN: Any = object()
_REFUSED: Any = object()
"""The annotation of a parameter whose annotation cannot be evaluated."""


@dataclass(frozen=True)
class InitParameter:
    """One keyword argument of a component's `__init__`."""

    name: str
    annotation: Any
    """The evaluated annotation, `Any` when absent, `UNKNOWN` when it cannot be evaluated."""
    default: Any = NO_DEFAULT

    @property
    def required(self) -> bool:
        """A parameter without a default must be given."""
        return self.default is NO_DEFAULT

    def expected(self) -> str:
        """The annotation as messages show it: `int`, `one of 'word', 'sentence'`."""
        return expected_text(self.annotation)


@dataclass(frozen=True)
class InitSignature:
    """What `__init__` accepts: named parameters, and whether it takes `**kwargs` too."""

    parameters: Mapping[str, InitParameter]
    takes_any: bool = False


def init_signature(cls: type) -> InitSignature:
    """Read the keyword parameters of `cls.__init__` (cached per class)."""
    return _init_signature(cls)


@functools.cache
def _init_signature(cls: Any) -> InitSignature:
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        return InitSignature({})
    try:
        signature = inspect.signature(init)
    except (TypeError, ValueError):
        return InitSignature({}, takes_any=True)
    hints = _hints(init)
    params: dict[str, InitParameter] = {}
    takes_any = False
    for param in list(signature.parameters.values())[1:]:
        if param.kind is param.VAR_KEYWORD:
            takes_any = True
        elif param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            annotation = hints.get(
                param.name, UNKNOWN if param.annotation is not param.empty else Any
            )
            default = NO_DEFAULT if param.default is param.empty else param.default
            params[param.name] = InitParameter(param.name, annotation, default)
    return InitSignature(params, takes_any)


def _hints(init: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(init, include_extras=True)
    except Exception:  # one unresolvable name (a TYPE_CHECKING import) spoils them all
        pass
    target = inspect.unwrap(init)
    module = sys.modules.get(getattr(target, "__module__", ""), None)
    namespace = dict(vars(module)) if module is not None else {}
    hints = {}
    for name, annotation in getattr(target, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        except Exception:
            continue
    return hints


def check_value(annotation: Any, value: Any, found: str | None = None) -> tuple[Any, str | None]:
    """Check one YAML value; return (the value to pass, a message when it does not fit).

    A string given where an `int`, `float` or `bool` is expected is converted (values filled
    from `${VAR}` are strings); every other value is passed as written. `found` is how the
    message shows the value (a value filled from the environment is shown as its reference).
    """
    adapter = _adapter(annotation)
    if adapter is None:
        return value, None
    from pydantic import ValidationError

    try:
        checked = adapter.validate_python(value)
    except ValidationError:
        checked = _REFUSED
    if checked is _REFUSED or (isinstance(value, bool) and not isinstance(checked, bool)):
        # pydantic's lax mode reads `true` as 1; in YAML that is a mistake, not a number
        shown = found if found is not None else describe(value)
        return value, f"expected {expected_text(annotation)}, found {shown}"
    if isinstance(value, str) and isinstance(checked, (int, float, bool)):
        return checked, None
    return value, None


def is_secret_class(annotation: Any) -> bool:
    """ragrun's `Secret`, or Haystack's (known by name: importing haystack costs too much)."""
    if not isinstance(annotation, type):
        return False
    from .secrets import Secret

    return issubclass(annotation, Secret) or (
        annotation.__name__ == "Secret" and annotation.__module__.startswith("haystack")
    )


def wants_secret(annotation: Any) -> bool:
    """True when the parameter takes a `Secret` and no plain string: a key must not be inline."""
    options = arms(annotation)
    return any(is_secret_class(a) for a in options) and not any(
        a is Any or a is UNKNOWN or a is str or a is object for a in options
    )


def item_annotation(annotation: Any) -> Any:
    """What each item of a list parameter is annotated with: `list[Tool] | None` -> `Tool`."""
    for arm in arms(annotation):
        origin, args = typing.get_origin(arm), typing.get_args(arm)
        if origin in (list, tuple, set, frozenset, collections.abc.Sequence) and args:
            return args[0]
    return Any


def class_fits(cls: type, annotation: Any) -> bool:
    """Whether an instance of `cls` fits `annotation`, as far as can be told from classes.

    An annotation that says nothing checkable about classes (`Any`, a protocol that is not
    runtime-checkable, a type variable) accepts it; `str`, `dict[str, Any]` or a class that is
    not a base of `cls` do not.
    """
    for arm in arms(annotation):
        target = typing.get_origin(arm) or arm
        if target is Any or arm is UNKNOWN or not isinstance(target, type):
            return True  # a TypeVar, a string annotation, a special form: cannot judge
        if target is collections.abc.Callable:
            # every class is callable (it builds an instance); are its instances?
            if any("__call__" in vars(k) for k in cls.__mro__ if k is not object):
                return True
            continue
        try:
            if issubclass(cls, target):
                return True
        except TypeError:  # a protocol without @runtime_checkable: cannot judge
            return True
    return False


def annotated_classes(annotation: Any) -> list[type]:
    """The concrete classes an annotation names (its arms and list items), `object` excepted."""
    found = []
    for arm in [*arms(annotation), *arms(item_annotation(annotation))]:
        if isinstance(arm, type) and arm is not object and arm not in _PLAIN:
            found.append(arm)
    return found


def _adapter(annotation: Any) -> Any:
    if annotation is UNKNOWN or annotation is Any or not is_plain_data(annotation):
        return None
    try:
        return _cached_adapter(annotation)
    except TypeError:  # unhashable annotation: build it uncached
        return _build_adapter(annotation)


@functools.lru_cache(maxsize=512)
def _cached_adapter(annotation: Any) -> Any:
    return _build_adapter(annotation)


def _build_adapter(annotation: Any) -> Any:
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(annotation)
    except Exception:  # pydantic cannot describe it: leave it to the constructor
        return None


_PLAIN = (str, int, float, bool, bytes, type(None))
_CONTAINERS = (
    list,
    dict,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.Mapping,
    collections.abc.Iterable,
)


def is_plain_data(annotation: Any) -> bool:
    """True when YAML data can be checked against `annotation` without knowing a class."""
    if annotation is Any or annotation in _PLAIN:
        return True
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return True
    if origin is typing.Annotated:
        return is_plain_data(args[0])
    if origin in (typing.Union, types.UnionType) or origin in _CONTAINERS:
        return all(a is Ellipsis or is_plain_data(a) for a in args)
    return annotation in _CONTAINERS


def expected_text(annotation: Any) -> str:
    """A readable expectation: `int`, `one of 'word', 'sentence'`, `list[str] | None`."""
    if annotation is UNKNOWN:
        return "a value"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(expected_text(a) for a in args)
    return type_name(annotation)
