"""Checking `{type, init_parameters}` declarations, building nothing: each becomes a `Plan`.

A pipeline file is data, so every declaration is checked whole before any constructor runs
(`construction.py` builds from the plans):

- `type` resolves through the registry, which imports only allowed modules (`allowlist.py`);
- each init parameter is checked against `__init__`: an unknown name is reported and its value
  is never looked at, so `nope: {type: subprocess.Popen, ...}` imports and builds nothing;
  missing required parameters and plain values that do not fit the annotation are reported;
- a parameter annotated `Secret` takes only a secret mapping, never a plain string;
- a nested declaration (`document_store: {type: InMemoryDocumentStore, init_parameters: ...}`)
  must name a *value type* (`is_value_type`) whose instances fit the parameter's annotation,
  and is checked the same way, all the way down.

A declaration with any mistake, anywhere below it, gives no plan, so nothing of it is built.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .allowlist import ModuleAllowlist
from .component import is_component
from .diagnostics import Problem
from .parameters import (
    InitSignature,
    annotated_classes,
    check_value,
    class_fits,
    expected_text,
    init_signature,
    item_annotation,
    wants_secret,
)
from .registry import UnknownTypeError, builtin_names, is_registered, resolve
from .secrets import Secret, is_secret_dict
from .source import PathKey, Source, path_text
from .spec import found_text
from .suggest import did_you_mean

_FAILED: Any = object()
_SECRET_KEYS = ("type", "env_vars", "strict")
_VARIABLE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class Plan:
    """A declaration that passed every check: its class and arguments, nothing built yet."""

    path: PathKey
    cls: type
    arguments: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments: plain data, `Secret`s, nested `Plan`s (also inside lists)."""
    written: dict[str, Any] = field(default_factory=dict)
    """The init parameters as written (for Haystack's `from_dict`, and to share nested ones)."""

    def sharing_key(self) -> tuple[type, str]:
        """Nested declarations with the same class and parameters are one instance."""
        return self.cls, json.dumps(self.written, sort_keys=True, default=repr)


def is_nested_declaration(value: Any) -> bool:
    """True for `{type, init_parameters}` (a string and a mapping), or for `{type}` alone when
    it names a registered component (`{type: InMemoryDocumentStore}`): a bare `{type: ...}` that
    names nothing registered stays plain data, such as OpenAI's `{type: json_object}`."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return False
    if set(value) == {"type"}:
        return value["type"] in builtin_names()
    return set(value) == {"type", "init_parameters"} and isinstance(
        value["init_parameters"], dict | None
    )


def is_component_class(cls: type) -> bool:
    """A class made with ragrun's or Haystack's `@component`."""
    return is_component(cls) or is_haystack_class(cls)


def is_haystack_class(cls: type) -> bool:
    """A Haystack component class, known by its metaclass (importing haystack costs too much)."""
    return any(
        m.__name__ == "ComponentMeta" and m.__module__.startswith("haystack")
        for m in inspect.getmro(type(cls))
    )


def is_value_type(cls: type, annotation: Any) -> bool:
    """Whether a nested declaration may build `cls`: the rule that keeps `subprocess.Popen` out.

    A value type is a class registered in the `ragrun.components` entry-point group (the
    built-in components and document stores, and third-party ones), a component class, a
    document store (Haystack's protocol: `write_documents`, `filter_documents`,
    `count_documents`), or a class the parameter's own annotation names (or a subclass of one).
    """
    if is_registered(cls) or is_component_class(cls):
        return True
    if all(callable(getattr(cls, m, None)) for m in _STORE_METHODS):
        return True
    return any(_subclass(cls, named) for named in annotated_classes(annotation))


_STORE_METHODS = ("write_documents", "filter_documents", "count_documents")


def _subclass(cls: type, base: type) -> bool:
    try:
        return issubclass(cls, base)
    except TypeError:
        return False


class Checker:
    """Checks the declarations of one load; mistakes go to `problems`, located in `source`."""

    def __init__(self, source: Source, problems: list[Problem], allowlist: ModuleAllowlist):
        self.source = source
        self.problems = problems
        self.allowlist = allowlist

    def component(self, path: PathKey, type_name: str, params: dict[str, Any]) -> Plan | None:
        """The plan of the top-level component declared at `path`; None after any mistake."""
        cls = self._resolve(path, type_name)
        if cls is None:
            return None
        if not is_component_class(cls):
            self._report(
                (*path, "type"),
                f"'{type_name}' ({cls.__name__}) is not a component: its class is not decorated "
                "with @component (a document store goes in a component's init_parameters)",
            )
            return None
        return self._declaration(path, cls, params)

    def _resolve(self, path: PathKey, type_name: str) -> type | None:
        try:
            return resolve(type_name, self.allowlist)
        except UnknownTypeError as exc:
            self._report((*path, "type"), str(exc))
            return None

    def _declaration(self, path: PathKey, cls: type, params: dict[str, Any]) -> Plan | None:
        signature = init_signature(cls)
        arguments: dict[str, Any] = {}
        ok = True
        for name, raw in params.items():
            value_path = (*path, "init_parameters", name)
            if value_path in self.source.unfilled:
                ok = False  # its `${VAR}` was reported; its type cannot be judged
                continue
            parameter = signature.parameters.get(name)
            if parameter is None and not signature.takes_any:
                self._unknown(value_path, cls, name, signature)
                ok = False  # its value is never looked at: nothing in it is imported
                continue
            annotation = parameter.annotation if parameter is not None else Any
            value = self._value(value_path, raw, annotation)
            if value is _FAILED:
                ok = False
                continue
            arguments[name] = value
        for parameter in signature.parameters.values():
            if parameter.required and parameter.name not in params:
                where = (
                    (*path, "init_parameters") if "init_parameters" in self._keys(path) else path
                )
                self._report(
                    where,
                    f"missing required init parameter '{parameter.name}' of {cls.__name__} "
                    f"(expected {parameter.expected()})",
                )
                ok = False
        return Plan(path, cls, arguments, dict(params)) if ok else None

    def _value(self, path: PathKey, value: Any, annotation: Any) -> Any:
        """A secret or a nested declaration checked; list items too; plain data type-checked."""
        if is_secret_dict(value):
            return self._secret(path, value)
        if is_nested_declaration(value):
            return self._nested(path, value, annotation)
        if isinstance(value, list) and any(
            is_nested_declaration(v) or is_secret_dict(v) for v in value
        ):
            item = item_annotation(annotation)
            items = [self._value((*path, i), v, item) for i, v in enumerate(value)]
            return _FAILED if any(v is _FAILED for v in items) else items
        if wants_secret(annotation) and not isinstance(value, Secret):
            self._report(path, self._inline_secret(path, value))
            return _FAILED
        checked, message = check_value(annotation, value, found_text(self.source, path, value))
        if message is not None:
            self._report(path, message)
            return _FAILED
        return checked

    def _nested(self, path: PathKey, declaration: dict[str, Any], annotation: Any) -> Any:
        cls = self._resolve(path, declaration["type"])
        if cls is None:
            return _FAILED
        if not class_fits(cls, annotation):
            self._report(
                (*path, "type"),
                f"expected {expected_text(annotation)}, found a {cls.__name__} declaration",
            )
            return _FAILED
        if not is_value_type(cls, annotation):
            self._report(
                (*path, "type"),
                f"'{declaration['type']}' ({cls.__name__}) cannot be built inside init_parameters: "
                "a nested declaration names a component, a document store, a type registered "
                "in the ragrun.components entry-point group, or a class the parameter is "
                f"annotated with (here: {expected_text(annotation)})",
            )
            return _FAILED
        plan = self._declaration(path, cls, declaration.get("init_parameters") or {})
        return _FAILED if plan is None else plan

    def _secret(self, path: PathKey, value: dict[str, Any]) -> Any:
        """`{type: env_var, env_vars: [NAME, ...], strict: bool}`; a message names keys, never
        values (a mistaken secret mapping often holds the secret itself)."""
        form = "a secret is {type: env_var, env_vars: [NAME, ...], strict: true|false}"
        extra = [str(k) for k in value if k not in _SECRET_KEYS]
        if extra:
            self._report(
                (*path, extra[0]),
                f"unknown key '{extra[0]}' in a secret (its value is not shown); {form}."
                + did_you_mean(extra[0], _SECRET_KEYS),
            )
            return _FAILED
        names = value.get("env_vars")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names:
            found = "an empty list" if names == [] else f"a {type(names).__name__}"
            self._report(
                (*path, "env_vars"),
                f"expected a list of environment variable names, found {found}; {form}",
            )
            return _FAILED
        for index, name in enumerate(names):
            message = _variable_name_problem(name)
            if message is not None:
                where = (*path, "env_vars", index) if isinstance(value["env_vars"], list) else path
                self._report(where, message)
                return _FAILED
        if not isinstance(value.get("strict", True), bool):
            self._report((*path, "strict"), f"expected true or false; {form}")
            return _FAILED
        return Secret.from_env_var(list(names), strict=value.get("strict", True))

    def _inline_secret(self, path: PathKey, value: Any) -> str:
        filled = self.source.filled.get(path)
        name = filled.variables[0] if filled is not None and len(filled.variables) == 1 else "NAME"
        if value is None:
            found = "null"
        elif filled is not None:
            found = f"a value filled from '{filled.written}' (not shown)"
        else:
            found = "a value written inline (not shown)"
        return (
            f"expected a secret {{type: env_var, env_vars: [{name}]}}, found {found}: a secret "
            f"is read from the environment when it is needed, never written into the pipeline; "
            f"write {path[-1]}: {{type: env_var, env_vars: [{name}]}}"
        )

    def _unknown(self, path: PathKey, cls: type, name: str, signature: InitSignature) -> None:
        known = list(signature.parameters)
        if known:
            message = (
                f"unknown init parameter '{name}' of {cls.__name__}; its parameters are "
                f"{', '.join(known)}.{did_you_mean(name, known)}"
            )
        else:
            message = f"unknown init parameter '{name}': {cls.__name__} takes no init parameters"
        self.problems.append(Problem(path_text(path[:-1]), message, self.source.locate(path)))

    def _keys(self, path: PathKey) -> set[str]:
        node: Any = self.source.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return set()
        return set(node) if isinstance(node, dict) else set()

    def _report(self, path: PathKey, message: str) -> None:
        self.problems.append(self.source.problem(path, message))


def _variable_name_problem(name: Any) -> str | None:
    """Why `name` is not an environment variable's name, without ever quoting a value."""
    if isinstance(name, str) and re.fullmatch(_VARIABLE_NAME, name):
        return None
    if isinstance(name, str) and "${" in name:
        inner = re.search(r"\$\{(" + _VARIABLE_NAME + r")", name)
        shown = inner.group(1) if inner else "NAME"
        return (
            f"env_vars lists the names of variables, not references: write {shown}, "
            f"not ${{{shown}}} (a reference would put the secret's value where its name belongs)"
        )
    kind = "a string" if isinstance(name, str) else f"a {type(name).__name__}"
    return (
        f"expected the name of an environment variable (letters, digits and _), found {kind} "
        "(not shown: it may be the secret itself)"
    )
