"""The Python examples in README.md and docs/ run, so they cannot rot (house style 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list:
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8")), 1):
            code = match.group(1)
            if code.lstrip().startswith("def ") or code.startswith("    "):
                continue  # a method signature shown for reference, not a program
            found.append(pytest.param(code, id=f"{page.relative_to(ROOT)}#{number}"))
    return found


@pytest.mark.parametrize("code", _examples())
def test_example_runs(code: str) -> None:
    exec(compile(code, "<example>", "exec"), {"__name__": "example"})
