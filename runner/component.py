"""The `@component` decorator: sockets read from `run`'s signature, checked when a class is defined.

A component is any class with a `run(**inputs) -> dict` method. Its input sockets are `run`'s
parameters (a default makes one optional, `Variadic[T]` makes one accept many senders) and its
output sockets are declared with `@component.output_types(...)`. An optional `run_async` must
have exactly the same sockets; a mismatch is a `ComponentDefinitionError` raised at class
definition, not a surprise at run time. Components whose sockets depend on their init parameters
(a prompt template's variables) declare them per instance with `component.set_input_types`.

Classes decorated with Haystack's `@component` are read through the same `sockets_of` view.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ComponentDefinitionError
from .sockets import NO_DEFAULT, InputSocket, OutputSocket, Sockets, unwrap_variadic
from .typecheck import type_name

C = TypeVar("C", bound=type)

_OUTPUTS_ATTR = "__ragrun_output_types__"
_CLASS_ATTR = "__ragrun_component__"
_INSTANCE_ATTR = "__ragrun_sockets__"
_INIT_ATTR = "__ragrun_init_parameters__"


@dataclass(frozen=True)
class ComponentInfo:
    """What the decorator learned about a component class."""

    sockets: Sockets
    has_run_async: bool
    takes_any_kwargs: bool
    """`run(**kwargs)`: its sockets are declared per instance with `set_input_types`."""


class _Component:
    """The `component` object: a class decorator with helpers hung on it, as in Haystack."""

    def __call__(self, cls: C) -> C:
        if not isinstance(cls, type):
            raise ComponentDefinitionError(f"@component decorates classes, not {cls!r}")
        setattr(cls, _CLASS_ATTR, _inspect_class(cls))
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls.__init__)  # type: ignore[misc]
        return cls

    @staticmethod
    def output_types(**types: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare the output sockets of `run` / `run_async`: `name=type` for each dict key."""

        def mark(method: Callable[..., Any]) -> Callable[..., Any]:
            setattr(method, _OUTPUTS_ATTR, dict(types))
            return method

        return mark

    @staticmethod
    def set_input_types(instance: Any, **types: Any) -> None:
        """Add required input sockets to one instance (its `run` takes `**kwargs`)."""
        for name, type_ in types.items():
            _Component.set_input_type(instance, name, type_)

    @staticmethod
    def set_input_type(instance: Any, name: str, type_: Any, default: Any = NO_DEFAULT) -> None:
        """Add one input socket to one instance; a default makes it optional."""
        inputs, outputs = _instance_sockets(instance)
        socket_type, variadic = unwrap_variadic(type_)
        inputs[name] = InputSocket(name, socket_type, default, variadic)
        setattr(instance, _INSTANCE_ATTR, (inputs, outputs))

    @staticmethod
    def set_output_types(instance: Any, **types: Any) -> None:
        """Replace one instance's output sockets (for outputs that depend on init parameters)."""
        inputs, _ = _instance_sockets(instance)
        outputs = {name: OutputSocket(name, t) for name, t in types.items()}
        setattr(instance, _INSTANCE_ATTR, (inputs, outputs))


component = _Component()


def is_component(obj: Any) -> bool:
    """True for an instance or class made with ragrun's or Haystack's `@component`."""
    return hasattr(obj, _CLASS_ATTR) or hasattr(obj, "__haystack_input__")


def sockets_of(instance: Any) -> Sockets:
    """The sockets of one component instance, whichever `@component` made its class."""
    if hasattr(instance, _CLASS_ATTR):
        inputs, outputs = _instance_sockets(instance)
        return Sockets(inputs=inputs, outputs=outputs)
    if hasattr(instance, "__haystack_input__"):
        return _haystack_sockets(instance)
    raise ComponentDefinitionError(
        f"{type(instance).__name__} is not a component: decorate its class with @component"
    )


def runs_on_loop(instance: Any) -> bool:
    """True when the component's class declares `ragrun_on_loop = True`: its sync `run` takes
    microseconds (a prompt builder, a joiner), less than a hop to a worker thread and back."""
    return getattr(type(instance), "ragrun_on_loop", False) is True


def has_run_async(instance: Any) -> bool:
    """True when the component offers a coroutine `run_async` to await on the event loop."""
    return inspect.iscoroutinefunction(getattr(instance, "run_async", None))


def init_parameters_of(obj: Any) -> dict[str, Any] | None:
    """The init parameters an instance was built with, as passed (defaults left out)."""
    params = getattr(obj, _INIT_ATTR, None)
    return dict(params) if params is not None else None


def _instance_sockets(instance: Any) -> tuple[dict[str, InputSocket], dict[str, OutputSocket]]:
    own = instance.__dict__.get(_INSTANCE_ATTR)
    if own is not None:
        return dict(own[0]), dict(own[1])
    info: ComponentInfo = getattr(type(instance), _CLASS_ATTR)
    return dict(info.sockets.inputs), dict(info.sockets.outputs)


def _inspect_class(cls: type) -> ComponentInfo:
    run = getattr(cls, "run", None)
    if run is None or not callable(run):
        raise ComponentDefinitionError(f"{cls.__qualname__} has no run() method")
    if inspect.iscoroutinefunction(run):
        raise ComponentDefinitionError(
            f"{cls.__qualname__}.run is async: name it run_async and add a sync run, "
            "or keep run sync"
        )
    inputs, any_kwargs = _read_inputs(cls, run, "run")
    outputs = _read_outputs(run)
    run_async = getattr(cls, "run_async", None)
    if run_async is not None:
        _check_async_twin(cls, run_async, inputs, any_kwargs, outputs)
    return ComponentInfo(Sockets(inputs, outputs), run_async is not None, any_kwargs)


def _read_inputs(cls: type, method: Callable[..., Any], label: str) -> tuple[dict, bool]:
    try:
        hints = typing.get_type_hints(method, include_extras=True)
    except Exception as exc:  # an annotation naming an undefined type
        raise ComponentDefinitionError(
            f"{cls.__qualname__}.{label}: cannot resolve its annotations: {exc}"
        ) from exc
    inputs: dict[str, InputSocket] = {}
    any_kwargs = False
    for param in list(inspect.signature(method).parameters.values())[1:]:
        if param.kind is param.VAR_KEYWORD:
            any_kwargs = True
            continue
        if param.kind is param.VAR_POSITIONAL:
            raise ComponentDefinitionError(
                f"{cls.__qualname__}.{label}(*{param.name}): sockets must be named parameters"
            )
        annotation = hints.get(param.name, Any)
        socket_type, variadic = unwrap_variadic(annotation)
        default = NO_DEFAULT if param.default is param.empty else param.default
        inputs[param.name] = InputSocket(param.name, socket_type, default, variadic)
    return inputs, any_kwargs


def _read_outputs(method: Callable[..., Any]) -> dict[str, OutputSocket]:
    declared = getattr(method, _OUTPUTS_ATTR, None) or {}
    return {name: OutputSocket(name, t) for name, t in declared.items()}


def _check_async_twin(cls, run_async, inputs, any_kwargs, outputs) -> None:  # type: ignore[no-untyped-def]
    name = cls.__qualname__
    if not inspect.iscoroutinefunction(run_async):
        raise ComponentDefinitionError(f"{name}.run_async must be defined with 'async def'")
    async_inputs, async_kwargs = _read_inputs(cls, run_async, "run_async")
    if async_inputs != inputs or async_kwargs != any_kwargs:
        raise ComponentDefinitionError(
            f"{name}.run_async must take the same inputs as run: "
            f"run has ({_describe(inputs)}), run_async has ({_describe(async_inputs)})"
        )
    async_outputs = _read_outputs(run_async)
    if async_outputs and async_outputs != outputs:
        raise ComponentDefinitionError(
            f"{name}.run_async must declare the same output types as run: "
            f"run has ({_describe(outputs)}), run_async has ({_describe(async_outputs)})"
        )


def _describe(sockets: dict[str, Any]) -> str:
    return ", ".join(f"{s.name}: {type_name(s.type)}" for s in sockets.values())


def _recording_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap `__init__` so each instance remembers the arguments it was given (for `dumps`)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if _INIT_ATTR not in self.__dict__:  # the outermost __init__ of a subclass chain wins
            try:
                bound = signature.bind(self, *args, **kwargs)
                params = dict(bound.arguments)
                params.pop(next(iter(signature.parameters)), None)
                for name, param in signature.parameters.items():
                    if param.kind is param.VAR_KEYWORD and name in params:
                        params.update(params.pop(name))
                self.__dict__[_INIT_ATTR] = params
            except TypeError:
                pass  # let the real __init__ report the bad call
        init(self, *args, **kwargs)

    return __init__


def _haystack_sockets(instance: Any) -> Sockets:
    # Haystack leaves string annotations (`from __future__ import annotations`) unresolved;
    # resolve them from `run` so both kinds of component get real types.
    try:
        hints = typing.get_type_hints(type(instance).run, include_extras=True)
    except Exception:
        hints = {}
    inputs = {}
    for name, sock in instance.__haystack_input__._sockets_dict.items():
        default = NO_DEFAULT if _is_haystack_empty(sock.default_value) else sock.default_value
        if name in hints:
            socket_type, variadic = unwrap_variadic(hints[name])
        else:
            socket_type, variadic = sock.type, bool(getattr(sock, "is_variadic", False))
        inputs[name] = InputSocket(name, socket_type, default, variadic)
    outputs = {
        name: OutputSocket(name, sock.type)
        for name, sock in instance.__haystack_output__._sockets_dict.items()
    }
    return Sockets(inputs, outputs)


def _is_haystack_empty(value: Any) -> bool:
    return isinstance(value, type) and value.__name__ == "_empty"
