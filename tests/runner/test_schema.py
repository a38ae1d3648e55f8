"""The JSON Schemas: committed files equal the generated ones, and the pipeline schema accepts
valid pipelines and rejects the mistakes an editor should flag (per built-in init parameters)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ragrun.registry import UnknownTypeError, builtin_names, load_builtin
from ragrun.schema import docstring_args, pipeline_schema, schema_text, write_schemas
from ragrun.source import parse

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["pipeline", "events"])
def test_committed_schema_equals_the_generated_one(kind: str) -> None:
    committed = (ROOT / "schemas" / f"{kind}.schema.json").read_text()
    assert committed == schema_text(kind), (
        f"schemas/{kind}.schema.json is stale: regenerate it with "
        "`python -c \"from ragrun.schema import write_schemas; write_schemas('schemas')\"`"
    )


def test_write_schemas_writes_both_files(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert sorted(p.name for p in written) == ["events.schema.json", "pipeline.schema.json"]
    assert json.loads((tmp_path / "pipeline.schema.json").read_text()) == pipeline_schema()


def test_unknown_schema_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown schema 'pipelines'; expected one of pipeline"):
        schema_text("pipelines")


def test_every_importable_builtin_has_an_init_parameters_branch() -> None:
    defs = pipeline_schema()["$defs"]
    branches = [
        b["if"]["properties"]["type"]["const"] for b in defs["InitParametersByType"]["allOf"]
    ]
    importable = []
    for name in builtin_names():
        try:
            load_builtin(name)
        except UnknownTypeError:
            continue
        importable.append(name)
    assert branches == importable
    assert defs["ComponentType"]["anyOf"][0]["enum"] == builtin_names()


def _errors(yaml_text: str) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(pipeline_schema())
    data: Any = parse(yaml_text).data
    return sorted(error.message for error in validator.iter_errors(data))


VALID = """\
metadata: {name: rag}
inputs: {question: [prompt.question]}
outputs: {reply: llm.replies}
components:
  prompt:
    type: PromptBuilder
    init_parameters: {template: "Answer {{ question }}", required_variables: "*"}
  splitter:
    type: DocumentSplitter
    init_parameters: {split_by: sentence, split_length: 3}
  llm:
    type: OpenAIChatGenerator
    init_parameters:
      model: gpt-4o-mini
      api_key: {type: env_var, env_vars: [OPENAI_API_KEY], strict: true}
    retry: {attempts: 4, initial_delay: 0.5}
    timeout: 30
  mine:
    type: tests.runner.sample_components.Upper
    init_parameters: {anything: goes}
connections:
  - {sender: prompt.prompt, receiver: llm.messages}
"""


def test_schema_accepts_a_valid_pipeline() -> None:
    assert _errors(VALID) == []


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        pytest.param(
            "split_length: 3",
            "split_lenght: 3",
            "'split_lenght' was unexpected",
            id="unknown-init-parameter",
        ),
        pytest.param(
            "split_length: 3",
            "split_length: three",
            "'three' is not of type 'integer'",
            id="ill-typed",
        ),
        pytest.param("split_by: sentence", "split_by: wrod", "'wrod' is not one of", id="literal"),
        pytest.param(
            "env_vars: [OPENAI_API_KEY]",
            "env: [OPENAI_API_KEY]",
            "'env_vars' is a required property",
            id="bad-secret",
        ),
        pytest.param(
            "timeout: 30",
            "timeout: -1",
            "-1 is not valid under any of the given schemas",
            id="policy",
        ),
        pytest.param(
            "    timeout: 30",
            "    timeout: 30\n    retyr: {}",
            "'retyr' was unexpected",
            id="unknown-key",
        ),
        pytest.param(
            "type: PromptBuilder",
            "type: Prompt Builder",
            "'Prompt Builder' is not valid",
            id="bad-type",
        ),
    ],
)
def test_schema_rejects_mistakes(old: str, new: str, fragment: str) -> None:
    assert old in VALID
    errors = _errors(VALID.replace(old, new))
    assert any(fragment in e for e in errors), errors


def test_docstring_args_reads_google_style_sections() -> None:
    class Sample:
        """A sample.

        Args:
            first: the first one,
                on two lines.
            second (int): the second.

        Returns:
            nothing: not an argument.
        """

    assert docstring_args(Sample) == {
        "first": "the first one, on two lines.",
        "second": "the second.",
    }
