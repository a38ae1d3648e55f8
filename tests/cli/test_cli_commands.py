"""`ragrun schema`, `ragrun components`, `--help` and `--version`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ragrun.schema import schema_text
from tests.cli.clirun import ROOT, ragrun


@pytest.mark.parametrize("kind", ["pipeline", "events"])
def test_schema_prints_what_the_code_generates(kind: str) -> None:
    done = ragrun("schema", kind)
    assert done.returncode == 0, done.stderr
    assert done.stdout == schema_text(kind)
    assert json.loads(done.stdout)["$schema"].startswith("https://json-schema.org/")


def test_schema_defaults_to_the_pipeline_and_refuses_unknown_kinds() -> None:
    assert ragrun("schema").stdout == schema_text("pipeline")
    wrong = ragrun("schema", "pipelines")
    assert wrong.returncode == 2
    assert "'pipelines' is not one of 'pipeline', 'events'" in wrong.stderr


def test_components_lists_sockets_and_init_parameters() -> None:
    done = ragrun("components")
    assert done.returncode == 0, done.stderr
    block = done.stdout.split("\n\n")
    splitter = next(b for b in block if b.startswith("DocumentSplitter  "))
    assert "    inputs   documents: list[Document]" in splitter
    assert "    outputs  documents: list[Document]" in splitter
    assert "split_by: " in splitter and "split_length: int = " in splitter
    prompt = next(b for b in block if b.startswith("PromptBuilder  "))
    assert "    init     template: str\n" in prompt
    assert "(more declared by the init parameters)" in prompt


def test_components_json_is_machine_readable() -> None:
    done = ragrun("components", "--json")
    assert done.returncode == 0, done.stderr
    entries = {e["name"]: e for e in json.loads(done.stdout)}
    prompt = entries["PromptBuilder"]
    assert prompt["target"] == "ragrun.components.builders.prompt_builder:PromptBuilder"
    assert prompt["outputs"] == [
        {"name": "prompt", "type": "str", "required": True, "variadic": False}
    ]
    template = next(p for p in prompt["init_parameters"] if p["name"] == "template")
    assert template == {"name": "template", "type": "str", "required": True, "variadic": False}
    required = next(p for p in prompt["init_parameters"] if p["name"] == "required_variables")
    assert required["default"] == "*"
    assert prompt["inputs_from_init"] is True


def test_a_component_that_cannot_be_imported_is_listed_with_its_error(tmp_path: Path) -> None:
    # A distribution registering a broken plugin in the same entry-point group.
    info = tmp_path / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[ragrun.components]\nBrokenThing = no_such_module_here:Thing\n"
    )
    path = os.pathsep.join([str(tmp_path), str(ROOT)])
    done = ragrun("components", "--json", PYTHONPATH=path)
    assert done.returncode == 0, done.stderr
    entries = {e["name"]: e for e in json.loads(done.stdout)}
    assert entries["BrokenThing"]["error"] == (
        "ModuleNotFoundError: No module named 'no_such_module_here'"
    )
    assert entries["PromptBuilder"]["error"] is None
    text = ragrun("components", PYTHONPATH=path)
    assert "BrokenThing  (no_such_module_here:Thing)\n    cannot be loaded: " in text.stdout


def test_help_names_the_short_form_and_every_command() -> None:
    done = ragrun("--help")
    assert done.returncode == 0
    assert "FILE [RUN OPTIONS]   (same as: run FILE ...)" in done.stdout
    for command in ("run", "validate", "graph", "schema", "components"):
        assert f"\n  {command} " in done.stdout


def test_version() -> None:
    done = ragrun("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("ragrun, version ")
