"""Component types: a YAML `type` resolved to a class, and a class written back as a `type`.

A `type` is one of:

- a built-in short name (`PromptBuilder`), found through the entry-point group
  `ragrun.components`, where third-party packages register theirs the same way. Only the
  entry point named is imported, so `ragrun validate` stays fast and light;
- a Haystack type path (`haystack.components.builders.prompt_builder.PromptBuilder`,
  `haystack_integrations....PgvectorDocumentStore`) whose class name is a built-in: the
  built-in is used, so YAML written by Haystack's `Pipeline.dumps()` runs here;
- any other dotted import path (`my_package.module.MyComponent`), imported as it is (as in
  Haystack, a pipeline file may name any importable class: load only files you trust).
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .suggest import did_you_mean

GROUP = "ragrun.components"
"""The entry-point group of component short names."""

_HAYSTACK_PREFIXES = ("haystack.", "haystack_integrations.")


class UnknownTypeError(LookupError):
    """A `type` that names no class; the message says what was tried and what to do."""


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # the first registration of a name wins
    return found


def builtin_names() -> list[str]:
    """The short names registered in the `ragrun.components` group, sorted (nothing imported)."""
    return sorted(_entry_points())


def builtin_target(name: str) -> str | None:
    """`module:Class` of a short name, or None (nothing imported)."""
    ep = _entry_points().get(name)
    return ep.value if ep is not None else None


def haystack_alias(type_name: str) -> str | None:
    """The built-in standing in for a Haystack type path with the same class name, if any."""
    if not type_name.startswith(_HAYSTACK_PREFIXES):
        return None
    name = type_name.rsplit(".", 1)[-1]
    return name if name in _entry_points() else None


def resolve(type_name: str) -> type:
    """The class a YAML `type` names.

    Raises:
        UnknownTypeError: no such built-in, the module or class cannot be imported, or the
            name is not a class.
    """
    name = type_name.strip()
    builtin = name if name in _entry_points() else haystack_alias(name)
    if builtin is not None:
        return load_builtin(builtin)
    if "." not in name:
        raise UnknownTypeError(
            f"unknown component type '{name}': neither a built-in name nor a dotted import path "
            f"(`ragrun components` lists the built-ins).{did_you_mean(name, _entry_points())}"
        )
    obj = _import_path(name)
    if not isinstance(obj, type):
        raise UnknownTypeError(f"'{name}' is a {type(obj).__name__}, not a class")
    return obj


@functools.cache
def load_builtin(name: str) -> type:
    """Import the class of one built-in short name (and only its module).

    Raises:
        UnknownTypeError: the entry point's module, or a package it needs, is missing.
    """
    ep = _entry_points()[name]
    module = ep.value.partition(":")[0]
    try:
        obj = ep.load()
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module == missing or module.startswith(missing + ".")):
            raise UnknownTypeError(
                f"built-in component '{name}' is not available: its module {module} is "
                "missing from this installation"
            ) from None
        raise UnknownTypeError(
            f"built-in component '{name}' needs the Python package '{missing}', which is not "
            "installed (install the ragrun extra that provides it, see the README)"
        ) from None
    except Exception as exc:
        raise UnknownTypeError(
            f"cannot import built-in component '{name}' ({ep.value}): {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(obj, type):
        raise UnknownTypeError(f"built-in '{name}' ({ep.value}) is not a class")
    return obj


def _import_path(path: str) -> Any:
    """Import `pkg.mod.Class` (or `pkg.mod.Outer.Inner`): the longest importable module wins."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue  # this prefix is not a module; try a shorter one
            raise UnknownTypeError(
                f"cannot import '{module_name}' for type '{path}': it needs the Python "
                f"package '{exc.name}', which is not installed"
            ) from None
        except Exception as exc:
            raise UnknownTypeError(
                f"importing '{module_name}' for type '{path}' failed: {type(exc).__name__}: {exc}"
            ) from None
        return _attribute_chain(module, module_name, parts[cut:], path)
    hint = ""
    if path.startswith(_HAYSTACK_PREFIXES):
        suggestion = did_you_mean(parts[-1], _entry_points())
        hint = (
            f"; ragrun has no built-in named '{parts[-1]}' "
            f"(install haystack-ai to use Haystack's own components).{suggestion}"
        )
    raise UnknownTypeError(
        f"cannot import '{path}': there is no module named '{parts[0]}' "
        f"(is its package installed?){hint}"
    )


def _attribute_chain(module: Any, module_name: str, names: list[str], path: str) -> Any:
    obj = module
    for name in names:
        if not hasattr(obj, name):
            owner = module_name if obj is module else f"{module_name}.{obj.__qualname__}"
            classes = [n for n, v in vars(obj).items() if isinstance(v, type)]
            raise UnknownTypeError(
                f"unknown component type '{path}': '{owner}' has no attribute '{name}'."
                + did_you_mean(name, classes)
            )
        obj = getattr(obj, name)
    return obj


def type_name_of(cls: type) -> str:
    """How YAML names `cls`: its built-in short name when it is one, else its dotted path."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    for name, ep in _entry_points().items():
        if ep.value.replace(" ", "") == target:
            return name
    return f"{cls.__module__}.{cls.__qualname__}"
