"""The behaviour every ragrun document store promises, as tests any store can reuse.

A store's test module subclasses `StoreContract`, overrides the `store` fixture (an empty store
whose embeddings have `dimension` numbers) and `reopen` (a new store object over the same data,
as another process would see it), and, when its keyword search is not `bm25_retrieval`,
`keyword_search`. Results are compared as sets of names where a store may order differently.
"""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import Document
from ragrun.components.document_stores.errors import DuplicateDocumentError
from ragrun.components.document_stores.types import DuplicatePolicy


def _doc(name: str, content: str | None, meta: dict[str, Any], embedding: Any) -> Document:
    return Document(content=content, meta={"name": name, **meta}, embedding=embedding)


def corpus() -> list[Document]:
    """Seven documents: varied meta (missing keys, None), one without content, one unembedded."""
    return [
        _doc("a", "The cat sat on the mat", {"year": 2019, "rating": 4.5, "kind": "article",
             "date": "2019-05-01T00:00:00"}, [1.0, 0.0, 0.0, 0.0]),
        _doc("b", "Dogs are loyal animals", {"year": 2020, "rating": 3.0, "kind": "blog",
             "date": "2020-01-15T10:00:00"}, [0.0, 1.0, 0.0, 0.0]),
        _doc("c", "A cat and a dog played in the garden", {"year": 2021, "rating": None,
             "kind": "article", "date": "2021-07-30T00:00:00"}, [0.7, 0.7, 0.0, 0.0]),
        _doc("d", "Stock markets fell sharply", {"year": 2021, "kind": "news"},
             [0.0, 0.0, 1.0, 0.0]),
        _doc("e", "Quantum computing explained", {"rating": 5.0, "kind": "blog"},
             [0.0, 0.0, 0.0, 1.0]),
        _doc("f", None, {"year": 2022}, [0.5, 0.5, 0.5, 0.5]),
        _doc("g", "No embedding here, only words about markets", {"year": 2018, "kind": "news"},
             None),
    ]  # fmt: skip


ALL = {"a", "b", "c", "d", "e", "f", "g"}


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": "==", "value": value}


FILTER_CASES = [
    pytest.param(_eq("meta.year", 2021), {"c", "d"}, id="eq-int"),
    pytest.param(_eq("meta.kind", "blog"), {"b", "e"}, id="eq-str"),
    pytest.param(_eq("meta.rating", None), {"c", "d", "f", "g"}, id="eq-none-or-missing"),
    pytest.param(_eq("meta.rating", 3), {"b"}, id="eq-int-matches-float"),
    pytest.param(
        {"field": "meta.kind", "operator": "!=", "value": "article"},
        {"b", "d", "e", "f", "g"},
        id="ne-includes-missing",
    ),
    pytest.param({"field": "meta.year", "operator": ">", "value": 2020}, {"c", "d", "f"}, id="gt"),
    pytest.param({"field": "meta.rating", "operator": ">=", "value": 4.5}, {"a", "e"}, id="ge"),
    pytest.param({"field": "meta.year", "operator": "<", "value": 2020}, {"a", "g"}, id="lt"),
    pytest.param({"field": "meta.rating", "operator": "<=", "value": 3.0}, {"b"}, id="le"),
    pytest.param(
        {"field": "meta.date", "operator": ">", "value": "2020-01-01T00:00:00"},
        {"b", "c"},
        id="gt-iso-date",
    ),
    pytest.param(
        {"field": "meta.kind", "operator": "in", "value": ["news", "blog"]},
        {"b", "d", "e", "g"},
        id="in",
    ),
    pytest.param(
        {"field": "meta.year", "operator": "not in", "value": [2019, 2021]},
        {"b", "e", "f", "g"},
        id="not-in-includes-missing",
    ),
    pytest.param(_eq("content", "Dogs are loyal animals"), {"b"}, id="content"),
    pytest.param(
        {
            "operator": "AND",
            "conditions": [
                _eq("meta.kind", "article"),
                {"field": "meta.year", "operator": ">=", "value": 2020},
            ],
        },
        {"c"},
        id="and",
    ),
    pytest.param(
        {"operator": "OR", "conditions": [_eq("meta.year", 2019), _eq("meta.kind", "news")]},
        {"a", "d", "g"},
        id="or",
    ),
    pytest.param(
        {"operator": "NOT", "conditions": [_eq("meta.kind", "article")]},
        {"b", "d", "e", "f", "g"},
        id="not",
    ),
    pytest.param(
        {
            "operator": "AND",
            "conditions": [
                {
                    "operator": "OR",
                    "conditions": [_eq("meta.kind", "blog"), _eq("meta.kind", "news")],
                },
                {"operator": "NOT", "conditions": [_eq("meta.year", 2021)]},
            ],
        },
        {"b", "e", "g"},
        id="nested-logic",
    ),
    pytest.param({}, ALL, id="empty-means-all"),
]

INVALID_FILTERS = [
    pytest.param({"kind": "blog"}, id="legacy-syntax"),
    pytest.param({"field": "meta.kind", "value": "blog"}, id="no-operator"),
    pytest.param({"field": "meta.kind", "operator": "=", "value": "blog"}, id="unknown-operator"),
    pytest.param({"field": "meta.kind", "operator": "in", "value": "blog"}, id="in-not-a-list"),
    pytest.param({"operator": "AND"}, id="no-conditions"),
    pytest.param({"operator": "XOR", "conditions": []}, id="unknown-logical"),
]


def names(documents: list[Document]) -> list[str]:
    """The `name` meta of each document, in order."""
    return [doc.meta["name"] for doc in documents]


class StoreContract:
    """Tests every store passes; subclass and override `store` and `reopen`."""

    dimension = 4

    @pytest.fixture
    def store(self) -> Any:
        """An empty store for `dimension`-sized embeddings."""
        raise NotImplementedError("override the store fixture")

    def reopen(self, store: Any) -> Any:
        """A new store object over the same stored data."""
        raise NotImplementedError("override reopen")

    def keyword_search(self, store: Any, query: str, **kwargs: Any) -> list[Document]:
        """The store's keyword search (BM25 here)."""
        return store.bm25_retrieval(query, **kwargs)

    @pytest.fixture
    def filled(self, store: Any) -> Any:
        """The store holding `corpus()`."""
        assert store.write_documents(corpus()) == len(corpus())
        return store

    def test_a_new_store_is_empty(self, store: Any) -> None:
        assert store.count_documents() == 0
        assert store.filter_documents() == []

    def test_write_then_count_and_read_back(self, filled: Any) -> None:
        assert filled.count_documents() == 7
        by_name = {d.meta["name"]: d for d in filled.filter_documents()}
        assert set(by_name) == ALL
        originals = {d.meta["name"]: d for d in corpus()}
        for name, doc in by_name.items():
            assert doc.id == originals[name].id
            assert doc.content == originals[name].content
            assert doc.meta == originals[name].meta
        assert by_name["b"].embedding == pytest.approx([0.0, 1.0, 0.0, 0.0])
        assert by_name["g"].embedding is None

    def test_write_empty_list_writes_nothing(self, store: Any) -> None:
        assert store.write_documents([]) == 0
        assert store.count_documents() == 0

    def test_stored_documents_are_not_the_callers_objects(self, store: Any) -> None:
        doc = Document(content="x", meta={"name": "x"})
        store.write_documents([doc])
        doc.meta["name"] = "changed by the caller"
        (read,) = store.filter_documents()
        read.meta["name"] = "changed by a reader"
        assert store.filter_documents()[0].meta == {"name": "x"}

    @pytest.mark.parametrize(("filters", "expected"), FILTER_CASES)
    def test_filter_documents(self, filled: Any, filters: dict, expected: set[str]) -> None:
        assert set(names(filled.filter_documents(filters))) == expected

    def test_filter_on_id(self, filled: Any) -> None:
        target = corpus()[3]
        assert names(filled.filter_documents(_eq("id", target.id))) == ["d"]

    @pytest.mark.parametrize("filters", INVALID_FILTERS)
    def test_invalid_filters_raise_value_error(self, filled: Any, filters: dict) -> None:
        with pytest.raises(ValueError):
            filled.filter_documents(filters)

    def test_embedding_retrieval_ranks_by_similarity(self, filled: Any) -> None:
        found = filled.embedding_retrieval([1.0, 0.1, 0.0, 0.0], top_k=3)
        assert names(found) == ["a", "c", "f"]
        scores = [d.score for d in found]
        assert scores == sorted(scores, reverse=True)
        assert all(d.embedding is None for d in found)

    def test_embedding_retrieval_with_filters(self, filled: Any) -> None:
        found = filled.embedding_retrieval(
            [0.0, 1.0, 0.0, 0.0], filters=_eq("meta.kind", "article"), top_k=5
        )
        assert names(found) == ["c", "a"]

    def test_embedding_retrieval_skips_unembedded_documents(self, filled: Any) -> None:
        found = filled.embedding_retrieval([1.0, 1.0, 1.0, 1.0], top_k=10)
        assert set(names(found)) == ALL - {"g"}

    def test_embedding_retrieval_can_return_embeddings(self, filled: Any) -> None:
        (top,) = filled.embedding_retrieval([0.0, 0.0, 0.0, 1.0], top_k=1, return_embedding=True)
        assert top.meta["name"] == "e"
        assert top.embedding == pytest.approx([0.0, 0.0, 0.0, 1.0])

    def test_scores_are_on_copies(self, filled: Any) -> None:
        filled.embedding_retrieval([1.0, 0.0, 0.0, 0.0], top_k=2)
        assert all(d.score is None for d in filled.filter_documents())

    def test_keyword_search(self, filled: Any) -> None:
        found = names(self.keyword_search(filled, "cat mat", top_k=5))
        assert found[0] == "a"
        assert "c" in found
        assert not {"b", "d", "e"} & set(found)

    def test_keyword_search_with_filters(self, filled: Any) -> None:
        found = self.keyword_search(filled, "markets", filters=_eq("meta.year", 2021))
        assert names(found) == ["d"]

    def test_persisted_documents_survive_a_reopen(self, filled: Any) -> None:
        again = self.reopen(filled)
        assert again.count_documents() == 7
        assert {d.id for d in again.filter_documents()} == {d.id for d in corpus()}
        (top,) = again.embedding_retrieval([0.0, 0.0, 1.0, 0.0], top_k=1, return_embedding=True)
        assert top.meta == {"name": "d", "year": 2021, "kind": "news"}
        assert top.embedding == pytest.approx([0.0, 0.0, 1.0, 0.0])

    def test_deletes_survive_a_reopen(self, filled: Any) -> None:
        a, b = corpus()[:2]
        filled.delete_documents([a.id, b.id, "no-such-id"])
        assert filled.count_documents() == 5
        assert self.reopen(filled).count_documents() == 5
        assert not {"a", "b"} & set(names(self.reopen(filled).filter_documents()))

    @pytest.mark.parametrize("policy", [DuplicatePolicy.NONE, DuplicatePolicy.FAIL, "fail"])
    def test_duplicates_fail_by_default_and_nothing_is_written(
        self, filled: Any, policy: Any
    ) -> None:
        new = Document(content="brand new", meta={"name": "new"})
        with pytest.raises(DuplicateDocumentError):
            filled.write_documents([new, corpus()[0]], policy=policy)
        assert filled.count_documents() == 7
        assert filled.has_ids([new.id]) == set()

    def test_duplicates_skipped(self, filled: Any) -> None:
        changed = Document(id=corpus()[0].id, content="changed", meta={"name": "a2"})
        new = Document(content="brand new", meta={"name": "new"})
        assert filled.write_documents([changed, new], policy=DuplicatePolicy.SKIP) == 1
        assert filled.count_documents() == 8
        assert set(names(filled.filter_documents(_eq("id", changed.id)))) == {"a"}

    def test_duplicates_overwritten(self, filled: Any) -> None:
        changed = Document(
            id=corpus()[0].id, content="changed", meta={"name": "a2"}, embedding=[0, 0, 1, 1]
        )
        assert filled.write_documents([changed], policy="overwrite") == 1
        assert filled.count_documents() == 7
        (read,) = filled.filter_documents(_eq("id", changed.id))
        assert (read.content, read.meta["name"]) == ("changed", "a2")
        assert read.embedding == pytest.approx([0.0, 0.0, 1.0, 1.0])
        assert self.reopen(filled).filter_documents(_eq("id", changed.id))[0].content == "changed"

    def test_has_ids(self, filled: Any) -> None:
        ids = [d.id for d in corpus()[:3]]
        assert filled.has_ids([*ids, "missing"]) == set(ids)

    @pytest.mark.anyio
    async def test_async_twins(self, store: Any) -> None:
        assert await store.write_documents_async(corpus()) == 7
        assert await store.count_documents_async() == 7
        found = await store.filter_documents_async(_eq("meta.kind", "blog"))
        assert set(names(found)) == {"b", "e"}
        await store.delete_documents_async([d.id for d in found])
        assert await store.count_documents_async() == 5
