"""The catalogue of installed components that `ragrun components` prints.

Components are found the way the loader finds built-in short names: the entry-point group
`ragrun.components`, which third-party packages can add to. Each class is described from its
`@component` sockets and its `__init__` signature. An entry point whose module cannot be imported
is listed with the error instead of stopping the listing, so one broken plugin (or a missing
optional dependency) does not hide the rest.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import asdict, dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .registry import GROUP
from .sockets import NO_DEFAULT, InputSocket, Sockets
from .typecheck import type_name


@dataclass(frozen=True)
class Field:
    """One socket or init parameter: its name, readable type, and default when it has one."""

    name: str
    type: str
    required: bool
    default: Any = None
    variadic: bool = False


@dataclass(frozen=True)
class Entry:
    """One component type: where it comes from and what it takes and gives."""

    name: str
    target: str
    """The entry point's `module:Class`."""
    summary: str = ""
    inputs: list[Field] = field(default_factory=list)
    outputs: list[Field] = field(default_factory=list)
    init_parameters: list[Field] = field(default_factory=list)
    inputs_from_init: bool = False
    """More input sockets are declared per instance from init parameters (template variables)."""
    error: str | None = None
    """Why the class could not be loaded or read; the other fields are then empty."""


def catalogue(group: str = GROUP) -> list[Entry]:
    """Every component registered in the entry-point `group`, sorted by name."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep)  # as in the registry, the first registration of a name wins
    return [describe(found[name]) for name in sorted(found)]


def describe(ep: EntryPoint) -> Entry:
    """Describe one entry point's class, or record why it cannot be described."""
    try:
        cls = ep.load()
        sockets, from_init = _class_sockets(cls)
        parameters = _init_parameters(cls)
    except Exception as exc:  # a plugin's import error must not hide the other components
        return Entry(ep.name, ep.value, error=f"{type(exc).__name__}: {exc}")
    return Entry(
        name=ep.name,
        target=ep.value,
        summary=_first_line(cls.__doc__),
        inputs=[_input_field(s) for s in sockets.inputs.values()],
        outputs=[Field(s.name, type_name(s.type), True) for s in sockets.outputs.values()],
        init_parameters=parameters,
        inputs_from_init=from_init,
    )


def render_text(entries: list[Entry]) -> str:
    """A readable listing, one block per component."""
    blocks = []
    for entry in entries:
        lines = [f"{entry.name}  ({entry.target})"]
        if entry.error:
            lines.append(f"    cannot be loaded: {entry.error}")
            blocks.append("\n".join(lines))
            continue
        if entry.summary:
            lines.append(f"    {entry.summary}")
        inputs = [_field_text(f) for f in entry.inputs]
        if entry.inputs_from_init:
            inputs.append(f"({'more ' if inputs else ''}declared by the init parameters)")
        outputs = [_field_text(f) for f in entry.outputs] or ["(declared by the init parameters)"]
        lines += _section("inputs", inputs)
        lines += _section("outputs", outputs)
        lines += _section("init", [_field_text(f) for f in entry.init_parameters])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def render_json(entries: list[Entry]) -> str:
    """The listing as a JSON array (defaults that are not JSON become their `repr`)."""
    import orjson

    data = [asdict(e) for e in entries]
    for entry in data:  # a required field has no default: leave the key out rather than null
        for f in (*entry["inputs"], *entry["outputs"], *entry["init_parameters"]):
            if f["required"]:
                del f["default"]
    return orjson.dumps(data, option=orjson.OPT_INDENT_2, default=repr).decode() + "\n"


def _class_sockets(cls: type) -> tuple[Sockets, bool]:
    # The decorator stores what it read from `run` on the class; instances may add sockets.
    info = getattr(cls, "__ragrun_component__", None)
    if info is None:
        raise TypeError(f"{cls.__qualname__} is not a ragrun @component class")
    return info.sockets, bool(info.takes_any_kwargs)


def _init_parameters(cls: type) -> list[Field]:
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        return []
    try:
        hints = typing.get_type_hints(init)
    except Exception:
        hints = {}
    fields = []
    for param in list(inspect.signature(init).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, param.annotation)
        type_text = "Any" if annotation is param.empty else type_name(annotation)
        required = param.default is param.empty
        fields.append(Field(param.name, type_text, required, None if required else param.default))
    return fields


def _input_field(socket: InputSocket) -> Field:
    required = socket.default is NO_DEFAULT
    default = None if required else socket.default
    return Field(socket.name, type_name(socket.type), required, default, socket.variadic)


def _field_text(f: Field) -> str:
    type_text = f"Variadic[{f.type}]" if f.variadic else f.type
    if f.required:
        return f"{f.name}: {type_text}"
    return f"{f.name}: {type_text} = {f.default!r}"


def _section(title: str, items: list[str]) -> list[str]:
    if not items:
        return [f"    {title:<8} (none)"]
    return [f"    {title if i == 0 else '':<8} {item}" for i, item in enumerate(items)]


def _first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc).splitlines()[0] if doc else ""
