"""Run `python -m ragrun` in a child process, as a user or a CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
"""The project root: on PYTHONPATH so pipelines can name `tests.cli.sample_components.X`."""

SAMPLES = "tests.cli.sample_components"

# Two components joined by one connection: the pipeline most CLI tests run or validate.
CHAIN = f"""
metadata: {{name: chain}}
components:
  upper:
    type: {SAMPLES}.Upper
  prompt:
    type: PromptBuilder
    init_parameters: {{template: "Q: {{{{ question }}}} / {{{{ text }}}}"}}
connections:
  - {{sender: upper.text, receiver: prompt.text}}
"""


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child ragrun: the project root importable, no colour, no debug."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAGRUN_DEBUG", "FORCE_COLOR")}
    env.update({"PYTHONPATH": str(ROOT), "NO_COLOR": "1"}, **extra)
    return env


def ragrun(
    *args: str | Path | bytes,
    stdin: str | None = None,
    cwd: Path | None = None,
    binary: bool = False,
    **env: str,
) -> subprocess.CompletedProcess[Any]:
    """`python -m ragrun ARGS` with stdout and stderr captured (so stdout is not a terminal).

    With `binary`, stdout and stderr are bytes, undecoded (to check they are valid UTF-8).
    """
    return subprocess.run(
        [sys.executable, "-m", "ragrun", *(a if isinstance(a, bytes) else str(a) for a in args)],
        input=stdin.encode() if binary and stdin is not None else stdin,
        capture_output=True,
        text=not binary,
        cwd=cwd or ROOT,
        env=child_env(**env),
        timeout=120,  # a safety net against a hung child, not a timing assertion
    )


def events(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line parsed as JSON (fails on any line that is not)."""
    return [json.loads(line) for line in stdout.splitlines()]


def write(path: Path, text: str) -> Path:
    """Write a pipeline file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path
