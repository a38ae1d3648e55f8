"""YAML -> a checked `Pipeline`, reporting every mistake at once, each at its place in the file.

The steps, each adding to one list of problems:

1. parse the YAML within its limits, keeping positions (`source.py`, `yaml_limits.py`);
2. fill `${VAR}` from the environment (`interpolate.py`), then apply `--set` overrides;
3. validate the keys against the pydantic models (`spec.py`);
4. check each component's declaration whole (`declarations.py`): resolve its `type` (only
   allowed modules are imported, `allowlist.py`), check `init_parameters` against
   `__init__`, nested declarations and secrets included; then build the components whose
   declaration has no mistake (`construction.py`);
5. resolve the connections with the same rules as `Pipeline.connect` (`connections.py`);
6. check the public `inputs` and `outputs`, then the graph rules (`checks.py`).

A part with a mistake is left out of the later steps so one mistake is reported once, not
again by everything that depends on it, and nothing of it is built. The components that are
built are needed: their sockets are read from the instance (a prompt builder's inputs come
from its template). Nothing here loads a model: constructors only store their settings, and
models load in `warm_up`. No message shows a value filled from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .allowlist import allowing, current
from .checks import CheckContext, run_checks
from .connections import ConnectionProblem, resolve, split_address
from .construction import Builder
from .declarations import Checker
from .diagnostics import Problem
from .errors import PipelineValidationError
from .interpolate import interpolate, looks_secret, redact_problems
from .pipeline import Pipeline
from .source import PathKey, Source, parse, read_file
from .spec import ParsedSpec, PublicInput, parse_spec
from .suggest import did_you_mean
from .typecheck import type_name


def load_file(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    allowed_modules: Iterable[str] = (),
    unsafe: bool = False,
) -> Pipeline:
    """Load a pipeline from a YAML file.

    Args:
        path: the YAML file.
        overrides: `{"component.param": value}` init parameters to set (the CLI's `--set`).
        allowed_modules: module prefixes its dotted `type`s may import, beside the defaults
            (`allowlist.py`).
        unsafe: let its dotted `type`s import any module (trust the file completely).

    Raises:
        PipelineValidationError: every mistake found, located and sorted by position.
    """
    with allowing(allowed_modules, unsafe):
        return _load(read_file(os.fspath(path)), overrides)


def load_text(
    text: str,
    source: str = "<string>",
    overrides: Mapping[str, Any] | None = None,
    *,
    allowed_modules: Iterable[str] = (),
    unsafe: bool = False,
) -> Pipeline:
    """Load a pipeline from YAML text; `source` names it in messages (as for `load_file`)."""
    with allowing(allowed_modules, unsafe):
        return _load(parse(text, source), overrides)


def _load(source: Source, overrides: Mapping[str, Any] | None) -> Pipeline:
    try:
        return _checked_pipeline(source, overrides)
    except PipelineValidationError as exc:
        raise PipelineValidationError(redact_problems(list(exc.problems), source)) from None


def _checked_pipeline(source: Source, overrides: Mapping[str, Any] | None) -> Pipeline:
    problems = interpolate(source)
    problems += apply_overrides(source, overrides or {})
    parsed, spec_problems = parse_spec(source)
    problems += spec_problems
    if parsed is None:
        raise PipelineValidationError(problems)
    spec = parsed.spec
    pipeline = Pipeline(
        spec.metadata,
        spec.max_runs_per_component,
        max_concurrency=spec.max_concurrency,
    )
    if spec.ray is not None:
        pipeline.ray = spec.ray.model_dump(exclude_unset=True)
    pipeline.filled_secrets = {
        name: value for name, value in source.filled_values.items() if looks_secret(name, value)
    }
    _add_components(pipeline, parsed, source, problems)
    declared = set(spec.components) | parsed.broken
    skip = declared - set(pipeline.nodes)  # declared but not built: already reported
    paths = _connect(pipeline, parsed, source, declared, problems)
    _public_inputs(pipeline, parsed, source, skip, problems)
    _public_outputs(pipeline, parsed, source, skip, problems)
    problems += run_checks(CheckContext(pipeline, source, paths))
    if problems:
        raise PipelineValidationError(problems)
    return pipeline


def apply_overrides(source: Source, overrides: Mapping[str, Any]) -> list[Problem]:
    """Set `{"component.param": value}` into the components' `init_parameters`.

    A dotted tail reaches into a nested mapping: `retriever.document_store.init_parameters.path`.
    """
    problems: list[Problem] = []
    components = source.data.get("components") if isinstance(source.data, dict) else None
    for key, value in overrides.items():
        where = f"--set {key}"
        name, _, param = key.partition(".")
        if not isinstance(components, dict):
            problems.append(Problem(where, "the pipeline declares no components"))
            continue
        if not param:
            problems.append(Problem(where, "expected COMPONENT.PARAM=VALUE"))
            continue
        if name not in components:
            problems.append(Problem(where, _no_component(name, components)))
            continue
        entry = components[name]
        if not isinstance(entry, dict):
            continue  # the spec check reports the malformed component
        if not isinstance(entry.get("init_parameters"), dict):
            entry["init_parameters"] = {}
        target, parts = entry["init_parameters"], param.split(".")
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[parts[-1]] = value
        source.overridden.add(("components", name, "init_parameters", *parts))
    return problems


def _add_components(
    pipeline: Pipeline, parsed: ParsedSpec, source: Source, problems: list[Problem]
) -> None:
    checker = Checker(source, problems, current())
    builder = Builder(source, problems)
    for name, declaration in parsed.spec.components.items():
        path: PathKey = ("components", name)
        if "." in name:
            problems.append(
                source.problem(path, f"a component name cannot contain '.'; found '{name}'")
            )
            continue
        plan = checker.component(path, declaration.type, declaration.init_parameters)
        instance = builder.component(plan) if plan is not None else None
        if instance is not None:
            pipeline.add_component(name, instance, policy=declaration.policy())
    for name, (kind, params) in parsed.unchecked.items():
        checker.component(("components", name), kind, params)  # for its problems; never built


def _connect(
    pipeline: Pipeline,
    parsed: ParsedSpec,
    source: Source,
    declared: set[str],
    problems: list[Problem],
) -> list[PathKey]:
    """Resolve each connection; return the YAML path of each one made (for the graph checks)."""
    sockets = {n: node.sockets for n, node in pipeline.nodes.items()}
    classes = {n: node.class_name for n, node in pipeline.nodes.items()}
    paths: list[PathKey] = []
    for index, spec in zip(parsed.connection_index, parsed.spec.connections, strict=True):
        path: PathKey = ("connections", index)
        ends = {
            "sender": split_address(spec.sender)[0],
            "receiver": split_address(spec.receiver)[0],
        }
        unknown = {f: name for f, name in ends.items() if name not in declared}
        for end, name in unknown.items():
            problems.append(source.problem((*path, end), _no_component(name, declared)))
        if unknown or any(name not in pipeline.nodes for name in ends.values()):
            continue  # a component declared but not built was reported already
        try:
            connection = resolve(sockets, classes, spec.sender, spec.receiver, pipeline.connections)
        except ConnectionProblem as exc:
            problems.append(source.problem((*path, exc.field) if exc.field else path, str(exc)))
            continue
        pipeline.connections.append(connection)
        paths.append(path)
    return paths


def _public_inputs(
    pipeline: Pipeline, parsed: ParsedSpec, source: Source, skip: set[str], problems: list[Problem]
) -> None:
    fed = {(c.receiver, c.receiver_socket): c for c in pipeline.connections}
    for public, declared in parsed.spec.inputs.items():
        prefix: PathKey = ("inputs", public)
        value = declared
        if isinstance(declared, PublicInput):
            prefix, value = (*prefix, "sockets"), declared.sockets
            if "default" in declared.model_fields_set:
                pipeline.input_defaults[public] = declared.default
        addresses = [value] if isinstance(value, str) else value
        good = []
        for index, address in enumerate(addresses):
            path: PathKey = prefix if isinstance(value, str) else (*prefix, index)
            message = _socket_problem(pipeline, address, skip, outputs=False)
            component, socket = split_address(address)
            sender = fed.get((component, socket or ""))
            if message is None and sender is not None:
                node = pipeline.nodes[component]
                if not node.sockets.inputs[socket or ""].variadic:
                    message = (
                        f"'{address}' is already fed by '{sender.sender}.{sender.sender_socket}'; "
                        "a public input can only feed an input no connection feeds"
                    )
            if message is not None:
                if message:
                    problems.append(source.problem(path, message))
                continue
            good.append(address)
        pipeline.inputs[public] = good


def _public_outputs(
    pipeline: Pipeline, parsed: ParsedSpec, source: Source, skip: set[str], problems: list[Problem]
) -> None:
    for public, address in parsed.spec.outputs.items():
        message = _socket_problem(pipeline, address, skip, outputs=True)
        if message is None:
            pipeline.outputs[public] = address
        elif message:
            problems.append(source.problem(("outputs", public), message))


def _socket_problem(
    pipeline: Pipeline, address: str, skip: set[str], *, outputs: bool
) -> str | None:
    """None when `address` names a socket; "" when it names a component already reported."""
    component, socket = split_address(address)
    kind = "output" if outputs else "input"
    if component in skip:
        return ""
    if component not in pipeline.nodes:
        return _no_component(component, pipeline.nodes)
    node = pipeline.nodes[component]
    sockets = node.sockets.outputs if outputs else node.sockets.inputs
    listing = ", ".join(f"{s.name} ({type_name(s.type)})" for s in sockets.values()) or "none"
    if socket is None:
        return (
            f"expected 'component.{kind}', found '{address}'; "
            f"the {kind}s of '{component}' ({node.class_name}) are {listing}"
        )
    if socket not in sockets:
        return (
            f"'{address}' is not an {kind} of '{component}' ({node.class_name}); "
            f"its {kind}s are {listing}.{did_you_mean(socket, sockets)}"
        )
    return None


def _no_component(name: str, components: Collection[str]) -> str:
    known = ", ".join(sorted(components)) or "none"
    return f"no component named '{name}'; components are {known}.{did_you_mean(name, components)}"
