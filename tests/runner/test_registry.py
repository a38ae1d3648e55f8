"""Type resolution: built-in short names (lazily, through entry points), Haystack type paths,
dotted import paths, and the messages when a type names nothing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from ragrun import registry
from ragrun.allowlist import ENV_VAR
from ragrun.registry import (
    GROUP,
    UnknownTypeError,
    builtin_names,
    haystack_alias,
    resolve,
    type_name_of,
)
from tests.runner import sample_components

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_names_come_from_the_entry_point_group() -> None:
    names = builtin_names()
    assert {"PromptBuilder", "DocumentSplitter", "OpenAIChatGenerator"} <= set(names)
    assert names == sorted(names)


def test_short_name_resolves_to_the_builtin_class() -> None:
    cls = resolve("PromptBuilder")
    assert cls.__name__ == "PromptBuilder"
    assert cls.__module__ == "ragrun.components.builders.prompt_builder"


@pytest.mark.parametrize(
    "path",
    [
        "haystack.components.builders.prompt_builder.PromptBuilder",
        "haystack.components.builders.PromptBuilder",
    ],
)
def test_haystack_type_path_maps_to_the_builtin_of_the_same_class_name(path: str) -> None:
    assert haystack_alias(path) == "PromptBuilder"
    assert resolve(path) is resolve("PromptBuilder")


def test_haystack_alias_only_for_haystack_paths_and_known_names() -> None:
    assert haystack_alias("haystack_integrations.document_stores.pgvector.PgvectorDocumentStore")
    assert haystack_alias("mypkg.PromptBuilder") is None
    assert haystack_alias("haystack.components.rankers.NotARagrunBuiltin") is None


def test_dotted_path_imports_the_class() -> None:
    assert resolve("tests.runner.sample_components.Upper") is sample_components.Upper


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "PromtBuilder",
            "unknown component type 'PromtBuilder': neither a built-in name nor a dotted import "
            "path (`ragrun components` lists the built-ins). Did you mean 'PromptBuilder'?",
            id="misspelt-short-name",
        ),
        pytest.param(
            "tests.runner.sample_components.Uppr",
            "unknown component type 'tests.runner.sample_components.Uppr': "
            "'tests.runner.sample_components' has no attribute 'Uppr'. Did you mean 'Upper'?",
            id="misspelt-class",
        ),
        pytest.param(
            "no_such_package_xyz.mod.Thing",
            "cannot import 'no_such_package_xyz.mod.Thing': there is no module named "
            "'no_such_package_xyz' (is its package installed?)",
            id="missing-module",
        ),
        pytest.param(
            "tests.runner.sample_components.shout",
            "'tests.runner.sample_components.shout' is a function, not a class",
            id="not-a-class",
        ),
    ],
)
def test_unknown_types_say_what_was_tried(
    name: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "tests,no_such_package_xyz")  # allowed, yet not installed
    with pytest.raises(UnknownTypeError) as caught:
        resolve(name)
    assert str(caught.value) == message


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    fake = {
        name: EntryPoint(name=name, value=value, group=GROUP) for name, value in targets.items()
    }
    monkeypatch.setattr(registry, "_entry_points", lambda: fake)


def test_entry_point_whose_module_is_missing_is_a_clear_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_entry_points(monkeypatch, GhostRetriever="ragrun.components.ghosts.nowhere:Ghost")
    with pytest.raises(UnknownTypeError) as caught:
        resolve("GhostRetriever")
    assert str(caught.value) == (
        "built-in component 'GhostRetriever' is not available: its module "
        "ragrun.components.ghosts.nowhere is missing from this installation"
    )


def test_entry_point_needing_a_missing_package_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ragrun_test_needy.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, NeedyEmbedder="ragrun_test_needy:Needy")
    with pytest.raises(UnknownTypeError) as caught:
        resolve("NeedyEmbedder")
    assert "needs the Python package 'no_such_dependency_xyz'" in str(caught.value)


def test_type_name_of_gives_short_names_for_builtins_and_paths_otherwise() -> None:
    assert type_name_of(resolve("PromptBuilder")) == "PromptBuilder"
    assert type_name_of(sample_components.Upper) == "tests.runner.sample_components.Upper"


def test_resolving_a_builtin_imports_only_its_own_module() -> None:
    code = (
        "import sys\n"
        "from ragrun.registry import resolve\n"
        "resolve('PromptBuilder')\n"
        "print(sorted(m for m in sys.modules if m.startswith('ragrun.components.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = eval(out.stdout)
    assert "ragrun.components.builders.prompt_builder" in loaded
    assert not [
        m
        for m in loaded
        if m.startswith(("ragrun.components.generators", "ragrun.components.embedders"))
    ]
