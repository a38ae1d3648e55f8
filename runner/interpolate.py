"""`${VAR}` and `${VAR:-default}` inside YAML strings, filled from the environment at load.

Rules (the shell's and Docker Compose's, so they read as people expect):

- `${VAR}` is replaced by the value of `VAR`; an unset `VAR` is a located problem.
- `${VAR:-default}` uses `default` when `VAR` is unset or empty.
- `$${` writes a literal `${` (for a prompt that must show `${name}`); any other `$` is
  left alone, so `$5` or `$$` in a prompt need no escaping.
- Only string values are filled, never mapping keys; the result stays a string. A parameter
  annotated `int`, `float` or `bool` converts it later (`top_k: ${TOP_K:-5}` gives 5).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .diagnostics import Problem
from .source import PathKey, Source

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
        return fill(value, env, lambda message: _report(source, path, message, problems))
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), env, source, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), env, source, problems) for i, v in enumerate(value)]
    return value


def _report(source: Source, path: PathKey, message: str, problems: list[Problem]) -> None:
    source.unfilled.add(path)
    problems.append(source.problem(path, message))


def fill(text: str, env: Mapping[str, str], report: Any) -> str:
    """Replace the references in one string; `report(message)` is called for each mistake."""
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
        return value

    return _REFERENCE.sub(replace, text)
