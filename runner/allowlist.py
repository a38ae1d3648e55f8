"""Which modules a pipeline file may import: checked before any dotted `type` is imported.

A dotted `type` (`my_package.module.MyComponent`) or a callable given by path (a
`splitting_function`) imports a module, and importing a module runs its top-level code. A
pipeline file is data, so it may only name modules on this allowlist, as in Haystack 3:

- `ragrun.components` (the built-ins), `haystack` and `haystack_integrations`;
- the module of each entry point registered in the `ragrun.components` group (an installed
  package that registers a component has said its module is meant to be named);
- what the user allows: the CLI's `--allow-module PREFIX`, the environment variable
  `RAGRUN_ALLOWED_MODULES` (comma-separated), `Pipeline.load(..., allowed_modules=[...])`;
- anything at all with `unsafe` (`--unsafe`, `Pipeline.load(..., unsafe=True)`, or `*`).

A pattern is a module prefix (`mypkg` allows `mypkg` and `mypkg.sub`, not `mypkg_other`);
one with `*`, `?` or `[` is matched as a whole with `fnmatch` (`test_*`). Allowing a module
trusts it whole, and the packages above it: importing `a.b` runs `a/__init__.py` too.

The allowlist of one load travels in a context variable, so a component that resolves a
callable by path while it is built (`registry.import_callable`) sees the same allowlist, and
nested loads only ever widen it for their own duration.
"""

from __future__ import annotations

import contextvars
import fnmatch
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ENV_VAR = "RAGRUN_ALLOWED_MODULES"
"""Comma-separated module patterns a pipeline file may import, beside the defaults."""

DEFAULT_MODULES: tuple[str, ...] = ("ragrun.components", "haystack", "haystack_integrations")
"""Modules every pipeline file may import (plus the modules of registered entry points)."""


@dataclass(frozen=True)
class ModuleAllowlist:
    """Module patterns allowed beside the defaults, or `unsafe` for any module."""

    patterns: tuple[str, ...] = ()
    unsafe: bool = False

    def allows(self, module: str) -> bool:
        """Whether `module` may be imported: a default, an entry-point module, or a pattern."""
        if self.unsafe:
            return True
        from .registry import entry_point_modules

        every = (*DEFAULT_MODULES, *entry_point_modules(), *self.patterns, *_from_environment())
        return any(matches(module, pattern) for pattern in every)

    def widened(self, patterns: Iterable[str] = (), unsafe: bool = False) -> ModuleAllowlist:
        """This allowlist with more patterns (never fewer)."""
        extra = tuple(p for p in split_patterns(patterns) if p not in self.patterns)
        return ModuleAllowlist((*self.patterns, *extra), self.unsafe or unsafe)

    def how_to_allow(self, module: str) -> str:
        """The ways to allow `module`, for a refusal's message."""
        return (
            f"if you trust this file, allow the module with --allow-module {module} (command "
            f"line), {ENV_VAR}={module} (environment) or allowed_modules=[{module!r}] (Python)"
        )


_current: contextvars.ContextVar[ModuleAllowlist | None] = contextvars.ContextVar(
    "ragrun_module_allowlist", default=None
)


def current() -> ModuleAllowlist:
    """The allowlist in force here: the defaults plus what the enclosing `allowing` added."""
    return _current.get() or ModuleAllowlist()


@contextmanager
def allowing(patterns: Iterable[str] = (), unsafe: bool = False) -> Iterator[ModuleAllowlist]:
    """Widen the allowlist for the duration of the block (a load, a CLI command)."""
    widened = current().widened(patterns, unsafe)
    token = _current.set(widened)
    try:
        yield widened
    finally:
        _current.reset(token)


def matches(module: str, pattern: str) -> bool:
    """`mypkg` matches `mypkg` and `mypkg.sub`; `mypkg.*` the same; wildcards use fnmatch."""
    if pattern.endswith(".*") and not any(c in pattern[:-2] for c in "*?["):
        pattern = pattern[:-2]
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(module, pattern)
    return module == pattern or module.startswith(pattern + ".")


def split_patterns(values: Iterable[str]) -> list[str]:
    """`["a,b", " c "]` -> `["a", "b", "c"]`: patterns given comma-separated, repeated, or both."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def _from_environment() -> list[str]:
    # Read on every check, not once at import: tests and long-lived processes change it.
    return split_patterns([os.environ.get(ENV_VAR, "")])
