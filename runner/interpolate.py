"""`${VAR}` and `${VAR:-default}` inside YAML strings, filled from the environment at load.

Rules (the shell's and Docker Compose's, so they read as people expect):

- `${VAR}` is replaced by the value of `VAR`; an unset `VAR` is a located problem.
- `${VAR:-default}` uses `default` when `VAR` is unset or empty.
- `$${` writes a literal `${` (for a prompt that must show `${name}`); any other `$` is
  left alone, so `$5` or `$$` in a prompt need no escaping.
- Only string values are filled, never mapping keys; the result stays a string. A parameter
  annotated `int`, `float` or `bool` converts it later (`top_k: ${TOP_K:-5}` gives 5).
- A secret mapping (`{type: env_var, env_vars: [...]}`) is never filled: `env_vars` holds the
  *names* of variables, so `${OPENAI_API_KEY}` there would put the key where a name belongs
  (the secret check reports it, without its value).

A filled value may be a secret, so no message shows one: each filled string keeps the text as
written (`Source.filled`), which messages show instead, and `redact` replaces any filled value
that looks like a secret, wherever a message quotes it, by its reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .diagnostics import Problem
from .secrets import is_secret_dict
from .source import Filled, PathKey, Source

_REFERENCE = re.compile(
    r"\$\$\{"  # escaped: a literal ${
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
    r"|\$\{(?P<bad>[^}]*)\}?"  # anything else after ${ is malformed
)


def interpolate(source: Source, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Fill every `${...}` in `source.data` in place; return the problems found."""
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    source.data = _walk(source.data, (), env, source, problems)
    return problems


def _walk(
    value: Any, path: PathKey, env: Mapping[str, str], source: Source, problems: list[Problem]
) -> Any:
    if isinstance(value, str):
        used: list[str] = []
        filled = fill(
            value, env, lambda message: _report(source, path, message, problems), used.append
        )
        if used:
            source.filled[path] = Filled(value, tuple(used))
            source.filled_values.update((name, env[name]) for name in used if env.get(name))
        return filled
    if is_secret_dict(value):
        return value  # names of variables, not text to fill
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), env, source, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), env, source, problems) for i, v in enumerate(value)]
    return value


def _report(source: Source, path: PathKey, message: str, problems: list[Problem]) -> None:
    source.unfilled.add(path)
    problems.append(source.problem(path, message))


def fill(text: str, env: Mapping[str, str], report: Any, used: Any = None) -> str:
    """Replace the references in one string; `report(message)` is called for each mistake,
    `used(name)` (when given) for each variable whose value was put in."""
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            report(
                f"'{match.group(0)}' is not a valid reference; write ${{NAME}} or "
                "${NAME:-default} (or $${ for a literal ${)"
            )
            return match.group(0)
        value = env.get(name)
        default = match.group("default")
        if default is not None and not value:
            return default
        if value is None:
            report(f"environment variable {name} is not set; set it or write ${{{name}:-default}}")
            return match.group(0)
        if used is not None:
            used(name)
        return value

    return _REFERENCE.sub(replace, text)


_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PWD|CREDENTIAL|AUTH|PRIVATE|CONN|DSN|COOKIE|SESSION|SIGNATURE",
    re.IGNORECASE,
)
_LONG_VALUE = 8
"""A filled value this long may be a credential whatever its variable is called."""


def looks_secret(name: str, value: str) -> bool:
    """Whether a variable's value must not be shown: a secret-like name, or a long value."""
    return bool(_SECRET_NAME.search(name)) or len(value) >= _LONG_VALUE


def redact(text: str, source: Source) -> str:
    """`text` with every filled value that may be a secret replaced by its `${NAME}`."""
    hidden = [(n, v) for n, v in source.filled_values.items() if v and looks_secret(n, v)]
    for name, value in sorted(hidden, key=lambda item: -len(item[1])):  # longest first
        text = text.replace(value, f"${{{name}}}")
    return text


def redact_problems(problems: list[Problem], source: Source) -> list[Problem]:
    """The problems with `redact` applied to each message (the value never leaves the load)."""
    if not source.filled_values:
        return problems
    return [Problem(p.where, redact(p.message, source), p.location) for p in problems]
