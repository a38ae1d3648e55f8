"""A run's data routed to input sockets, coerced to their types, and checked for what is missing.

`data` takes two forms, which may be mixed:

- nested, `{component: {socket: value}}`, which can reach any socket not fed by a connection
  (or a Variadic one, whose list then starts with the value);
- flat, `{name: value}`: `name` is a public input (`inputs:` in the YAML), or, when the pipeline
  declares none, the name of input sockets nothing feeds — the value goes to every one of them.

A pipeline that declares `inputs:` is closed: its declared inputs are the only way in, so run
data (an input line, say) cannot reach a socket its author did not offer, such as a prompt
builder's `template`. Nested data may then address only sockets a declared input feeds (the
same value by another name); anything else is refused, naming the declared inputs. Without
`inputs:`, every unfed socket is open, as in Haystack.

Values are coerced to each socket's annotation with pydantic when they are JSON-like (a list of
dicts becomes `list[Document]`, a dict a `ChatMessage`, `"3"` an `int`); a value that already
has the right type is passed as is (checked with `isinstance`, never copied), and other Python
objects are passed untouched.
"""

from __future__ import annotations

import functools
import types
import typing
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError
from pydantic.errors import PydanticSchemaGenerationError

from .connections import split_address
from .errors import PipelineInputError
from .suggest import did_you_mean
from .typecheck import type_name

if TYPE_CHECKING:
    from .graph import Graph
    from .pipeline import Pipeline

Routed = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class RequiredInput:
    """An input a run must be given: a required socket that no connection feeds."""

    name: str
    """What to pass it as: the public input's name, the socket's name (flat data, when the
    pipeline declares no `inputs:`), or `component.socket` (nested data)."""
    type: Any
    """The type of the value expected."""
    feeds: tuple[str, ...]
    """The `component.socket` addresses the value goes to."""

    def describe(self) -> str:
        """`question (str, feeds text_embedder.text, prompt_builder.question)`."""
        return f"{self.name} ({type_name(self.type)}, feeds {', '.join(self.feeds)})"


def required_inputs(p: Pipeline) -> list[RequiredInput]:
    """Every input a run of `p` must be given, in component order."""
    return [record for record, _ in _requirements(p)]


def route_inputs(p: Pipeline, data: Mapping[str, Any], *, check_required: bool = True) -> Routed:
    """Route `data` to sockets: `{component: {socket: value}}`, values coerced to socket types.

    Raises:
        PipelineInputError: unknown names (with a did-you-mean), values of the wrong type, a
            socket given twice or already fed by a connection, or (with `check_required`)
            required inputs left out — every mistake in one message.
    """
    graph = p.graph()
    routed: Routed = {}
    problems: list[str] = []
    public = _public_inputs(p, problems)
    offered = {target for targets in public.values() for target in targets} if p.inputs else None
    if p.input_defaults:  # declared defaults, overridden by whatever the run gives
        data = {**{k: v for k, v in p.input_defaults.items() if k not in data}, **data}
    for key, value in data.items():
        if key in public:
            targets = public[key]
        elif key in graph.nodes and isinstance(value, Mapping):
            _route_nested(graph, key, value, routed, problems, offered)
            continue
        elif not p.inputs and key in _unfed(graph):
            targets = _unfed(graph)[key]
        else:
            problems.append(_unknown(p, graph, key))
            continue
        for component, socket in targets:
            _put(graph, routed, component, socket, value, key, problems)
    if check_required and not problems:
        problems.extend(_missing(p, routed))
    if problems:
        raise PipelineInputError("\n".join(problems))
    return routed


# -- routing --------------------------------------------------------------------------------------


def _route_nested(
    graph: Graph,
    component: str,
    values: Mapping[str, Any],
    routed: Routed,
    problems: list[str],
    offered: set[tuple[str, str]] | None,
) -> None:
    """Route `{socket: value}` given for `component`; with `offered` (the sockets declared
    inputs feed), only those sockets may be given."""
    inputs = graph.nodes[component].sockets.inputs
    for socket, value in values.items():
        if socket not in inputs:
            known = ", ".join(inputs) or "none"
            problems.append(
                f"'{component}.{_clip(socket)}' is not an input of '{component}' "
                f"({graph.nodes[component].class_name}); its inputs are {known}."
                f"{did_you_mean(socket, inputs) if len(socket) <= _NAME_LIMIT else ''}"
            )
            continue
        if offered is not None and (component, socket) not in offered:
            problems.append(_not_offered(graph, component, socket, offered))
            continue
        _put(graph, routed, component, socket, value, f"{component}.{socket}", problems)


def _not_offered(graph: Graph, component: str, socket: str, offered: set[tuple[str, str]]) -> str:
    names = sorted({f"{c}.{s}" for c, s in offered})
    return (
        f"input '{component}.{socket}': the pipeline declares its inputs, and a run can give "
        f"only those (or the sockets they feed: {', '.join(names) or 'none'}); no declared "
        f"input feeds '{component}.{socket}'. To let runs set it, add it under inputs: in "
        "the YAML"
    )


def _put(
    graph: Graph,
    routed: Routed,
    component: str,
    socket_name: str,
    value: Any,
    label: str,
    problems: list[str],
) -> None:
    socket = graph.nodes[component].sockets.inputs[socket_name]
    address = f"{component}.{socket_name}"
    where = f"input '{label}'" if label == address else f"input '{label}' (for '{address}')"
    if graph.senders[component][socket_name] and not socket.variadic:
        senders = [
            f"{c.sender}.{c.sender_socket}"
            for c in graph.incoming[component]
            if c.receiver_socket == socket_name
        ]
        problems.append(
            f"{where}: it is fed by {', '.join(senders)}; a run cannot give it a value too"
        )
        return
    given = routed.setdefault(component, {})
    if socket_name in given:
        problems.append(f"{where}: it is given a value twice")
        return
    try:
        given[socket_name] = coerce(value, socket.type)
    except ValidationError as exc:
        problems.append(
            f"{where}: expected {type_name(socket.type)}, "
            f"found {_short(value)} ({_first_error(exc)})"
        )


def _public_inputs(p: Pipeline, problems: list[str]) -> dict[str, list[tuple[str, str]]]:
    public: dict[str, list[tuple[str, str]]] = {}
    for name, addresses in p.inputs.items():
        targets = public[name] = []
        for address in addresses:
            component, socket = split_address(address)
            node = p.nodes.get(component)
            if node is None or socket is None or socket not in node.sockets.inputs:
                problems.append(f"public input '{name}' names '{address}', which is not an input")
            else:
                targets.append((component, socket))
    return public


_NAME_LIMIT = 200
"""Names longer than this (from untrusted data) are cut in messages, and get no suggestion."""


def _clip(name: str) -> str:
    return name if len(name) <= _NAME_LIMIT else f"{name[:_NAME_LIMIT]}… ({len(name)} characters)"


def _unknown(p: Pipeline, graph: Graph, key: str) -> str:
    hint = (
        did_you_mean(key, [*(p.inputs or _unfed(graph)), *graph.nodes])
        if len(key) <= _NAME_LIMIT
        else ""
    )
    key = _clip(key)
    if p.inputs:
        names = list(p.inputs)
        listing = ", ".join(names)
        return f"unknown input '{key}': the pipeline's inputs are {listing}.{hint}"
    names = list(_unfed(graph))
    listing = ", ".join(names) or "none"
    return (
        f"unknown input '{key}': no input socket of that name is free (inputs nothing feeds: "
        f"{listing}); pass {{component: {{socket: value}}}} to reach any socket.{hint}"
    )


_UNFED: weakref.WeakKeyDictionary[Graph, dict[str, list[tuple[str, str]]]] = (
    weakref.WeakKeyDictionary()
)


def _unfed(graph: Graph) -> dict[str, list[tuple[str, str]]]:
    """Input sockets no connection feeds, by socket name (computed once per graph)."""
    index = _UNFED.get(graph)
    if index is None:
        index = {}
        for component, counts in graph.senders.items():
            for socket, count in counts.items():
                if count == 0:
                    index.setdefault(socket, []).append((component, socket))
        _UNFED[graph] = index
    return index


# -- what must be given ---------------------------------------------------------------------------


def _requirements(p: Pipeline) -> list[tuple[RequiredInput, list[tuple[str, str]]]]:
    """Each required input with the required unfed sockets it stands for."""
    graph = p.graph()
    needed = [
        (component, name, socket)
        for component, counts in graph.senders.items()
        for name, socket in graph.nodes[component].sockets.inputs.items()
        if counts[name] == 0 and socket.is_required
    ]
    groups: dict[str, tuple[RequiredInput, list[tuple[str, str]]]] = {}
    for component, name, socket in needed:
        key, feeds = _how_to_give(p, graph, component, name)
        if key in p.input_defaults:
            continue
        if key not in groups:
            groups[key] = (RequiredInput(key, socket.type, feeds), [])
        groups[key][1].append((component, name))
    return list(groups.values())


def _how_to_give(p: Pipeline, graph: Graph, component: str, socket: str) -> tuple[str, tuple]:
    address = f"{component}.{socket}"
    for public, addresses in p.inputs.items():
        if address in addresses:
            return public, tuple(addresses)
    if p.inputs:
        return address, (address,)
    return socket, tuple(f"{c}.{s}" for c, s in _unfed(graph)[socket])


def _missing(p: Pipeline, routed: Routed) -> list[str]:
    return [
        f"missing input '{record.name}' ({type_name(record.type)}, feeds "
        f"{', '.join(record.feeds)}): {_how_to_pass(p, record.name)}"
        for record, sockets in _requirements(p)
        if any(s not in routed.get(c, {}) for c, s in sockets)
    ]


def _how_to_pass(p: Pipeline, name: str) -> str:
    if p.inputs and name not in p.inputs:  # a required socket the declared inputs leave out
        return (
            "no declared input feeds it, so no run can give it; add it under inputs: in the "
            "YAML, or connect a sender to it"
        )
    return f"pass it with -i {name}=VALUE"


# -- coercion -------------------------------------------------------------------------------------

_JSON_TYPES = (dict, list, str, int, float, bool, type(None))


def coerce(value: Any, annotation: Any) -> Any:
    """`value` as `annotation`: as is when it fits, validated by pydantic when JSON-like.

    Raises:
        pydantic.ValidationError: a JSON-like value that cannot become `annotation`.
    """
    if fits(value, annotation) or not isinstance(value, _JSON_TYPES):
        return value
    adapter = _adapter(annotation)
    return value if adapter is None else adapter.validate_python(value)


def fits(value: Any, annotation: Any) -> bool:
    """True when `value` already is an `annotation` (items of containers checked too)."""
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    if annotation is Any:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(fits(value, arm) for arm in get_args(annotation))
    if origin is None:
        return isinstance(annotation, type) and isinstance(value, annotation)
    return _fits_generic(value, origin, get_args(annotation))


def _fits_generic(value: Any, origin: Any, args: tuple[Any, ...]) -> bool:
    if not isinstance(origin, type) or not isinstance(value, origin):
        return False
    if not args:
        return True
    if isinstance(value, Mapping) and len(args) == 2:
        return all(fits(k, args[0]) and fits(v, args[1]) for k, v in value.items())
    if isinstance(value, tuple) and not (len(args) == 2 and args[1] is Ellipsis):
        return len(args) == len(value) and all(fits(v, a) for v, a in zip(value, args, strict=True))
    if isinstance(value, list | tuple | set | frozenset) and len(args) in (1, 2):
        return all(fits(v, args[0]) for v in value)
    return False


def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    try:
        return _cached_adapter(annotation)
    except TypeError:  # an unhashable annotation: build it each time
        return _build_adapter(annotation)


@functools.lru_cache(maxsize=512)
def _cached_adapter(annotation: Any) -> TypeAdapter[Any] | None:
    return _build_adapter(annotation)


def _build_adapter(annotation: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(annotation)
    except (PydanticSchemaGenerationError, TypeError):
        return None  # a type pydantic cannot validate: the value goes through untouched


def _short(value: Any) -> str:
    text = repr(value)
    kind = type(value).__name__
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
