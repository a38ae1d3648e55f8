"""Guards for the architecture: public exports, light imports, layering, packaging."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import ragrun

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence_transformers", "openai", "ray", "transformers")


def test_all_lists_exactly_the_public_names() -> None:
    for name in ragrun.__all__:  # every listed name resolves (they are imported on first use)
        getattr(ragrun, name)
    public = {
        name
        for name, value in vars(ragrun).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    }
    public -= {"annotations", "TYPE_CHECKING", "Any", "importlib"}
    assert callable(ragrun.component) and not isinstance(ragrun.component, type(sys))
    assert sorted(ragrun.__all__) == sorted(public)


def test_import_ragrun_defers_pydantic_until_a_name_needs_it() -> None:
    code = "import sys, ragrun; print('pydantic' in sys.modules, ragrun.component.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "ragrun.component"]


def test_import_ragrun_loads_no_heavy_library() -> None:
    code = (
        "import sys, ragrun, ragrun.components;"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engine_never_imports_components() -> None:
    offenders = []
    for path in (ROOT / "runner").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("ragrun.components") or n.startswith("..components")
            ]
    assert offenders == []


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"ragrun"} | {
        "ragrun." + ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "components").rglob("__init__.py")
    }
    found |= {
        "ragrun." + ".".join(p.parent.relative_to(ROOT / "runner").parts)
        for p in (ROOT / "runner").rglob("*/__init__.py")
    }
    assert found == listed
