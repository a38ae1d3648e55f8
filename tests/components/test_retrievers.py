"""InMemoryEmbeddingRetriever and InMemoryBM25Retriever: Haystack's sockets over the store."""

from __future__ import annotations

from typing import Any

import pytest
from store_contract import corpus, names

from ragrun import Document, sockets_of
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from ragrun.components.retrievers.in_memory import (
    InMemoryBM25Retriever,
    InMemoryEmbeddingRetriever,
)

ARTICLES = {"field": "meta.kind", "operator": "==", "value": "article"}
RECENT = {"field": "meta.year", "operator": ">=", "value": 2020}


@pytest.fixture
def store() -> InMemoryDocumentStore:
    store = InMemoryDocumentStore()
    store.write_documents(corpus())
    return store


def test_sockets_are_haystacks() -> None:
    dense = sockets_of(InMemoryEmbeddingRetriever(InMemoryDocumentStore()))
    assert list(dense.inputs) == [
        "query_embedding", "filters", "top_k", "scale_score", "return_embedding"
    ]  # fmt: skip
    assert dense.inputs["query_embedding"].is_required
    assert list(dense.outputs) == ["documents"]
    bm25 = sockets_of(InMemoryBM25Retriever(InMemoryDocumentStore()))
    assert list(bm25.inputs) == ["query", "filters", "top_k", "scale_score"]
    assert [name for name, s in bm25.inputs.items() if s.is_required] == ["query"]


def test_embedding_retriever(store: InMemoryDocumentStore) -> None:
    retriever = InMemoryEmbeddingRetriever(store, top_k=2)
    found = retriever.run(query_embedding=[1.0, 0.1, 0.0, 0.0])["documents"]
    assert names(found) == ["a", "c"]
    assert all(isinstance(d.score, float) and d.embedding is None for d in found)
    assert names(retriever.run(query_embedding=[1.0, 0.1, 0.0, 0.0], top_k=4)["documents"]) == [
        "a", "c", "f", "b"
    ]  # fmt: skip


def test_embedding_retriever_overrides(store: InMemoryDocumentStore) -> None:
    retriever = InMemoryEmbeddingRetriever(store, return_embedding=True, scale_score=True)
    (top,) = retriever.run(query_embedding=[0.0, 1.0, 0.0, 0.0], top_k=1)["documents"]
    assert top.embedding == [0.0, 1.0, 0.0, 0.0]
    assert 0.5 < top.score < 1.0  # dot product 1 scaled by expit(1 / 100)
    (raw,) = retriever.run(
        query_embedding=[0.0, 1.0, 0.0, 0.0], top_k=1, scale_score=False, return_embedding=False
    )["documents"]
    assert (raw.score, raw.embedding) == (pytest.approx(1.0), None)


def test_bm25_retriever(store: InMemoryDocumentStore) -> None:
    retriever = InMemoryBM25Retriever(store, top_k=1)
    (top,) = retriever.run(query="cat mat")["documents"]
    assert top.meta["name"] == "a"
    scaled = retriever.run(query="cat mat", scale_score=True)["documents"][0].score
    assert 0.5 < scaled < 1.0
    assert names(retriever.run(query="cat", top_k=5)["documents"]) == ["a", "c"]


@pytest.mark.parametrize(
    ("init", "runtime", "policy", "expected"),
    [
        pytest.param(ARTICLES, None, "replace", {"a", "c"}, id="init-only"),
        pytest.param(ARTICLES, RECENT, "replace", {"b", "c", "d", "f"}, id="runtime-replaces"),
        pytest.param(ARTICLES, RECENT, "merge", {"c"}, id="merge-ands-both"),
        pytest.param(None, RECENT, "merge", {"b", "c", "d", "f"}, id="merge-without-init"),
    ],
)
def test_filter_policy(
    store: InMemoryDocumentStore, init: Any, runtime: Any, policy: str, expected: set[str]
) -> None:
    retriever = InMemoryEmbeddingRetriever(store, filters=init, filter_policy=policy)  # type: ignore[arg-type]
    found = retriever.run(query_embedding=[1.0, 1.0, 1.0, 1.0], filters=runtime)["documents"]
    assert set(names(found)) == expected


def test_filter_policy_accepts_haystacks_enum_names(store: InMemoryDocumentStore) -> None:
    assert InMemoryBM25Retriever(store, filter_policy="MERGE").filter_policy == "merge"  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [InMemoryEmbeddingRetriever, InMemoryBM25Retriever])
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param({"top_k": 0}, ValueError, "top_k must be an integer greater than 0", id="k"),
        pytest.param({"filters": {"kind": "x"}}, ValueError, "invalid filter syntax", id="filter"),
        pytest.param({"filter_policy": "mrege"}, ValueError, "Did you mean 'merge'", id="policy"),
    ],
)
def test_bad_init_parameters(cls: type, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        cls(InMemoryDocumentStore(), **kwargs)


@pytest.mark.parametrize("cls", [InMemoryEmbeddingRetriever, InMemoryBM25Retriever])
def test_document_store_must_be_in_memory(cls: type) -> None:
    with pytest.raises(TypeError, match="must be an InMemoryDocumentStore, not dict"):
        cls({"type": "InMemoryDocumentStore"})


def test_returned_documents_are_copies(store: InMemoryDocumentStore) -> None:
    found = InMemoryBM25Retriever(store).run(query="cat")["documents"]
    found[0].meta["name"] = "changed"
    assert {d.meta["name"] for d in store.filter_documents()} == {"a", "b", "c", "d", "e", "f", "g"}
    assert all(d.score is None for d in store.filter_documents())


def test_documents_written_later_are_found() -> None:
    store = InMemoryDocumentStore()
    retriever = InMemoryBM25Retriever(store)
    assert retriever.run(query="late")["documents"] == []
    store.write_documents([Document(content="a late arrival")])
    assert [d.content for d in retriever.run(query="late")["documents"]] == ["a late arrival"]
