"""`dumps`: minimal YAML (defaults left out), short names for built-ins, secrets by name only,
shared stores, and `loads(dumps(p))` building a pipeline that runs the same."""

from __future__ import annotations

import pytest

from ragrun import ComponentPolicy, Document, Pipeline, Secret
from ragrun.dump import DumpError, dumps
from ragrun.loader import load_text
from ragrun.policy import RetryPolicy
from ragrun.registry import resolve
from tests.runner.sample_components import Keyed, NoteStore, Search, Template, Upper, Writer

S = "tests.runner.sample_components"


def build() -> Pipeline:
    p = Pipeline(
        metadata={"name": "notes"},
        max_runs_per_component=7,
        inputs={"text": ["upper.text"], "query": ["search.query"], "note": ["keyed.text"]},
        outputs={"prompt": "template.prompt"},
    )
    store = NoteStore(path="notes.store")
    policy = ComponentPolicy(retry=RetryPolicy(attempts=3), timeout=5)
    p.add_component("upper", Upper(suffix="?", times=1), policy=policy)
    p.add_component("template", Template("note: {text}\nend"))
    p.add_component("writer", Writer(store))
    p.add_component("search", Search(store, top_k=5))
    p.add_component("keyed", Keyed(api_key=Secret.from_env_var("MY_KEY"), model="m"))
    p.connect("upper", "template.text")
    p.connect("template.prompt", "writer.text")
    return p


EXPECTED = f"""\
metadata:
  name: notes
inputs:
  text: upper.text
  query: search.query
  note: keyed.text
outputs:
  prompt: template.prompt
components:
  upper:
    type: {S}.Upper
    init_parameters:
      suffix: '?'
    retry:
      attempts: 3
    timeout: 5.0
  template:
    type: {S}.Template
    init_parameters:
      template: |-
        note: {{text}}
        end
  writer:
    type: {S}.Writer
    init_parameters:
      store:
        type: {S}.NoteStore
        init_parameters:
          path: notes.store
  search:
    type: {S}.Search
    init_parameters:
      store:
        type: {S}.NoteStore
        init_parameters:
          path: notes.store
  keyed:
    type: {S}.Keyed
    init_parameters:
      api_key:
        type: env_var
        env_vars:
          - MY_KEY
        strict: true
connections:
  - sender: upper.text
    receiver: template.text
  - sender: template.prompt
    receiver: writer.text
max_runs_per_component: 7
"""


def test_dumps_writes_minimal_yaml() -> None:
    assert dumps(build()) == EXPECTED


def test_loads_of_dumps_builds_the_same_pipeline() -> None:
    original = build()
    again = load_text(dumps(original))
    assert dumps(again) == dumps(original)
    assert again.connections == original.connections
    assert {n: node.policy for n, node in again.nodes.items()} == {
        n: node.policy for n, node in original.nodes.items()
    }
    assert again.get_component("writer").store is again.get_component("search").store


def test_loads_of_dumps_runs_the_same() -> None:
    data = {"text": "hi", "query": "q", "note": "x"}
    assert load_text(dumps(build())).run(data) == build().run(data)


def test_an_empty_pipeline_dumps_to_its_two_sections() -> None:
    assert dumps(Pipeline()) == "components: {}\nconnections: []\n"


def test_builtins_are_written_by_short_name_and_types_by_name() -> None:
    p = Pipeline()
    p.add_component("join", resolve("BranchJoiner")(type_=list[Document]))
    p.add_component("prompt", resolve("PromptBuilder")(template="Q {{ q }}"))
    text = dumps(p)
    assert "type: BranchJoiner" in text
    assert "type_: list[Document]" in text
    assert "type: PromptBuilder" in text
    assert dumps(load_text(text)) == text


def test_dollar_braces_are_escaped_so_they_load_back_unchanged() -> None:
    p = Pipeline()
    p.add_component("template", Template("price: ${price} {text}"))
    text = dumps(p)
    assert "price: $${price}" in text
    assert load_text(text).get_component("template").template == "price: ${price} {text}"


def test_a_token_secret_cannot_be_written() -> None:
    p = Pipeline()
    p.add_component("keyed", Keyed(api_key=Secret.from_token("sk-very-secret")))
    with pytest.raises(DumpError) as caught:
        dumps(p)
    assert "components.keyed.init_parameters.api_key" in str(caught.value)
    assert "sk-very-secret" not in str(caught.value)
