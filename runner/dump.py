"""`dumps(pipeline)`: minimal YAML in Haystack's format plus ragrun's sections.

Minimal means what `loads` needs to rebuild the same pipeline and nothing else: init parameters
equal to their `__init__` default are left out, a component without init parameters has no
`init_parameters` key, run policies appear only when set, and pipeline settings only when they
differ from their defaults. `type` is the built-in short name when the class is a built-in,
else its dotted import path. Secrets are written as their `{type: env_var, env_vars: [...]}`
form, never their value; nested objects (a document store) as `{type, init_parameters}`.
Strings are written so that loading them gives them back: `${` is escaped as `$${`.

A secret's value is never written in clear: a plain value in a parameter annotated `Secret`
is refused (`DumpError`), and a value the loader filled from a variable that looks like a
secret (`interpolate.looks_secret`) is written back as its `${NAME}` reference.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import os
import typing
from typing import Any

from .component import init_parameters_of, is_component
from .parameters import init_signature, is_secret_class, wants_secret
from .pipeline import Node, Pipeline
from .registry import type_name_of
from .secrets import Secret, is_secret_dict
from .spec import PipelineSpec
from .typecheck import type_name


class DumpError(ValueError):
    """A value that YAML cannot hold (a token secret, a live client, a function)."""


def dumps(pipeline: Pipeline) -> str:
    """The pipeline as YAML text; `Pipeline.loads(dumps(p))` builds the same pipeline.

    Raises:
        DumpError: an init parameter cannot be written (the message names it).
    """
    return _to_text(pipeline_data(pipeline))


def _public_input(pipeline: Pipeline, name: str) -> Any:
    """`a.x`, `[a.x, b.y]`, or the long form `{sockets, default}` when the input has a default."""
    addresses = pipeline.inputs[name]
    sockets = addresses[0] if len(addresses) == 1 else list(addresses)
    if name not in pipeline.input_defaults:
        return sockets
    return {"sockets": sockets, "default": _value(pipeline.input_defaults[name], f"inputs.{name}")}


def pipeline_data(pipeline: Pipeline) -> dict[str, Any]:
    """The plain data `dumps` writes, in the order a reader expects."""
    data: dict[str, Any] = {}
    if pipeline.metadata:
        data["metadata"] = _value(pipeline.metadata, "metadata")
    if pipeline.inputs:
        data["inputs"] = {name: _public_input(pipeline, name) for name in pipeline.inputs}
    if pipeline.outputs:
        data["outputs"] = dict(pipeline.outputs)
    data["components"] = {
        name: _hide_secrets(_component(node), pipeline.filled_secrets)
        for name, node in pipeline.nodes.items()
    }
    data["connections"] = [
        {"sender": f"{c.sender}.{c.sender_socket}", "receiver": f"{c.receiver}.{c.receiver_socket}"}
        for c in pipeline.connections
    ]
    if pipeline.ray:
        data["ray"] = _value(pipeline.ray, "ray")
    for key in ("max_runs_per_component", "max_concurrency"):
        value = getattr(pipeline, key)
        if value != PipelineSpec.model_fields[key].default:
            data[key] = value
    return data


def _component(node: Node) -> dict[str, Any]:
    entry = _declaration(node.instance, f"components.{node.name}")
    if not node.policy.is_default():
        entry.update(node.policy.model_dump(mode="json", exclude_unset=True))
    return entry


def _declaration(instance: Any, where: str) -> dict[str, Any]:
    """`{type, init_parameters}` of an instance, defaults left out."""
    cls = type(instance)
    params = _given_parameters(instance, where)
    signature = init_signature(cls)
    kept = {}
    for name, value in params.items():
        parameter = signature.parameters.get(name)
        if parameter is not None and not parameter.required and _same(value, parameter.default):
            continue
        if parameter is not None and wants_secret(parameter.annotation):
            if not (value is None or is_secret_class(type(value)) or is_secret_dict(value)):
                raise DumpError(
                    f"{where}.init_parameters.{name}: holds a plain value where a Secret is "
                    "expected; it is not written (its value is not shown): give the component "
                    "Secret.from_env_var(NAME) instead"
                )
        kept[name] = _value(value, f"{where}.init_parameters.{name}")
    entry: dict[str, Any] = {"type": type_name_of(cls)}
    if kept:
        entry["init_parameters"] = kept
    return entry


def _given_parameters(instance: Any, where: str) -> dict[str, Any]:
    """The init parameters an instance was built with, found the first way that works."""
    recorded = init_parameters_of(instance)
    if recorded is not None:
        return recorded
    to_dict = getattr(instance, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict) and isinstance(data.get("init_parameters"), dict):
            return dict(data["init_parameters"])
    # Haystack's convention: each init parameter is kept as an attribute of the same name.
    signature = init_signature(type(instance))
    missing = [
        n for n, p in signature.parameters.items() if p.required and not hasattr(instance, n)
    ]
    if missing:
        raise DumpError(
            f"{where}: cannot write {type(instance).__name__}: its init parameters are not "
            f"recorded and it has no attribute for {', '.join(missing)} (decorate its class "
            "with @component or give it a to_dict() returning {type, init_parameters})"
        )
    return {n: getattr(instance, n) for n in signature.parameters if hasattr(instance, n)}


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except Exception:  # arrays and other values without a plain truth value
        return False


def _value(value: Any, where: str) -> Any:
    """A value as plain YAML data."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.replace("${", "$${")  # loading would fill it from the environment
    if isinstance(value, Secret):
        try:
            return value.to_dict()
        except ValueError as exc:
            raise DumpError(f"{where}: {exc}") from None
    if isinstance(value, enum.Enum):
        return _value(value.value, where)
    if isinstance(value, type) or typing.get_origin(value) is not None:
        return type_name(value)
    if isinstance(value, dict):
        return {str(k): _value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return _value(os.fspath(value), where)
    return _object(value, where)


def _object(value: Any, where: str) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _value(value.tolist(), where)
    if hasattr(value, "model_dump"):
        return _value(value.model_dump(mode="json"), where)
    if is_component(value) or init_parameters_of(value) is not None:
        return _declaration(value, where)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict) and set(data) == {"type", "init_parameters"}:
            return _declaration(value, where)
        return _value(data, where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _value(dataclasses.asdict(value), where)
    if callable(value):
        name = getattr(value, "__qualname__", "")
        module = getattr(value, "__module__", None)
        if module and name and "<" not in name:
            return f"{module}.{name}"  # as Haystack writes callables: a dotted import path
        raise DumpError(f"{where}: cannot write {value!r}: a function YAML can name by path only")
    return _declaration(value, where)


def _hide_secrets(node: Any, secrets: dict[str, str]) -> Any:
    """Each filled secret value in the written strings replaced by its `${NAME}` reference."""
    if not secrets:
        return node
    if isinstance(node, str):
        for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
            node = node.replace(value, f"${{{name}}}")
        return node
    if isinstance(node, dict):
        return {k: _hide_secrets(v, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_hide_secrets(v, secrets) for v in node]
    return node


def _to_text(data: dict[str, Any]) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString

    def literal_blocks(node: Any) -> Any:
        if isinstance(node, str) and "\n" in node:
            return LiteralScalarString(node)
        if isinstance(node, dict):
            return {k: literal_blocks(v) for k, v in node.items()}
        if isinstance(node, list):
            return [literal_blocks(v) for v in node]
        return node

    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.ignore_aliases = lambda *args: True
    stream = io.StringIO()
    yaml.dump(literal_blocks(data), stream)
    return stream.getvalue()
