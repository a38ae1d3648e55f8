"""JSON Schemas generated from the code: the pipeline YAML and the event lines.

`pipeline_schema()` starts from `spec.py`'s pydantic models and adds, for each built-in
component, a branch (`if: {type: const NAME}` / `then: init_parameters: ...`) generated from
its `__init__` signature and annotations, with descriptions from its docstring's `Args:`.
yaml-language-server then completes and checks `init_parameters` in an editor, given
`# yaml-language-server: $schema=../schemas/pipeline.schema.json` at the top of a file.

Only this module imports every built-in, and only when a schema is generated; loading a
pipeline imports just the components it names.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

from .parameters import UNKNOWN, InitParameter, init_signature, is_plain_data
from .registry import UnknownTypeError, builtin_names, builtin_target, load_builtin
from .secrets import Secret
from .spec import PipelineSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("pipeline", "events")

_SECRET = {
    "type": "object",
    "description": "A credential read from environment variables; its value is never written.",
    "properties": {
        "type": {"const": "env_var"},
        "env_vars": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "strict": {"type": "boolean", "default": True},
    },
    "required": ["type", "env_vars"],
    "additionalProperties": False,
}
_TYPE = {
    "description": "A built-in component name, or a dotted import path such as "
    "my_package.module.MyComponent.",
    "anyOf": [
        {"enum": []},
        {"type": "string", "pattern": r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$"},
    ],
}


def pipeline_schema() -> dict[str, Any]:
    """The JSON Schema of a pipeline YAML file, with a branch per built-in's init parameters."""
    base = PipelineSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = base.pop("$defs", {})
    names = builtin_names()
    component_type = json.loads(json.dumps(_TYPE))
    component_type["anyOf"][0]["enum"] = names
    defs["ComponentType"] = component_type
    defs["Secret"] = _SECRET
    defs["NestedComponent"] = {
        "type": "object",
        "description": "An object built from its own type and init parameters (a document "
        "store); identical declarations share one instance.",
        "properties": {
            "type": {"$ref": "#/$defs/ComponentType"},
            "init_parameters": {"type": "object"},
        },
        "required": ["type", "init_parameters"],
        "additionalProperties": False,
        "allOf": [{"$ref": "#/$defs/InitParametersByType"}],
    }
    defs["InitParametersByType"] = {"allOf": [_branch(n, defs) for n in names if _loadable(n)]}
    component = defs["ComponentSpec"]
    component["properties"]["type"] = {
        "$ref": "#/$defs/ComponentType",
        "description": component["properties"]["type"].get("description", ""),
    }
    component["allOf"] = [{"$ref": "#/$defs/InitParametersByType"}]
    head = {
        "$schema": SCHEMA_DIALECT,
        "title": base.pop("title"),
        "description": base.pop("description"),
    }
    # `x-...` keys are ignored by the loader: a place for anchors that components merge in
    base["patternProperties"] = {
        "^x-": {"description": "Ignored: a place for YAML anchors (`x-defaults: &defaults`)."}
    }
    return {**head, **base, "$defs": dict(sorted(defs.items()))}


def _loadable(name: str) -> bool:
    try:
        load_builtin(name)
    except UnknownTypeError:
        return False  # a module not written or not installed: no branch, the name still listed
    return True


def _branch(name: str, defs: dict[str, Any]) -> dict[str, Any]:
    cls = load_builtin(name)
    return {
        "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
        "then": {"properties": {"init_parameters": init_parameters_schema(cls, defs)}},
    }


def init_parameters_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of `cls`'s `init_parameters` mapping; shared definitions go into `defs`."""
    signature = init_signature(cls)
    docs = docstring_args(cls)
    properties = {}
    for name, parameter in signature.parameters.items():
        schema = parameter_schema(parameter, defs)
        if name in docs:
            schema = {"description": docs[name], **schema}
        properties[name] = schema
    required = [p.name for p in signature.parameters.values() if p.required]
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if not signature.takes_any:
        out["additionalProperties"] = False
    return out


def parameter_schema(parameter: InitParameter, defs: dict[str, Any]) -> dict[str, Any]:
    """One init parameter: its annotation's schema plus its default when JSON can hold it."""
    schema = _annotation_schema(parameter.annotation, defs)
    if not parameter.required:
        default = _json_default(parameter.default)
        if default is not _NO_JSON:
            schema = {**schema, "default": default}
    return schema


def _annotation_schema(annotation: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if annotation is UNKNOWN or annotation is Any:
        return {}
    if annotation is Secret:
        return {"$ref": "#/$defs/Secret"}
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        arms = [_annotation_schema(arm, defs) for arm in typing.get_args(annotation)]
        return {} if {} in arms else {"anyOf": arms}
    if is_plain_data(annotation):
        return _pydantic_schema(annotation, defs)
    if _is_nested_object(annotation):
        return {"$ref": "#/$defs/NestedComponent"}
    return {}  # a class the YAML cannot describe (a callable, a message object)


def _pydantic_schema(annotation: Any, defs: dict[str, Any]) -> dict[str, Any]:
    from pydantic import TypeAdapter

    try:
        schema = TypeAdapter(annotation).json_schema(ref_template="#/$defs/{model}")
    except Exception:
        return {}
    defs.update(schema.pop("$defs", {}))
    schema.pop("title", None)
    return schema


def _is_nested_object(annotation: Any) -> bool:
    """A store-like class: given in YAML as `{type, init_parameters}` and built by the loader."""
    if not isinstance(annotation, type):
        return False
    if getattr(annotation, "_is_protocol", False) or annotation.__name__.endswith("DocumentStore"):
        return True
    target = f"{annotation.__module__}:{annotation.__qualname__}"
    return any(builtin_target(n) == target for n in builtin_names())


class _NoJson:
    pass


_NO_JSON: Any = _NoJson()


def _json_default(value: Any) -> Any:
    if isinstance(value, Secret):
        try:
            return value.to_dict()
        except ValueError:
            return _NO_JSON
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return _NO_JSON
    return value


_ARG_LINE = re.compile(r"^(?P<name>\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(?P<text>.*)$")


def docstring_args(cls: type) -> dict[str, str]:
    """Parameter descriptions from the `Args:` section of the class's or `__init__`'s docstring."""
    found: dict[str, str] = {}
    for doc in (inspect.getdoc(cls.__init__), inspect.getdoc(cls)):  # type: ignore[misc]
        if doc:
            for name, text in _args_section(doc).items():
                found.setdefault(name, text)
    return found


def _args_section(doc: str) -> dict[str, str]:
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Args:"), None)
    if start is None:
        return {}
    indent = len(lines[start]) - len(lines[start].lstrip())
    args: dict[str, list[str]] = {}
    current: list[str] | None = None
    entry_indent: int | None = None
    for line in lines[start + 1 :]:
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if stripped and depth <= indent:
            break  # the next section
        match = _ARG_LINE.match(stripped)
        if stripped and match and (entry_indent is None or depth == entry_indent):
            entry_indent = depth
            current = args.setdefault(match["name"].lstrip("*"), [match["text"]])
        elif stripped and current is not None:
            current.append(stripped)
    return {name: " ".join(parts).strip() for name, parts in args.items()}


def events_schema() -> dict[str, Any] | None:
    """The events schema from `ragrun.events`, or None where that module is missing."""
    try:
        from .events import events_schema as build
    except ImportError:
        return None
    return build()


def schema_text(kind: str) -> str:
    """The schema `kind` (`pipeline` or `events`) as the JSON text written to `schemas/`.

    Raises:
        ValueError: an unknown kind, or the events schema is not available.
    """
    schema: dict[str, Any] | None
    if kind == "pipeline":
        schema = pipeline_schema()
    elif kind == "events":
        schema = events_schema()
        if schema is None:
            raise ValueError("the events schema is not available (ragrun.events is missing)")
    else:
        raise ValueError(f"unknown schema '{kind}'; expected one of {', '.join(KINDS)}")
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: str | Path) -> list[Path]:
    """Write `pipeline.schema.json` and `events.schema.json` into `folder`; return the paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        if kind == "events" and events_schema() is None:
            continue
        path = target / f"{kind}.schema.json"
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written
