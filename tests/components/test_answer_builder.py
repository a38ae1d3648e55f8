"""AnswerBuilder and GeneratedAnswer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ragrun import ChatMessage, Document, sockets_of
from ragrun.components.builders.answer_builder import AnswerBuilder, GeneratedAnswer

DOCS = [Document(content=f"doc {i}", meta={"n": i}) for i in range(1, 5)]


@pytest.mark.parametrize(
    ("init", "run", "expected"),
    [
        pytest.param({}, {}, "Thinking. Answer: Paris [2]", id="whole-reply"),
        pytest.param({"pattern": r"Answer: (\w+)"}, {}, "Paris", id="group"),
        pytest.param({"pattern": r"Answer: \w+"}, {}, "Answer: Paris", id="whole-match"),
        pytest.param({"pattern": r"Nope: (.*)"}, {}, "", id="no-match"),
        pytest.param({"pattern": r"Nope"}, {"pattern": r"(\w+)\."}, "Thinking", id="run-override"),
    ],
)
def test_answer_text(init: dict[str, Any], run: dict[str, Any], expected: str) -> None:
    out = AnswerBuilder(**init).run(query="q", replies=["Thinking. Answer: Paris [2]"], **run)
    assert [a.data for a in out["answers"]] == [expected]


@pytest.mark.parametrize(
    ("reply", "init", "cited", "returned"),
    [
        pytest.param(
            "see [2] and [4]", {"reference_pattern": r"\[(\d+)\]"}, {2, 4}, [2, 4], id="refs"
        ),
        pytest.param("no refs", {"reference_pattern": r"\[(\d+)\]"}, set(), [], id="none-cited"),
        pytest.param(
            "see [2]",
            {"reference_pattern": r"\[(\d+)\]", "return_only_referenced_documents": False},
            {2},
            [1, 2, 3, 4],
            id="all-returned",
        ),
        pytest.param(
            "see [1-3] and [4]",
            {"reference_pattern": r"\[(\d+)\]", "expand_reference_ranges": True},
            {1, 2, 3, 4},
            [1, 2, 3, 4],
            id="ranges",
        ),
        pytest.param(
            "see [2,4]",
            {"reference_pattern": r"\[(\d+)\]", "expand_reference_ranges": True},
            {2, 4},
            [2, 4],
            id="lists",
        ),
        pytest.param("see [9]", {"reference_pattern": r"\[(\d+)\]"}, set(), [], id="out-of-range"),
        pytest.param("see [2]", {}, None, [1, 2, 3, 4], id="no-pattern-all"),
    ],
)
def test_document_references(
    reply: str, init: dict[str, Any], cited: set[int] | None, returned: list[int]
) -> None:
    answer = AnswerBuilder(**init).run(query="q", replies=[reply], documents=DOCS)["answers"][0]
    assert [d.meta["source_index"] for d in answer.documents] == returned
    assert [d.meta["n"] for d in answer.documents] == returned
    if cited is None:
        assert all("referenced" not in d.meta for d in answer.documents)
    else:
        assert {d.meta["source_index"] for d in answer.documents if d.meta["referenced"]} == cited


def test_input_documents_are_not_changed() -> None:
    docs = [Document(content="x", meta={"a": 1})]
    answer = AnswerBuilder(reference_pattern=r"\[(\d+)\]").run(
        query="q", replies=["[1]"], documents=docs
    )
    assert docs[0].meta == {"a": 1}
    assert answer["answers"][0].documents[0].id == docs[0].id


def test_chat_replies_meta_merge_and_all_messages() -> None:
    replies = [
        ChatMessage.from_assistant("first", meta={"model": "m", "x": 1}),
        ChatMessage.from_assistant("second"),
    ]
    answers = AnswerBuilder().run(query="q", replies=replies, meta=[{"x": 2}, {}])["answers"]
    assert [a.data for a in answers] == ["first", "second"]
    assert answers[0].meta["model"] == "m" and answers[0].meta["x"] == 2
    assert answers[0].meta["all_messages"] == replies
    assert answers[0].query == "q"


def test_last_message_only() -> None:
    answers = AnswerBuilder(last_message_only=True).run(query="q", replies=["a", "b"])["answers"]
    assert [a.data for a in answers] == ["b"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: AnswerBuilder(pattern=r"(a)(b)"), "capture groups", id="init-groups"),
        pytest.param(
            lambda: AnswerBuilder().run(query="q", replies=["a"], pattern=r"(a)(b)"),
            "capture groups",
            id="run-groups",
        ),
        pytest.param(
            lambda: AnswerBuilder().run(query="q", replies=["a", "b"], meta=[{}]),
            "2 replies but 1 meta",
            id="meta-count",
        ),
    ],
)
def test_errors(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_generated_answer_json_round_trip() -> None:
    answer = AnswerBuilder().run(
        query="q",
        replies=[ChatMessage.from_assistant("yes")],
        documents=[Document(content="d", score=0.5)],
    )["answers"][0]
    data = orjson.loads(orjson.dumps(answer.to_dict()))
    assert data["data"] == "yes" and data["query"] == "q"
    assert data["meta"]["all_messages"] == [{"role": "assistant", "text": "yes"}]
    assert data["documents"][0]["content"] == "d" and data["documents"][0]["score"] == 0.5
    again = GeneratedAnswer.from_dict(data)
    assert again.documents[0].id == answer.documents[0].id
    assert again.data == "yes"


def test_sockets_match_haystack() -> None:
    sockets = sockets_of(AnswerBuilder())
    assert list(sockets.inputs) == [
        "query",
        "replies",
        "meta",
        "documents",
        "pattern",
        "reference_pattern",
        "expand_reference_ranges",
    ]
    assert [n for n, s in sockets.inputs.items() if s.is_required] == ["query", "replies"]
    assert sockets.outputs["answers"].type == list[GeneratedAnswer]
