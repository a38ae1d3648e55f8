"""Component types: a YAML `type` resolved to a class, and a class written back as a `type`.

A `type` is one of:

- a built-in short name (`PromptBuilder`), found through the entry-point group
  `ragrun.components`, where third-party packages register theirs the same way. Only the
  entry point named is imported, so `ragrun validate` stays fast and light;
- a Haystack type path (`haystack.components.builders.prompt_builder.PromptBuilder`,
  `haystack_integrations....PgvectorDocumentStore`) whose class name is a built-in: the
  built-in is used, so YAML written by Haystack's `Pipeline.dumps()` runs here;
- any other dotted import path (`my_package.module.MyComponent`), imported only when its module
  is on the allowlist (`allowlist.py`), checked before anything is imported.

Resolving a dotted path imports the longest allowed module it names, then walks the rest as
attributes; each step must be a class (`Outer.Inner`), never a module or function the module
happens to hold (`pkg.mod.os.system`), and the class found must itself be defined in an allowed
module, so an allowed module cannot hand out a class it imported from elsewhere.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .allowlist import ModuleAllowlist, current
from .suggest import did_you_mean

GROUP = "ragrun.components"
"""The entry-point group of component short names."""

_HAYSTACK_PREFIXES = ("haystack.", "haystack_integrations.")


class UnknownTypeError(LookupError):
    """A `type` that names no class; the message says what was tried and what to do."""


class ModuleNotAllowedError(UnknownTypeError):
    """A dotted path whose module is not on the allowlist; nothing was imported."""


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # the first registration of a name wins
    return found


def builtin_names() -> list[str]:
    """The short names registered in the `ragrun.components` group, sorted (nothing imported)."""
    return sorted(_entry_points())


@functools.lru_cache(maxsize=1)
def entry_point_modules() -> tuple[str, ...]:
    """The modules of the registered entry points (nothing imported): allowed by registering."""
    return tuple(sorted({ep.value.partition(":")[0].strip() for ep in _entry_points().values()}))


def is_registered(cls: type) -> bool:
    """Whether `cls` is the target of an entry point of the `ragrun.components` group."""
    return _registered_name(cls) is not None


def _registered_name(cls: type) -> str | None:
    target = f"{cls.__module__}:{cls.__qualname__}"
    for name, ep in _entry_points().items():
        if ep.value.replace(" ", "") == target:
            return name
    return None


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


def resolve(type_name: str, allowlist: ModuleAllowlist | None = None) -> type:
    """The class a YAML `type` names.

    Args:
        type_name: a built-in short name, a Haystack type path or a dotted import path.
        allowlist: the modules that may be imported (default: the one in force, `current()`).

    Raises:
        ModuleNotAllowedError: the dotted path's module is not allowed (nothing was imported).
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
    obj = _import_path(name, allowlist or current(), "type")
    if not isinstance(obj, type):
        raise UnknownTypeError(f"'{name}' is a {type(obj).__name__}, not a class")
    return obj


def import_callable(path: str, what: str, allowlist: ModuleAllowlist | None = None) -> Any:
    """The function a dotted path names (a component's `splitting_function`), allowlist first.

    Args:
        path: `package.module.function` (or `package.module.Class.method`).
        what: the init parameter it is for, named in messages.
        allowlist: the modules that may be imported (default: the one in force).

    Raises:
        ModuleNotAllowedError: its module is not allowed (nothing was imported).
        UnknownTypeError: it cannot be imported, or is not callable.
    """
    if "." not in path.strip():
        raise UnknownTypeError(f"{what} {path!r} is not a dotted path like 'package.module.name'")
    obj = _import_path(path.strip(), allowlist or current(), what)
    if not callable(obj) or isinstance(obj, type):
        raise UnknownTypeError(f"{what} {path!r} is not a function")
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


def _import_path(path: str, allowlist: ModuleAllowlist, what: str) -> Any:
    """Import `pkg.mod.Class` (or `pkg.mod.Outer.Inner`): the longest allowed module that imports.

    Only prefixes on the allowlist are ever imported: `this.Nope` imports nothing.
    """
    parts = path.split(".")
    candidates = [".".join(parts[:cut]) for cut in range(len(parts) - 1, 0, -1)]
    allowed = [name for name in candidates if allowlist.allows(name)]
    if not allowed:
        named = ".".join(parts[:-1])
        raise ModuleNotAllowedError(
            f"refusing to import '{named}' for {what} '{path}': the module is not on the "
            "allowlist of modules a pipeline file may import; " + allowlist.how_to_allow(named)
        )
    for module_name in allowed:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue  # this prefix is not a module; try a shorter one
            raise UnknownTypeError(
                f"cannot import '{module_name}' for {what} '{path}': it needs the Python "
                f"package '{exc.name}', which is not installed"
            ) from None
        except Exception as exc:
            raise UnknownTypeError(
                f"importing '{module_name}' for {what} '{path}' failed: {type(exc).__name__}: {exc}"
            ) from None
        obj = _attribute_chain(module, module_name, parts[len(module_name.split(".")) :], path)
        _check_defined_in_allowed_module(obj, path, allowlist, what)
        return obj
    hint = ""
    if path.startswith(_HAYSTACK_PREFIXES):
        suggestion = did_you_mean(parts[-1], _entry_points())
        hint = (
            f"; ragrun has no built-in named '{parts[-1]}' "
            f"(install haystack-ai to use Haystack's own components).{suggestion}"
        )
    raise UnknownTypeError(
        f"cannot import '{path}': there is no module named '{allowed[-1]}' "
        f"(is its package installed?){hint}"
    )


def _attribute_chain(module: Any, module_name: str, names: list[str], path: str) -> Any:
    """Walk `Outer.Inner` from a module: every step but the last must be a class."""
    obj = module
    for name in names:
        if obj is not module and not isinstance(obj, type):
            raise UnknownTypeError(
                f"cannot resolve '{path}': '{name}' is looked up on a "
                f"{type(obj).__name__}; a dotted path names a class (or a class in a class) "
                f"of its module"
            )
        if not hasattr(obj, name):
            owner = module_name if obj is module else f"{module_name}.{obj.__qualname__}"
            classes = [n for n, v in vars(obj).items() if isinstance(v, type)]
            raise UnknownTypeError(
                f"unknown component type '{path}': '{owner}' has no attribute '{name}'."
                + did_you_mean(name, classes)
            )
        obj = getattr(obj, name)
        if isinstance(obj, type(module)):
            raise UnknownTypeError(
                f"cannot resolve '{path}': '{name}' is a module that '{module_name}' imports, "
                f"not one of its classes; name the module itself ('{obj.__name__}')"
            )
    return obj


def _check_defined_in_allowed_module(
    obj: Any, path: str, allowlist: ModuleAllowlist, what: str
) -> None:
    """An allowed module may hold a class or function imported from a module that is not."""
    home = getattr(obj, "__module__", None)
    if not isinstance(home, str) or allowlist.allows(home):
        return
    raise ModuleNotAllowedError(
        f"refusing {what} '{path}': it is defined in the module '{home}', which is not on "
        f"the allowlist; " + allowlist.how_to_allow(home)
    )


def type_name_of(cls: type) -> str:
    """How YAML names `cls`: its built-in short name when it is one, else its dotted path."""
    return _registered_name(cls) or f"{cls.__module__}.{cls.__qualname__}"
