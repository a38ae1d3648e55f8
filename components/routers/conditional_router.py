"""ConditionalRouter: the first route whose Jinja2 condition holds sends its output, alone."""

from __future__ import annotations

import ast
import logging
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from jinja2 import TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError

from ragrun import component

from ..builders.templates import NativeSandbox, Sandbox, template_variables
from ..type_names import parse_type

logger = logging.getLogger(__name__)


class NoRouteSelectedError(RuntimeError):
    """No route's condition held for the inputs of a run."""


class RouteConditionError(RuntimeError):
    """A route's condition or output failed to render."""


@dataclass(frozen=True)
class _Output:
    """One output of a route: its socket name, declared type and template (or passthrough name)."""

    name: str
    type: Any
    template: str
    passthrough: bool


@dataclass(frozen=True)
class _Route:
    """A route read from its dict: its condition and outputs."""

    index: int
    condition: str
    outputs: tuple[_Output, ...]


@component
class ConditionalRouter:
    """Send data down the first route whose condition is true; only that route's output is set.

    Same name, init parameters and sockets as Haystack's ConditionalRouter. Each route is
    `{condition, output, output_name, output_type}` (`output`, `output_name` and `output_type`
    may be lists of equal length; `output_passthrough: true` sends the input named by `output`
    as is). Every variable the routes use becomes an input socket (those in
    `optional_variables` default to None); every `output_name` an output socket of its
    `output_type`, written as a type or as text (`"list[Document]"`).

    Conditions and outputs render in ragrun's sandbox and yield Python values: `{{ documents }}`
    is the list itself, `{{ n > 3 }}` a bool. An output whose type is `str` renders as text.
    Only the fired route's outputs are returned, so the engine treats the other branches as not
    taken.

    Args:
        routes: the routes, tried in order.
        custom_filters: Jinja2 filters (name -> callable), from Python only: a YAML file cannot
            name functions to call.
        unsafe: accepted for Haystack compatibility and ignored: rendering is always sandboxed,
            and the values Haystack's unsafe mode is used for (lists, objects) come out native.
        validate_output_type: check each output against its declared type.
        optional_variables: variables that may be missing (they are None then).

    Example:
        >>> router = ConditionalRouter([
        ...     {"condition": "{{ n > 3 }}", "output": "{{ n }}", "output_name": "big",
        ...      "output_type": "int"},
        ...     {"condition": "{{ True }}", "output": "{{ n }}", "output_name": "small",
        ...      "output_type": "int"},
        ... ])
        >>> router.run(n=5)
        {'big': 5}
    """

    ragrun_on_loop = True
    """Runs on the event loop: a call takes microseconds, less than a worker-thread hop."""

    def __init__(
        self,
        routes: list[dict[str, Any]],
        custom_filters: dict[str, Callable[..., Any]] | None = None,
        unsafe: bool = False,
        validate_output_type: bool = False,
        optional_variables: list[str] | None = None,
    ) -> None:
        self.routes = routes
        self.custom_filters = _filters(custom_filters)
        self.unsafe = unsafe
        self.validate_output_type = validate_output_type
        self.optional_variables = list(optional_variables or [])
        if unsafe:
            logger.warning(
                "ConditionalRouter: unsafe=True is ignored; routes render in the sandbox and "
                "outputs are already Python values"
            )
        self._make_environments()
        self._routes = [_read_route(i, route, self._text) for i, route in enumerate(routes)]
        self._declare_sockets()

    def _make_environments(self) -> None:
        self._native = NativeSandbox()
        self._text = Sandbox()
        for env in (self._native, self._text):
            env.filters.update(self.custom_filters)

    def __getstate__(self) -> dict[str, Any]:
        # The environments cache compiled templates, which do not pickle; a worker makes its own.
        state = dict(self.__dict__)
        del state["_native"], state["_text"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._make_environments()

    def _declare_sockets(self) -> None:
        used: set[str] = set()
        outputs: dict[str, Any] = {}
        for route in self._routes:
            used |= template_variables(self._text, route.condition)
            for out in route.outputs:
                if out.passthrough:
                    used.add(out.template)
                else:
                    used |= template_variables(self._text, out.template)
                if out.name in outputs and outputs[out.name] != out.type:
                    raise ValueError(
                        f"ConditionalRouter: output '{out.name}' is declared with two types, "
                        f"{outputs[out.name]} and {out.type}"
                    )
                outputs[out.name] = out.type
        unused = set(self.optional_variables) - used
        if unused:
            logger.warning(
                "ConditionalRouter: optional_variables %s are used by no route (a typo?)",
                ", ".join(sorted(unused)),
            )
        for name in sorted(used - set(self.optional_variables)):
            component.set_input_type(self, name, Any)
        for name in self.optional_variables:
            component.set_input_type(self, name, Any, default=None)
        component.set_output_types(self, **outputs)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        """Fire the first route whose condition holds.

        Returns:
            `{output_name: value}` for the fired route's outputs only.

        Raises:
            NoRouteSelectedError: no condition held.
            RouteConditionError: a condition or output failed to render.
            ValueError: with `validate_output_type`, an output does not match its type.
        """
        values = {name: None for name in self.optional_variables} | kwargs
        for route in self._routes:
            if not _holds(self._render(route, route.condition, values, native=True)):
                continue
            return {out.name: self._output(route, out, values) for out in route.outputs}
        raise NoRouteSelectedError(
            "ConditionalRouter: no route's condition held for "
            f"{', '.join(sorted(values)) or 'no inputs'}; conditions: "
            + "; ".join(f"[{r.index}] {r.condition}" for r in self._routes)
            + ". Add a last route with condition '{{ True }}' as a fallback."
        )

    def _output(self, route: _Route, out: _Output, values: dict[str, Any]) -> Any:
        if out.passthrough:
            if out.template not in values:
                raise ValueError(
                    f"ConditionalRouter route {route.index}: passthrough input "
                    f"'{out.template}' was not given"
                )
            value = values[out.template]
        else:
            value = self._render(route, out.template, values, native=out.type is not str)
        if self.validate_output_type and not matches_type(value, out.type):
            raise ValueError(
                f"ConditionalRouter route {route.index}: output '{out.name}' is "
                f"{type(value).__name__} {value!r:.80}, not the declared {out.type}"
            )
        return value

    def _render(self, route: _Route, template: str, values: dict[str, Any], *, native: bool) -> Any:
        env = self._native if native else self._text
        try:
            result = env.compiled(template).render(**values)
        except SecurityError as exc:
            raise RouteConditionError(
                f"ConditionalRouter route {route.index}: {template!r} is not allowed in the "
                f"sandbox: {exc}"
            ) from exc
        except Exception as exc:
            raise RouteConditionError(
                f"ConditionalRouter route {route.index}: cannot render {template!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        # A native render of something undefined (`{{ doc.missing }}`) yields Jinja's Undefined
        # object; downstream components should see None instead.
        return None if isinstance(result, Undefined) else result


def _holds(result: Any) -> bool:
    """Whether a rendered condition is true; text such as `" False"` is read as the literal."""
    if isinstance(result, str):
        try:
            result = ast.literal_eval(result.strip())
        except (ValueError, SyntaxError):
            pass  # not a literal: any non-blank text counts as true, as in Python
    return bool(result)


def _read_route(index: int, route: Any, env: Sandbox) -> _Route:
    """Check one route dict and read it; errors name the route and what is wrong."""
    where = f"ConditionalRouter routes[{index}]"
    if not isinstance(route, Mapping):
        raise ValueError(f"{where} must be a mapping, not {type(route).__name__}")
    missing = [k for k in ("condition", "output", "output_name", "output_type") if k not in route]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    templates, names, types = (_as_list(route[k]) for k in ("output", "output_name", "output_type"))
    if not len(templates) == len(names) == len(types):
        raise ValueError(f"{where}: output, output_name and output_type must have the same length")
    passthrough = bool(route.get("output_passthrough", False))
    _check_template(where + ".condition", route["condition"], env)
    if not passthrough:
        for template in templates:
            _check_template(where + ".output", template, env)
    outputs = tuple(
        _Output(str(name), parse_type(type_), template, passthrough)
        for template, name, type_ in zip(templates, names, types, strict=True)
    )
    return _Route(index, route["condition"], outputs)


def _check_template(where: str, template: Any, env: Sandbox) -> None:
    if not isinstance(template, str):
        raise ValueError(
            f"{where} must be a Jinja2 template string such as '{{{{ {template!r} }}}}', "
            f"not {type(template).__name__}"
        )
    try:
        env.parse(template)
    except TemplateSyntaxError as exc:
        raise ValueError(f"{where}: invalid Jinja2 template {template!r}: {exc}") from exc


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _filters(filters: dict[str, Any] | None) -> dict[str, Callable[..., Any]]:
    for name, function in (filters or {}).items():
        if not callable(function):
            raise ValueError(
                f"ConditionalRouter custom_filters['{name}'] is {function!r}, not a function: "
                "filters are accepted from Python only (a YAML file naming functions could run "
                "any code); build the router in Python to use custom filters"
            )
    return dict(filters or {})


def matches_type(value: Any, expected: Any) -> bool:
    """Whether a value fits a declared type (containers checked item by item)."""
    if expected is Any:
        return True
    origin, args = get_origin(expected), get_args(expected)
    if origin is None:
        return isinstance(value, expected) if isinstance(expected, type) else True
    if origin in (Union, types.UnionType):
        return any(matches_type(value, arm) for arm in args)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        if not isinstance(value, Mapping):
            return False
        key_t, value_t = args or (Any, Any)
        return all(matches_type(k, key_t) and matches_type(v, value_t) for k, v in value.items())
    if isinstance(origin, type) and issubclass(origin, Sequence):
        if isinstance(value, str | bytes) or not isinstance(value, origin):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(matches_type, value, args))
        return all(matches_type(item, args[0]) for item in value) if args else True
    return isinstance(value, origin)
