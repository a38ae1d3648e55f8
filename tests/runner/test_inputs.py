"""Routing a run's data to sockets, coercing JSON values, and naming what is missing."""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import ChatMessage, Document, Pipeline, PipelineInputError, Variadic, component
from ragrun.inputs import RequiredInput, coerce, required_inputs, route_inputs


@component
class Embedder:
    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": [float(len(text))]}


@component
class Retriever:
    @component.output_types(documents=list[Document])
    def run(
        self, query_embedding: list[float], top_k: int = 3, filters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {"documents": []}


@component
class Prompt:
    @component.output_types(prompt=str)
    def run(self, question: str, documents: list[Document]) -> dict[str, Any]:
        return {"prompt": question}


@component
class Chat:
    @component.output_types(replies=list[str])
    def run(self, messages: list[ChatMessage], text: str = "") -> dict[str, Any]:
        return {"replies": []}


@component
class Joiner:
    @component.output_types(documents=list[Document])
    def run(self, documents: Variadic[list[Document]]) -> dict[str, Any]:
        return {"documents": [d for ds in documents for d in ds]}


def rag(*, public: bool = False) -> Pipeline:
    inputs = {"question": ["embedder.text", "prompt.question"]} if public else None
    p = Pipeline(inputs=inputs)
    p.add_component("embedder", Embedder())
    p.add_component("retriever", Retriever())
    p.add_component("prompt", Prompt())
    p.connect("embedder.embedding", "retriever.query_embedding")
    p.connect("retriever.documents", "prompt.documents")
    return p


def test_flat_names_go_to_every_free_socket_of_that_name() -> None:
    p = rag()
    p.add_component("chat", Chat())
    routed = route_inputs(p, {"text": "q", "question": "q?", "top_k": 5, "messages": []})
    assert routed == {
        "embedder": {"text": "q"},
        "chat": {"text": "q", "messages": []},
        "prompt": {"question": "q?"},
        "retriever": {"top_k": 5},
    }


def test_public_inputs_fan_out_to_their_sockets() -> None:
    routed = route_inputs(rag(public=True), {"question": "why?"})
    assert routed == {"embedder": {"text": "why?"}, "prompt": {"question": "why?"}}


def test_nested_data_reaches_any_free_socket_and_mixes_with_flat_names() -> None:
    data = {"question": "why?", "text": "t", "retriever": {"top_k": 2, "filters": {"a": 1}}}
    routed = route_inputs(rag(), data)
    assert routed["retriever"] == {"top_k": 2, "filters": {"a": 1}}


def test_declared_inputs_are_the_only_way_in() -> None:
    """With `inputs:` declared, nested data reaches only the sockets declared inputs feed."""
    with pytest.raises(PipelineInputError) as info:
        route_inputs(rag(public=True), {"question": "why?", "retriever": {"top_k": 2}})
    assert str(info.value) == (
        "input 'retriever.top_k': the pipeline declares its inputs, and a run can give only "
        "those (or the sockets they feed: embedder.text, prompt.question); no declared input "
        "feeds 'retriever.top_k'. To let runs set it, add it under inputs: in the YAML"
    )
    routed = route_inputs(
        rag(public=True), {"embedder": {"text": "a"}, "prompt": {"question": "b"}}
    )
    assert routed == {"embedder": {"text": "a"}, "prompt": {"question": "b"}}


def test_run_data_cannot_replace_a_declared_pipelines_template() -> None:
    p = Pipeline.loads(
        "inputs: {question: [prompt.question]}\n"
        "components:\n"
        "  prompt: {type: PromptBuilder, init_parameters: {template: 'Q: {{ question }}'}}\n"
    )
    with pytest.raises(PipelineInputError, match=r"no declared input feeds 'prompt\.template'"):
        p.run({"question": "q", "prompt": {"template": "{{ 7 ** 123456789 }}"}})
    assert p.run({"question": "q"}) == {"prompt": {"prompt": "Q: q"}}


def test_a_required_socket_no_declared_input_feeds_says_how_to_fix_the_yaml() -> None:
    p = Pipeline(inputs={"question": ["prompt.question"]})
    p.add_component("prompt", Prompt())
    with pytest.raises(PipelineInputError) as info:
        route_inputs(p, {"question": "q"})
    assert str(info.value) == (
        "missing input 'prompt.documents' (list[Document], feeds prompt.documents): no "
        "declared input feeds it, so no run can give it; add it under inputs: in the YAML, "
        "or connect a sender to it"
    )


def test_json_values_are_coerced_to_the_socket_types() -> None:
    p = Pipeline()
    p.add_component("chat", Chat())
    p.add_component("retriever", Retriever())
    routed = route_inputs(
        p,
        {
            "messages": [{"role": "user", "content": "hi"}],
            "top_k": "7",
            "query_embedding": [1, 2],
        },
    )
    assert routed["chat"]["messages"] == [ChatMessage.from_user("hi")]
    assert routed["retriever"] == {"top_k": 7, "query_embedding": [1.0, 2.0]}


def test_values_of_the_right_type_are_passed_as_they_are() -> None:
    documents = [Document(content="a"), Document(content="b")]
    p = Pipeline()
    p.add_component("prompt", Prompt())
    routed = route_inputs(p, {"documents": documents, "question": "q"})
    assert routed["prompt"]["documents"] is documents


def test_a_variadic_value_is_one_item_of_the_list() -> None:
    p = Pipeline()
    p.add_component("joiner", Joiner())
    routed = route_inputs(p, {"documents": [{"content": "a"}]})
    item = routed["joiner"]["documents"]
    assert [d.content for d in item] == ["a"]


@pytest.mark.parametrize(
    ("pipeline", "data", "message"),
    [
        pytest.param(
            rag(public=True),
            {"questoin": "q"},
            "unknown input 'questoin': the pipeline's inputs are question. "
            "Did you mean 'question'?",
            id="unknown-public",
        ),
        pytest.param(
            rag(),
            {"question": "q", "txt": "t"},
            "unknown input 'txt': no input socket of that name is free (inputs nothing feeds: "
            "text, top_k, filters, question); pass {component: {socket: value}} to reach any "
            "socket. Did you mean 'text'?",
            id="unknown-flat",
        ),
        pytest.param(
            rag(public=True),
            {"question": "q", "retriever": {"topk": 1}},
            "'retriever.topk' is not an input of 'retriever' (Retriever); its inputs are "
            "query_embedding, top_k, filters. Did you mean 'top_k'?",
            id="unknown-socket",
        ),
        pytest.param(
            rag(),
            {"question": "q", "text": "t", "retriever": {"query_embedding": [1.0]}},
            "input 'retriever.query_embedding': it is fed by embedder.embedding; "
            "a run cannot give it a value too",
            id="socket-fed-by-a-connection",
        ),
        pytest.param(
            rag(public=True),
            {"embedder": {"text": "again"}, "question": "q"},
            "input 'question' (for 'embedder.text'): it is given a value twice",
            id="given-twice",
        ),
        pytest.param(
            rag(),
            {"question": "q", "text": "t", "retriever": {"top_k": "many"}},
            "input 'retriever.top_k': expected int, found str 'many' "
            "(Input should be a valid integer, unable to parse string as an integer)",
            id="wrong-type",
        ),
        pytest.param(
            rag(public=True),
            {},
            "missing input 'question' (str, feeds embedder.text, prompt.question): "
            "pass it with -i question=VALUE",
            id="missing-public",
        ),
        pytest.param(
            rag(),
            {"text": "t"},
            "missing input 'question' (str, feeds prompt.question): pass it with -i question=VALUE",
            id="missing-flat",
        ),
    ],
)
def test_mistakes_are_named(pipeline: Pipeline, data: dict[str, Any], message: str) -> None:
    with pytest.raises(PipelineInputError) as info:
        route_inputs(pipeline, data)
    assert str(info.value) == message
    assert info.value.exit_code == 2


def test_an_absurdly_long_unknown_name_is_cut_in_the_message() -> None:
    with pytest.raises(PipelineInputError) as info:
        route_inputs(rag(public=True), {"x" * 1_000_000: 1})
    assert len(str(info.value)) < 500 and "(1000000 characters)" in str(info.value)


def test_every_mistake_is_reported_at_once() -> None:
    with pytest.raises(PipelineInputError) as info:
        route_inputs(rag(public=True), {"q": 1, "retriever": {"top_k": "x", "k": 1}})
    assert len(str(info.value).splitlines()) == 3


def test_required_inputs_name_what_to_pass() -> None:
    assert required_inputs(rag(public=True)) == [
        RequiredInput("question", str, ("embedder.text", "prompt.question"))
    ]
    assert required_inputs(rag()) == [
        RequiredInput("text", str, ("embedder.text",)),
        RequiredInput("question", str, ("prompt.question",)),
    ]
    assert required_inputs(rag())[0].describe() == "text (str, feeds embedder.text)"


def test_a_required_socket_outside_the_public_inputs_is_named_by_its_address() -> None:
    p = rag(public=True)
    p.add_component("chat", Chat())
    messages = RequiredInput("chat.messages", list[ChatMessage], ("chat.messages",))
    assert required_inputs(p)[-1] == messages


def test_a_flat_wrong_type_names_the_input_and_the_socket() -> None:
    with pytest.raises(PipelineInputError, match=r"^input 'question' \(for 'embedder.text'\): "):
        route_inputs(rag(public=True), {"question": ["not", "text"]})


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        pytest.param([Document(content="x")], list[Document], id="list-of-documents"),
        pytest.param({"k": [1, 2]}, dict[str, list[int]], id="nested-dict"),
        pytest.param(None, str | None, id="optional-none"),
        pytest.param(object(), int, id="foreign-object-untouched"),
        pytest.param((1, "a"), tuple[int, str], id="tuple"),
    ],
)
def test_coerce_keeps_the_very_object_when_it_fits(value: Any, annotation: Any) -> None:
    assert coerce(value, annotation) is value
