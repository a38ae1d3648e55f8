"""Building component instances from `{type, init_parameters}` declarations, reporting mistakes.

For each declaration: resolve `type` (`registry.py`), check each init parameter against
`__init__` (`parameters.py`: unknown names with a did-you-mean, missing required ones,
ill-typed plain values), turn `{type: env_var, env_vars: [...]}` into a `Secret`, build
nested `{type, init_parameters}` objects (a document store), then call the constructor.

Nested declarations with the same class and the same parameters share one instance for the
whole load, so a writer and a retriever that both declare
`document_store: {type: InMemoryDocumentStore, init_parameters: {path: docs.store}}` use the
same store. Top-level components are never shared: each is its own node.
"""

from __future__ import annotations

import json
from typing import Any

from .component import is_component
from .diagnostics import Problem
from .parameters import InitSignature, check_value, init_signature
from .registry import UnknownTypeError, resolve
from .secrets import Secret, is_secret_dict
from .source import PathKey, Source, path_text
from .suggest import did_you_mean

_FAILED: Any = object()


def is_nested_declaration(value: Any) -> bool:
    """True for `{type, init_parameters}` (a string and a mapping), or for `{type}` alone when
    it names a registered component (`{type: InMemoryDocumentStore}`): a bare `{type: ...}` that
    names nothing registered stays plain data, such as OpenAI's `{type: json_object}`."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return False
    if set(value) == {"type"}:
        from .registry import builtin_names

        return value["type"] in builtin_names()
    return set(value) == {"type", "init_parameters"} and isinstance(
        value["init_parameters"], dict | None
    )


class Constructor:
    """Builds the components of one load; mistakes go to `problems`, located in `source`."""

    def __init__(self, source: Source, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self._shared: dict[tuple[type, str], Any] = {}

    def component(self, path: PathKey, type_name: str, params: dict[str, Any]) -> Any | None:
        """Build the top-level component declared at `path`; None when it cannot be built."""
        cls = self._resolve(path, type_name)
        if cls is None:
            return None
        if not _is_component_class(cls):
            self._report(
                (*path, "type"),
                f"'{type_name}' ({cls.__name__}) is not a component: its class is not decorated "
                "with @component (a document store goes in a component's init_parameters)",
            )
            return None
        instance = self._build(path, cls, params)
        return None if instance is _FAILED else instance

    def _nested(self, path: PathKey, declaration: dict[str, Any]) -> Any:
        cls = self._resolve(path, declaration["type"])
        if cls is None:
            return _FAILED
        params = declaration.get("init_parameters") or {}
        key = (cls, json.dumps(params, sort_keys=True, default=repr))
        if key not in self._shared:
            self._shared[key] = self._build(path, cls, params)
        return self._shared[key]

    def _resolve(self, path: PathKey, type_name: str) -> type | None:
        try:
            return resolve(type_name)
        except UnknownTypeError as exc:
            self._report((*path, "type"), str(exc))
            return None

    def _build(self, path: PathKey, cls: type, params: dict[str, Any]) -> Any:
        kwargs = self._arguments(path, cls, params)
        if kwargs is _FAILED:
            return _FAILED
        try:
            if _is_haystack_class(cls) and hasattr(cls, "from_dict"):
                # Haystack's own from_dict turns its serialized forms (secrets, types, chat
                # messages, stores) into Haystack objects; ragrun's forms would not fit.
                data = {"type": f"{cls.__module__}.{cls.__qualname__}", "init_parameters": params}
                return cls.from_dict(data)
            return cls(**kwargs)
        except Exception as exc:  # the constructor's own checks: report them, located
            where = (*path, "init_parameters") if params else path
            self._report(
                where, f"{cls.__name__} rejected its init parameters: {type(exc).__name__}: {exc}"
            )
            return _FAILED

    def _arguments(self, path: PathKey, cls: type, params: dict[str, Any]) -> Any:
        signature = init_signature(cls)
        kwargs: dict[str, Any] = {}
        ok = True
        for name, raw in params.items():
            value_path = (*path, "init_parameters", name)
            if value_path in self.source.unfilled:
                ok = False  # its `${VAR}` was reported; its type cannot be judged
                continue
            value = self._value(value_path, raw)
            if value is _FAILED:
                ok = False
                continue
            parameter = signature.parameters.get(name)
            if parameter is None and not signature.takes_any:
                self._unknown(value_path, cls, name, signature)
                ok = False
                continue
            if parameter is not None and value is raw:
                value, message = check_value(parameter, raw)
                if message is not None:
                    self._report(value_path, message)
                    ok = False
            kwargs[name] = value
        missing = [p for p in signature.parameters.values() if p.required and p.name not in params]
        for parameter in missing:
            where = (*path, "init_parameters") if "init_parameters" in self._keys(path) else path
            self._report(
                where,
                f"missing required init parameter '{parameter.name}' of {cls.__name__} "
                f"(expected {parameter.expected()})",
            )
            ok = False
        return kwargs if ok else _FAILED

    def _value(self, path: PathKey, value: Any) -> Any:
        """A secret or a nested declaration built; list items too; anything else as it is."""
        if is_secret_dict(value):
            return self._secret(path, value)
        if is_nested_declaration(value):
            return self._nested(path, value)
        if isinstance(value, list) and any(is_nested_declaration(v) for v in value):
            items = [self._value((*path, i), v) for i, v in enumerate(value)]
            return _FAILED if any(v is _FAILED for v in items) else items
        return value

    def _secret(self, path: PathKey, value: dict[str, Any]) -> Any:
        names = value.get("env_vars")
        extra = set(value) - {"type", "env_vars", "strict"}
        if isinstance(names, str):
            names = [names]
        valid = (
            isinstance(names, list)
            and names
            and all(isinstance(n, str) and n for n in names)
            and isinstance(value.get("strict", True), bool)
            and not extra
        )
        if not valid:
            self._report(
                path,
                "expected a secret {type: env_var, env_vars: [NAME, ...], strict: true|false}, "
                f"found {json.dumps(value, default=repr)}",
            )
            return _FAILED
        return Secret.from_env_var(list(names or ()), strict=value.get("strict", True))

    def _unknown(self, path: PathKey, cls: type, name: str, signature: InitSignature) -> None:
        known = list(signature.parameters)
        parent = path[:-1]
        if known:
            message = (
                f"unknown init parameter '{name}' of {cls.__name__}; its parameters are "
                f"{', '.join(known)}.{did_you_mean(name, known)}"
            )
        else:
            message = f"unknown init parameter '{name}': {cls.__name__} takes no init parameters"
        self.problems.append(Problem(path_text(parent), message, self.source.locate(path)))

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


def _is_component_class(cls: type) -> bool:
    return is_component(cls) or _is_haystack_class(cls)


def _is_haystack_class(cls: type) -> bool:
    # Haystack marks its component classes with a metaclass, not an attribute (the attribute
    # `is_component` looks for is set on instances), so check the metaclass by name: importing
    # haystack here would make every load pay for it.
    return any(
        m.__name__ == "ComponentMeta" and m.__module__.startswith("haystack")
        for m in type(cls).__mro__
    )
