"""DocumentJoiner (all join modes) and BranchJoiner (typed per instance from YAML strings)."""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

from ragrun import ChatMessage, Document, Pipeline, PipelineValidationError, component, sockets_of
from ragrun.components.joiners.branch import BranchJoiner
from ragrun.components.joiners.document_joiner import DocumentJoiner, JoinMode
from ragrun.components.type_names import TypeNameError


def doc(name: str, score: float | None = None) -> Document:
    return Document(content=name, score=score)


A, B, C = doc("a", 0.9), doc("b", 0.5), doc("c", 0.1)


def names(result: dict[str, Any]) -> list[str | None]:
    return [d.content for d in result["documents"]]


def scores(result: dict[str, Any]) -> list[float | None]:
    return [round(d.score, 6) if d.score is not None else None for d in result["documents"]]


@pytest.mark.parametrize(
    ("params", "lists", "expected_names", "expected_scores"),
    [
        pytest.param(
            {},
            [[A, B], [doc("b", 0.7), C]],
            ["a", "b", "c"],
            [0.9, 0.7, 0.1],
            id="concatenate-best",
        ),
        pytest.param(
            {"sort_by_score": False},
            [[C, A], [B]],
            ["c", "a", "b"],
            [0.1, 0.9, 0.5],
            id="concatenate-unsorted",
        ),
        pytest.param(
            {"join_mode": "merge"},
            [[doc("a", 1.0), doc("b", 0.4)], [doc("a", 0.5)]],
            ["a", "b"],
            [0.75, 0.2],
            id="merge-equal-weights",
        ),
        pytest.param(
            {"join_mode": "merge", "weights": [3, 1]},
            [[doc("a", 1.0)], [doc("a", 0.2), doc("b", 1.0)]],
            ["a", "b"],
            [0.8, 0.25],
            id="merge-weights-normalised",
        ),
        pytest.param(
            {"join_mode": "reciprocal_rank_fusion"},
            [[A, B], [B, C]],
            ["b", "a", "c"],
            [
                round((61 / 62 + 61 / 61) / 2, 6),
                round((61 / 61) / 2, 6),
                round((61 / 62) / 2, 6),
            ],
            id="rrf",
        ),
        pytest.param(
            {"join_mode": "reciprocal_rank_fusion", "weights": [1, 3]},
            [[A], [C]],
            ["c", "a"],
            [0.75, 0.25],
            id="rrf-weights",
        ),
        pytest.param(
            {"join_mode": "distribution_based_rank_fusion"},
            [[doc("a", 2.0), doc("b", 0.0)], [doc("c", 5.0), doc("d", 5.0)]],
            ["c", "d", "a", "b"],
            [5.0, 5.0, round((2 - (1 - 3)) / 6, 6), round((0 - (1 - 3)) / 6, 6)],
            id="dbsf",
        ),
        pytest.param({"top_k": 2}, [[A, B, C]], ["a", "b"], [0.9, 0.5], id="top-k"),
        pytest.param({}, [[doc("n"), A]], ["a", "n"], [0.9, None], id="no-score-last"),
        pytest.param({}, [], [], [], id="no-lists"),
    ],
)
def test_join_modes(
    params: dict[str, Any],
    lists: list[list[Document]],
    expected_names: list[str],
    expected_scores: list[float | None],
) -> None:
    result = DocumentJoiner(**params).run(documents=lists)
    assert names(result) == expected_names
    assert scores(result) == expected_scores


def test_rrf_document_first_everywhere_scores_one() -> None:
    result = DocumentJoiner(join_mode="reciprocal_rank_fusion").run(documents=[[A, B], [A, C], [A]])
    assert math.isclose(result["documents"][0].score or 0, 1.0)


@pytest.mark.parametrize("mode", [m.value for m in JoinMode])
def test_inputs_are_never_changed(mode: str) -> None:
    lists = [[doc("a", 0.9), doc("b", 0.3)], [doc("b", 0.8), doc("c", 0.2)]]
    before = copy.deepcopy(lists)
    DocumentJoiner(join_mode=mode, top_k=2).run(documents=lists)
    assert lists == before


def test_run_top_k_overrides_init() -> None:
    joiner = DocumentJoiner(top_k=1)
    assert names(joiner.run(documents=[[A, B, C]], top_k=2)) == ["a", "b"]
    assert names(joiner.run(documents=[[A, B, C]], top_k=0)) == []
    with pytest.raises(ValueError, match="must not be negative"):
        joiner.run(documents=[[A]], top_k=-1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"join_mode": "rrf"}, "join_mode must be one of", id="unknown-mode"),
        pytest.param({"join_mode": "merg"}, "Did you mean 'merge'?", id="misspelt-mode"),
        pytest.param({"weights": [1, -1]}, "must not be negative", id="negative-weight"),
        pytest.param({"weights": [0, 0]}, "must not all be zero", id="zero-weights"),
        pytest.param({"top_k": 0}, "greater than 0", id="top-k"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DocumentJoiner(**params)


def test_weights_must_match_the_lists() -> None:
    with pytest.raises(ValueError, match="2 weights but received 3 lists"):
        DocumentJoiner(join_mode="merge", weights=[1, 1]).run(documents=[[A], [B], [C]])


def test_join_mode_enum_accepted() -> None:
    assert DocumentJoiner(join_mode=JoinMode.MERGE).join_mode is JoinMode.MERGE


def test_documents_socket_is_variadic() -> None:
    sockets = sockets_of(DocumentJoiner())
    assert sockets.inputs["documents"].variadic
    assert sockets.inputs["documents"].type == list[Document]
    assert sockets.inputs["top_k"].default is None


def test_same_results_as_haystack() -> None:
    haystack = pytest.importorskip("haystack")
    from haystack.components.joiners import DocumentJoiner as HaystackJoiner

    rng = random.Random(5)
    pool = [f"text {i}" for i in range(8)]
    for _ in range(60):
        raw = [
            [(rng.choice(pool), rng.choice([None, rng.random()])) for _ in range(rng.randint(0, 5))]
            for _ in range(rng.randint(1, 3))
        ]
        mode = rng.choice([m.value for m in JoinMode])
        weights = rng.choice([None, [rng.randint(1, 4) for _ in raw]])
        ours = DocumentJoiner(join_mode=mode, weights=weights).run(
            documents=[[Document(content=c, score=s) for c, s in lst] for lst in raw]
        )
        theirs = HaystackJoiner(join_mode=mode, weights=weights).run(
            documents=[[haystack.Document(content=c, score=s) for c, s in lst] for lst in raw]
        )
        assert [(d.content, _rounded(d.score)) for d in ours["documents"]] == [
            (d.content, _rounded(d.score)) for d in theirs["documents"]
        ], (raw, mode, weights)


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(score, 9)


# -- BranchJoiner ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        pytest.param("str", str, id="str"),
        pytest.param("list[Document]", list[Document], id="documents"),
        pytest.param(
            "list[haystack.dataclasses.chat_message.ChatMessage]", list[ChatMessage], id="haystack"
        ),
        pytest.param(list[Document], list[Document], id="real-type"),
    ],
)
def test_branch_joiner_sockets(type_: Any, expected: Any) -> None:
    sockets = sockets_of(BranchJoiner(type_))
    assert sockets.inputs["value"].variadic and sockets.inputs["value"].type == expected
    assert sockets.outputs["value"].type == expected


def test_branch_joiner_instances_are_typed_separately() -> None:
    text, docs = BranchJoiner("str"), BranchJoiner("list[Document]")
    assert sockets_of(text).outputs["value"].type is str
    assert sockets_of(docs).outputs["value"].type == list[Document]


@pytest.mark.parametrize(
    ("values", "expected", "error"),
    [
        pytest.param(["one"], "one", None, id="one"),
        pytest.param(["a", "b"], None, "received 2", id="two"),
        pytest.param([], None, "received 0", id="none"),
    ],
)
def test_branch_joiner_run(values: list[Any], expected: Any, error: str | None) -> None:
    joiner = BranchJoiner("str")
    if error:
        with pytest.raises(ValueError, match=error):
            joiner.run(value=values)
    else:
        assert joiner.run(value=values) == {"value": expected}


def test_branch_joiner_refuses_unsafe_type_names() -> None:
    with pytest.raises(TypeNameError, match="not an allowed type"):
        BranchJoiner("os.system")


@component
class _Docs:
    @component.output_types(documents=list[Document])
    def run(self) -> dict[str, Any]:
        return {"documents": []}


@component
class _Text:
    @component.output_types(text=str)
    def run(self) -> dict[str, Any]:
        return {"text": ""}


def test_branch_joiner_sockets_connect_in_a_pipeline() -> None:
    pipe = Pipeline()
    pipe.add_component("first", _Docs())
    pipe.add_component("second", _Docs())
    pipe.add_component("join", BranchJoiner("list[Document]"))
    pipe.add_component("fuse", DocumentJoiner())
    pipe.connect("first.documents", "join.value")
    pipe.connect("second.documents", "join.value")  # variadic: many senders
    pipe.connect("join.value", "fuse.documents")
    pipe.add_component("text", _Text())
    with pytest.raises(PipelineValidationError):
        pipe.connect("text.text", "join.value")  # str does not fit list[Document]
