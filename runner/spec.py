"""The pipeline YAML as pydantic models: the one source of truth for its keys and the schema.

`PipelineSpec` is Haystack's serialization format (`components`, `connections`,
`max_runs_per_component`, `metadata`, `connection_type_validation`) plus ragrun's sections
(`inputs`, `outputs`, `max_concurrency`). `ComponentSpec` is `type` and `init_parameters` plus
the run-policy keys, which it inherits from `ComponentPolicy` so they are defined once.

`parse_spec` validates the plain data from `source.py` and turns pydantic's errors into
located problems. It validates the parts that are right even when others are wrong, so the
loader can go on and report every mistake at once.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from .diagnostics import Problem
from .policy import ComponentPolicy
from .source import PathKey, Source, path_text
from .suggest import did_you_mean

POLICY_KEYS: tuple[str, ...] = tuple(ComponentPolicy.model_fields)
"""The run-policy keys a component may carry beside `type` and `init_parameters`."""


class ComponentSpec(ComponentPolicy):
    """One component: its class, the arguments of its constructor, and how the engine calls it."""

    type: str
    """The component's class: a built-in name (`PromptBuilder`), a dotted import path
    (`my_package.module.MyComponent`), or a Haystack type path of a class ragrun has built in."""
    init_parameters: dict[str, Any] = Field(default_factory=dict)
    """Arguments of the class's `__init__`. A `{type: env_var, env_vars: [...]}` value is a
    secret; a `{type, init_parameters}` value (a document store) is built too, and identical
    declarations share one instance."""

    def policy(self) -> ComponentPolicy:
        """The run policy alone, with only the keys the YAML set (so `is_default` holds)."""
        values = {key: getattr(self, key) for key in POLICY_KEYS if key in self.model_fields_set}
        return ComponentPolicy(**values)


class ConnectionSpec(BaseModel):
    """An edge: the output `sender` feeds the input `receiver`."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    sender: str
    """`component.output`, or `component` when it has one output that fits the receiver."""
    receiver: str
    """`component.input`, or `component` when it has one input that fits the sender."""


class PublicInput(BaseModel):
    """A public input written out in full: the sockets it feeds and a value used when omitted."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    sockets: str | list[str]
    """The `component.input` socket(s) this input feeds."""
    default: Any = None
    """The value a run gets when it does not give this input (the input is then optional)."""
    description: str | None = None
    """What the input means, shown by `ragrun validate`."""


class RaySettings(BaseModel):
    """How `--backend ray` runs this pipeline; command-line options win over these."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    actors: PositiveInt = 2
    """Actors in the pool; each loads and warms one copy of the pipeline."""
    num_cpus: float = Field(1.0, ge=0)
    """CPUs Ray reserves for each actor."""
    num_gpus: float = Field(0.0, ge=0)
    """GPUs Ray reserves for each actor (fractions share one GPU)."""
    batch_size: PositiveInt = 16
    """Input lines handed to an actor at a time."""
    concurrency: PositiveInt | None = None
    """Runs in flight in each actor (default: `batch_size`)."""
    runtime_env: dict[str, Any] | None = None
    """Ray `runtime_env`: the pipeline's dependencies, environment variables, files."""


class PipelineSpec(BaseModel):
    """A ragrun pipeline: Haystack's YAML format plus ragrun's `inputs`, `outputs` and limits."""

    model_config = ConfigDict(
        extra="forbid", use_attribute_docstrings=True, title="ragrun pipeline"
    )

    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form data kept with the pipeline; `name` and `description` show in events and logs."""
    inputs: dict[str, str | list[str] | PublicInput] = Field(default_factory=dict)
    """Public inputs: a name mapped to the `component.input` socket(s) it feeds, or to
    `{sockets, default, description}`."""
    outputs: dict[str, str] = Field(default_factory=dict)
    """Public outputs: a name mapped to the `component.output` socket it comes from."""
    components: dict[str, ComponentSpec] = Field(default_factory=dict)
    """The components, by name (a name cannot contain '.')."""
    connections: list[ConnectionSpec] = Field(default_factory=list)
    """The edges of the graph, each from an output socket to an input socket."""
    max_runs_per_component: PositiveInt = 100
    """How often one component may run within one run (a guard against endless loops)."""
    max_concurrency: PositiveInt = 16
    """Components of one run allowed in flight at once."""
    connection_type_validation: bool = True
    """Accepted for Haystack's YAML; ragrun always checks socket types."""
    ray: RaySettings | None = None
    """Settings for `--backend ray` (actors, resources per actor, batch size, runtime_env)."""


@dataclass
class ParsedSpec:
    """The validated spec, with the parts that had mistakes left out."""

    spec: PipelineSpec
    broken: set[str] = field(default_factory=set)
    """Components whose declaration is wrong: left out, and not blamed again in connections."""
    connection_index: list[int] = field(default_factory=list)
    """The YAML index of each of `spec.connections` (wrong ones are left out)."""
    unchecked: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """`type` and `init_parameters` of broken components whose mistakes lie elsewhere (a
    policy key): still checked, so their init parameter mistakes show up in the same report."""


def parse_spec(source: Source) -> tuple[ParsedSpec | None, list[Problem]]:
    """Validate `source.data`; return what is valid and a problem for each mistake."""
    data = source.data
    if not isinstance(data, dict):
        found = "an empty file" if data is None else describe(data)
        problem = source.problem(
            (), f"expected a mapping with components and connections, found {found}"
        )
        return None, [problem]
    data = {k: v for k, v in data.items() if not _is_extension(k)}
    booleans = _booleans_for_numbers(source, PipelineSpec, data, ())
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        return ParsedSpec(spec, set(), list(range(len(spec.connections)))), booleans
    paths = [_data_path(data, err["loc"], err["type"]) for err in errors]
    problems = _problems(source, errors, paths)
    return _without_errors(data, paths), problems + booleans


def _is_extension(key: Any) -> bool:
    """A top-level `x-...` key: ignored, a place for anchors (`x-defaults: &defaults ...`) that
    components merge in (`<<: *defaults`), as in Docker Compose files."""
    return isinstance(key, str) and key.startswith("x-")


def _booleans_for_numbers(
    source: Source, annotation: Any, value: Any, path: PathKey
) -> list[Problem]:
    """`true` where a number is expected: pydantic's lax mode would read it as 1."""
    if isinstance(value, bool):
        options = arms(annotation)
        if bool in options or Any in options or not ({int, float} & set(options)):
            return []
        kind = "an integer" if int in options else "a number"
        return [source.problem(path, f"expected {kind}, found {describe(value)}")]
    model = _model_in(annotation)
    found: list[Problem] = []
    if model is not None and isinstance(value, dict):
        for key, item in value.items():
            info = model.model_fields.get(str(key))
            if info is not None:
                found += _booleans_for_numbers(source, info.annotation, item, (*path, key))
        return found
    args = typing.get_args(annotation)
    if isinstance(value, dict) and typing.get_origin(annotation) is dict and len(args) == 2:
        for key, item in value.items():
            found += _booleans_for_numbers(source, args[1], item, (*path, key))
    return found


def arms(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, unwrapped: `PositiveInt | None` -> `[int, NoneType]`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return arms(args[0])
    if origin in (typing.Union, types.UnionType):
        return [arm for arg in args for arm in arms(arg)]
    return [annotation]


def _without_errors(data: dict[str, Any], paths: list[PathKey]) -> ParsedSpec:
    """Drop every part of `data` that has an error, and validate the rest."""
    bad_top = {p[0] for p in paths if len(p) == 1 or p[0] not in ("components", "connections")}
    broken = {p[1] for p in paths if len(p) >= 2 and p[0] == "components"}
    bad_connections = {p[1] for p in paths if len(p) >= 2 and p[0] == "connections"}
    clean = {k: v for k, v in data.items() if k not in bad_top}
    if isinstance(clean.get("components"), dict):
        clean["components"] = {k: v for k, v in clean["components"].items() if k not in broken}
    index: list[int] = []
    if isinstance(clean.get("connections"), list):
        index = [i for i in range(len(clean["connections"])) if i not in bad_connections]
        clean["connections"] = [clean["connections"][i] for i in index]
    spec = PipelineSpec.model_validate(clean)
    unchecked = _still_checkable(data.get("components"), broken, paths)
    return ParsedSpec(spec, {str(name) for name in broken}, index, unchecked)


def _still_checkable(
    components: Any, broken: set[Any], paths: list[PathKey]
) -> dict[str, tuple[str, dict[str, Any]]]:
    if not isinstance(components, dict):
        return {}
    out = {}
    for name in broken:
        entry = components.get(name)
        if not isinstance(name, str):
            continue  # a name that is not a string is the mistake
        if not isinstance(entry, dict):
            continue
        bad = {p[2] for p in paths if len(p) > 2 and p[:2] == ("components", name)}
        kind, params = entry.get("type"), entry.get("init_parameters", {})
        if (
            isinstance(kind, str)
            and isinstance(params, dict)
            and not bad & {"type", "init_parameters"}
        ):
            out[str(name)] = (kind, params)
    return out


def _data_path(data: Any, loc: tuple[str | int, ...], kind: str) -> PathKey:
    """pydantic's error location with the union-arm tags (`'list[str]'`) taken out."""
    path: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict):
            part = _key_in(node, part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (last and kind == "missing"):
            continue  # a tag pydantic adds for a union arm or a validator, not a key
        path.append(part)
    return tuple(path)


def _key_in(node: dict[Any, Any], part: Any) -> Any:
    """The key of `node` that pydantic's `part` stands for: it writes a key that is not a string
    (`~`, `true`) as its str(), and `true` compares equal to 1."""
    for matches in (
        lambda k: k == part and type(k) is type(part),
        lambda k: str(k) == str(part),
        lambda k: k == part,
    ):
        for key in node:
            if matches(key):
                return key
    return part


def _problems(source: Source, errors: list[Any], paths: list[PathKey]) -> list[Problem]:
    grouped: dict[PathKey, list[Any]] = {}
    for err, path in zip(errors, paths, strict=True):
        grouped.setdefault(path, []).append(err)
    # A union reports each arm: `[5]` for `str | list[str]` fails as a whole (not a string)
    # and in part (item 0); the deeper error is the one that helps.
    deeper = {path[:i] for path in grouped for i in range(len(path))}
    problems = []
    for path, errs in grouped.items():
        kind = errs[0]["type"]
        if path in deeper and kind not in ("extra_forbidden", "missing"):
            continue
        if kind == "invalid_key" or (path and errs[0]["loc"][-1] == "[key]"):
            problems.append(
                source.problem(path, f"a key must be a string; found {describe(path[-1])}")
            )
        elif kind == "extra_forbidden":
            problems.append(_unknown_key(source, path))
        elif kind == "missing":
            problems.append(_missing_key(source, path))
        elif kind == "value_error":  # a validator's own message says it best
            message = str(errs[0]["msg"]).removeprefix("Value error, ")
            problems.append(source.problem(path, message))
        else:
            expected = _SHAPES.get(path[:1] + ("*",) * (len(path) - 1)) if len(path) == 2 else None
            expected = expected or " or ".join(dict.fromkeys(_expected(e) for e in errs))
            message = f"expected {expected}, found {describe(errs[0]['input'])}"
            problems.append(source.problem(path, message))
    return problems


def _unknown_key(source: Source, path: PathKey) -> Problem:
    key, parent = str(path[-1]), path[:-1]
    allowed = list(allowed_keys(parent))
    if parent:
        what = f"unknown key '{key}'; expected one of {', '.join(allowed)}"
    else:
        what = f"unknown top-level key '{key}'; expected one of {', '.join(allowed)}"
    return Problem(path_text(parent), what + "." + did_you_mean(key, allowed), source.locate(path))


def _missing_key(source: Source, path: PathKey) -> Problem:
    key, parent = str(path[-1]), path[:-1]
    hint = ""
    if key == "type" and len(parent) == 2 and parent[0] == "components":
        hint = " (a built-in name such as PromptBuilder, or a dotted import path)"
    return Problem(path_text(parent), f"missing required key '{key}'{hint}", source.locate(parent))


_SHAPES: dict[PathKey, str] = {
    ("components", "*"): "a mapping with 'type' and 'init_parameters'",
    ("connections", "*"): "a mapping {sender: component.output, receiver: component.input}",
}
"""What an entry of `components` or `connections` looks like, for a malformed one."""

_PYDANTIC_WORDS = {
    "a valid dictionary": "a mapping",
    "a valid list": "a list",
    "a valid string": "a string",
    "a valid integer": "an integer",
    "a valid number": "a number",
    "a valid boolean": "true or false",
}


def _expected(err: Any) -> str:
    """pydantic's message as the `expected ...` half of ours."""
    message = str(err["msg"])
    for prefix in ("Input should be ", "Value error, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    for clause in (", unable to", ", got", " or instance of"):
        message = message.split(clause)[0]  # the `found ...` half says what was given
    if message.startswith(("greater", "less")):
        message = "a number " + message
    for words, plain in _PYDANTIC_WORDS.items():
        message = message.replace(words, plain)
    return message


def describe(value: Any) -> str:
    """A short description of a found value, for messages: `'five' (str)`, `a list`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (bool)"  # as YAML spells it
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}' (str)"
    return f"{value!r} ({type(value).__name__})"


def found_text(source: Source, path: PathKey, value: Any) -> str:
    """`describe(value)`, except that a value filled from the environment is never shown: its
    reference as the file writes it stands in (`'${TOP_K}' (from the environment)`)."""
    filled = source.filled.get(tuple(path))
    if filled is not None:
        return f"'{filled.written}' (from the environment; its value is not shown)"
    return describe(value)


def allowed_keys(path: PathKey) -> tuple[str, ...]:
    """The keys the YAML allows at `path`: follow the models along it (`()` is the top)."""
    annotation: Any = PipelineSpec
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return ()
    model = _model_in(annotation)
    if model is None:
        return ()
    keys = tuple(model.model_fields)
    if model is ComponentSpec:  # its own keys first, then the inherited policy keys
        keys = ("type", "init_parameters", *POLICY_KEYS)
    return keys


def _step(annotation: Any, part: str | int) -> Any:
    model = _model_in(annotation)
    if model is not None:
        info = model.model_fields.get(str(part))
        return info.annotation if info is not None else None
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (dict, list) and args:
        return args[-1]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in an annotation such as `RetryPolicy | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arm in typing.get_args(annotation):
            if isinstance(arm, type) and issubclass(arm, BaseModel):
                return arm
    return None
