"""ragrun's own pipeline sections: public inputs with defaults, and `ray:` settings."""

from __future__ import annotations

import pytest

from ragrun import Pipeline, PipelineValidationError
from ragrun.inputs import required_inputs

YAML = """
inputs:
  text:
    sockets: [upper.text]
    default: hello
    description: what to shout
components:
  upper: {type: tests.runner.sample_components.Upper}
"""


def test_a_default_fills_an_input_the_run_leaves_out() -> None:
    p = Pipeline.loads(YAML)
    assert p.run({}) == {"upper": {"text": "HELLO!", "length": 6}}


def test_a_given_value_wins_over_the_default() -> None:
    p = Pipeline.loads(YAML)
    assert p.run({"text": "bye"}) == {"upper": {"text": "BYE!", "length": 4}}


def test_an_input_with_a_default_is_not_required() -> None:
    assert required_inputs(Pipeline.loads(YAML)) == []


def test_the_default_survives_dumps_and_loads() -> None:
    again = Pipeline.loads(Pipeline.loads(YAML).dumps())
    assert again.input_defaults == {"text": "hello"}
    assert again.run({}) == {"upper": {"text": "HELLO!", "length": 6}}


def test_a_bad_socket_in_the_long_form_is_located() -> None:
    text = YAML.replace("[upper.text]", "[upper.txt]")
    with pytest.raises(PipelineValidationError) as caught:
        Pipeline.loads(text, source="p.yaml")
    assert str(caught.value).startswith("p.yaml:4:15: inputs.text.sockets[0]:")


def test_ray_settings_load_and_dump_back() -> None:
    p = Pipeline.loads(YAML + "ray: {actors: 4, num_gpus: 0.5}\n")
    assert p.ray == {"actors": 4, "num_gpus": 0.5}
    assert Pipeline.loads(p.dumps()).ray == {"actors": 4, "num_gpus": 0.5}


def test_unknown_ray_settings_are_located() -> None:
    with pytest.raises(PipelineValidationError, match=r"p\.yaml:9:7: ray"):
        Pipeline.loads(YAML + "ray: {actros: 4}\n", source="p.yaml")


def test_a_nested_store_may_leave_out_init_parameters() -> None:
    p = Pipeline.loads(
        """
components:
  writer:
    type: DocumentWriter
    init_parameters: {document_store: {type: InMemoryDocumentStore}}
"""
    )
    store = p.get_component("writer").document_store
    assert type(store).__name__ == "InMemoryDocumentStore"


def test_a_bare_type_mapping_that_names_no_component_stays_data() -> None:
    p = Pipeline.loads(
        """
components:
  llm:
    type: OpenAIChatGenerator
    init_parameters:
      api_key: {type: env_var, env_vars: [NOT_SET_ANYWHERE], strict: false}
      generation_kwargs: {response_format: {type: json_object}}
"""
    )
    kwargs = p.get_component("llm").generation_kwargs
    assert kwargs == {"response_format": {"type": "json_object"}}
