"""Loading valid pipelines: components, policies, secrets, shared stores, `${VAR}`, `--set`,
Haystack's YAML, public inputs/outputs; and that loading loads no heavy library.

Invalid pipelines and their exact messages live in the corpus `tests/invalid/`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragrun import Pipeline, PipelineValidationError, Secret
from ragrun.connections import Connection
from ragrun.loader import load_file, load_text
from ragrun.source import parse
from tests.runner import sample_components as sc

ROOT = Path(__file__).resolve().parents[2]
S = "tests.runner.sample_components"

PIPELINE = f"""\
metadata: {{name: notes, description: write and search notes}}
inputs:
  text: upper.text
  query: search.query
outputs:
  prompt: template.prompt
  documents: search.documents
components:
  upper:
    type: {S}.Upper
    init_parameters: {{suffix: "?", times: "${{RAGRUN_TEST_TIMES:-2}}"}}
    retry: {{attempts: 4, initial_delay: 0.1}}
    timeout: 30
    concurrency: 8
  template:
    type: {S}.Template
    init_parameters: {{template: "note: {{text}}", mode: shout}}
  writer:
    type: {S}.Writer
    init_parameters:
      store: {{type: {S}.NoteStore, init_parameters: {{path: notes.store}}}}
  search:
    type: {S}.Search
    init_parameters:
      store: {{type: {S}.NoteStore, init_parameters: {{path: notes.store}}}}
      top_k: 3
connections:
  - {{sender: upper.text, receiver: template.text}}
  - {{sender: template, receiver: writer}}
max_runs_per_component: 5
max_concurrency: 4
"""


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.delenv("RAGRUN_TEST_TIMES", raising=False)
    return load_text(PIPELINE, source="notes.yaml")


def test_components_are_built_with_their_init_parameters(pipeline: Pipeline) -> None:
    upper = pipeline.get_component("upper")
    assert isinstance(upper, sc.Upper)
    assert (upper.suffix, upper.times) == ("?", 2)  # "${...:-2}" is a string; int converts it
    template = pipeline.get_component("template")
    assert (template.template, template.mode) == ("note: {text}", "shout")
    assert pipeline.get_component("search").top_k == 3


def test_pipeline_settings_and_public_names(pipeline: Pipeline) -> None:
    assert pipeline.metadata == {"name": "notes", "description": "write and search notes"}
    assert pipeline.max_runs_per_component == 5
    assert pipeline.max_concurrency == 4
    assert pipeline.inputs == {"text": ["upper.text"], "query": ["search.query"]}
    assert pipeline.outputs == {"prompt": "template.prompt", "documents": "search.documents"}


def test_connections_short_forms_are_resolved(pipeline: Pipeline) -> None:
    assert pipeline.connections == [
        Connection("upper", "text", "template", "text"),
        Connection("template", "prompt", "writer", "text"),
    ]


def test_policies_hold_only_what_the_yaml_set(pipeline: Pipeline) -> None:
    policy = pipeline.nodes["upper"].policy
    assert policy.retry is not None
    assert (policy.retry.attempts, policy.retry.initial_delay) == (4, 0.1)
    assert (policy.timeout, policy.concurrency) == (30, 8)
    assert policy.model_fields_set == {"retry", "timeout", "concurrency"}
    assert pipeline.nodes["template"].policy.is_default()


def test_identical_nested_declarations_share_one_instance(pipeline: Pipeline) -> None:
    writer, search = pipeline.get_component("writer"), pipeline.get_component("search")
    assert isinstance(writer.store, sc.NoteStore)
    assert writer.store is search.store


def test_nested_declarations_with_other_parameters_are_separate() -> None:
    text = PIPELINE.replace("notes.store}}\n      top_k", "other.store}}\n      top_k")
    p = load_text(text)
    assert p.get_component("writer").store is not p.get_component("search").store
    assert p.get_component("search").store.path == "other.store"


def test_top_level_components_are_never_shared() -> None:
    p = load_text(f"components:\n  a: {{type: {S}.Upper}}\n  b: {{type: {S}.Upper}}\n")
    assert p.get_component("a") is not p.get_component("b")


def test_a_loaded_pipeline_runs(pipeline: Pipeline) -> None:
    result = pipeline.run({"text": "hi", "query": "anything"})
    assert result["prompt"] == "NOTE: HI?HI?"


def test_secret_dicts_become_secrets_that_are_not_read_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAGRUN_TEST_UNSET_KEY", raising=False)
    p = load_text(
        f"components:\n  keyed:\n    type: {S}.Keyed\n    init_parameters:\n"
        "      api_key: {type: env_var, env_vars: [RAGRUN_TEST_UNSET_KEY, OTHER], strict: false}\n"
    )
    key = p.get_component("keyed").api_key
    assert key == Secret.from_env_var(["RAGRUN_TEST_UNSET_KEY", "OTHER"], strict=False)


def test_environment_values_fill_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGRUN_TEST_TIMES", "5")
    assert load_text(PIPELINE).get_component("upper").times == 5


def test_overrides_set_init_parameters_even_nested(pipeline: Pipeline) -> None:
    p = load_text(
        PIPELINE,
        overrides={"upper.suffix": "!!", "search.store.init_parameters.path": "x.store"},
    )
    assert p.get_component("upper").suffix == "!!"
    assert p.get_component("search").store.path == "x.store"
    assert p.get_component("writer").store.path == "notes.store"


def test_override_mistakes_are_reported_without_a_file_position() -> None:
    with pytest.raises(PipelineValidationError) as caught:
        load_text(PIPELINE, source="notes.yaml", overrides={"uper.suffix": "!", "upper.times": "x"})
    assert str(caught.value).splitlines() == [
        "--set uper.suffix: no component named 'uper'; components are search, template, upper, "
        "writer. Did you mean 'upper'?",
        "components.upper.init_parameters.times: expected int, found 'x' (str)",
    ]


HAYSTACK_YAML = """\
components:
  llm:
    init_parameters:
      api_base_url: null
      api_key:
        env_vars:
        - OPENAI_API_KEY
        strict: true
        type: env_var
      generation_kwargs: {}
      model: gpt-4o-mini
      organization: null
      streaming_callback: null
      timeout: null
      max_retries: null
      tools: null
      tools_strict: false
    type: haystack.components.generators.chat.openai.OpenAIChatGenerator
  prompt_builder:
    init_parameters:
      required_variables: '*'
      template:
      - content:
        - text: 'Answer {{question}}'
        meta: {}
        name: null
        role: user
      variables: null
    type: haystack.components.builders.chat_prompt_builder.ChatPromptBuilder
connection_type_validation: true
connections:
- receiver: llm.messages
  sender: prompt_builder.prompt
max_runs_per_component: 100
metadata: {}
"""


def test_yaml_written_by_haystack_loads_with_the_builtins() -> None:
    p = load_text(HAYSTACK_YAML)
    assert {n: node.class_name for n, node in p.nodes.items()} == {
        "llm": "OpenAIChatGenerator",
        "prompt_builder": "ChatPromptBuilder",
    }
    assert type(p.get_component("llm")).__module__ == "ragrun.components.generators.openai"
    assert p.connections == [Connection("prompt_builder", "prompt", "llm", "messages")]


def test_pipeline_load_and_loads_delegate_to_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"components:\n  upper: {{type: {S}.Upper}}\n")
    assert list(Pipeline.load(path).nodes) == ["upper"]
    assert list(load_file(str(path)).nodes) == ["upper"]
    assert list(Pipeline.loads(path.read_text()).nodes) == ["upper"]


def test_a_missing_file_is_a_validation_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(PipelineValidationError) as caught:
        load_file(path)
    assert str(caught.value) == f"{path}: cannot read the pipeline file: No such file or directory"


def test_source_locates_keys_items_and_falls_back_to_ancestors() -> None:
    source = parse("a:\n  b: [x, {c: 1}]\n", "f.yaml")
    assert str(source.locate(("a", "b"))) == "f.yaml:2:3"
    assert str(source.locate(("a", "b", 1))) == "f.yaml:2:10"
    assert str(source.locate(("a", "b", 1, "c"))) == "f.yaml:2:11"
    assert str(source.locate(("a", "b", 1, "missing"))) == "f.yaml:2:10"
    assert str(source.locate(())) == "f.yaml:1:1"
    assert source.data == {"a": {"b": ["x", {"c": 1}]}}


def test_loading_imports_no_heavy_library() -> None:
    yaml = textwrap.dedent(
        """\
        components:
          embedder: {type: OpenAITextEmbedder}
          prompt: {type: PromptBuilder, init_parameters: {template: "Q {{ q }}"}}
          llm:
            type: OpenAIChatGenerator
            init_parameters: {model: gpt-4o-mini}
          splitter: {type: DocumentSplitter}
          upper: {type: tests.runner.sample_components.Upper}
        connections:
          - {sender: prompt.prompt, receiver: upper.text}
        """
    )
    code = (
        "import sys\n"
        "from ragrun import Pipeline\n"
        f"Pipeline.loads({yaml!r})\n"
        "heavy = ('torch', 'sentence_transformers', 'openai', 'ray', 'transformers')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


def test_haystack_components_without_a_builtin_are_built_by_their_from_dict() -> None:
    pytest.importorskip("haystack")
    p = load_text(
        "components:\n"
        "  adapter:\n"
        "    type: haystack.components.converters.output_adapter.OutputAdapter\n"
        "    init_parameters: {template: '{{ x }}!', output_type: str}\n"
        "  joiner:\n"
        "    type: haystack.components.joiners.string_joiner.StringJoiner\n"
        "connections:\n"
        "  - {sender: adapter.output, receiver: joiner.strings}\n"
    )
    assert p.run({"adapter": {"x": "hi"}}) == {"joiner": {"strings": ["hi!"]}}
