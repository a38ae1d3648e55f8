"""PgvectorEmbeddingRetriever and PgvectorKeywordRetriever: Haystack's sockets over a real table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from store_contract import corpus, names

from ragrun import Pipeline, sockets_of
from ragrun.components.document_stores.errors import FilterError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from ragrun.components.document_stores.pgvector import PgvectorDocumentStore
from ragrun.components.retrievers.pgvector import (
    PgvectorEmbeddingRetriever,
    PgvectorKeywordRetriever,
)
from tests.fakes.postgres import PostgresServer

NewStore = Callable[..., PgvectorDocumentStore]
ARTICLES = {"field": "meta.kind", "operator": "==", "value": "article"}
RECENT = {"field": "meta.year", "operator": ">=", "value": 2020}


@pytest.fixture
def store(new_pgvector_store: NewStore) -> PgvectorDocumentStore:
    store = new_pgvector_store()
    store.write_documents(corpus())
    return store


def test_sockets_are_haystacks() -> None:
    dense = sockets_of(PgvectorEmbeddingRetriever(PgvectorDocumentStore()))
    assert list(dense.inputs) == ["query_embedding", "filters", "top_k", "vector_function"]
    assert [n for n, s in dense.inputs.items() if s.is_required] == ["query_embedding"]
    assert list(dense.outputs) == ["documents"]
    keyword = sockets_of(PgvectorKeywordRetriever(PgvectorDocumentStore()))
    assert list(keyword.inputs) == ["query", "filters", "top_k"]
    assert [n for n, s in keyword.inputs.items() if s.is_required] == ["query"]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        pytest.param(lambda s: PgvectorEmbeddingRetriever(InMemoryDocumentStore()), TypeError,
                     "must be a PgvectorDocumentStore, not InMemoryDocumentStore", id="store"),
        pytest.param(lambda s: PgvectorKeywordRetriever(s, top_k=0), ValueError,
                     "top_k must be an integer greater than 0", id="top-k"),
        pytest.param(lambda s: PgvectorKeywordRetriever(s, filters={"kind": "x"}), FilterError,
                     "invalid filter syntax", id="filters"),
        pytest.param(lambda s: PgvectorKeywordRetriever(s, filter_policy="merg"), ValueError,
                     "Did you mean 'merge'", id="filter-policy"),
        pytest.param(lambda s: PgvectorEmbeddingRetriever(s, vector_function="l2_distnce"),
                     ValueError, "Did you mean 'l2_distance'", id="vector-function"),
    ],
)  # fmt: skip
def test_init_checks(build: Callable[[Any], Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build(PgvectorDocumentStore())


def test_embedding_retriever(store: PgvectorDocumentStore) -> None:
    retriever = PgvectorEmbeddingRetriever(store, top_k=2)
    found = retriever.run(query_embedding=[1.0, 0.1, 0.0, 0.0])["documents"]
    assert names(found) == ["a", "c"]
    assert all(isinstance(d.score, float) and d.embedding is None for d in found)
    more = retriever.run(query_embedding=[1.0, 0.1, 0.0, 0.0], top_k=4)["documents"]
    assert names(more) == ["a", "c", "f", "b"]


def test_vector_function_of_the_retriever_and_of_the_run(store: PgvectorDocumentStore) -> None:
    query = [0.0, 0.0, 0.0, 2.0]
    l2 = PgvectorEmbeddingRetriever(store, top_k=1, vector_function="l2_distance")
    (top,) = l2.run(query_embedding=query)["documents"]
    assert (top.meta["name"], top.score) == ("e", pytest.approx(1.0))  # distance to [0,0,0,1]
    (dot,) = l2.run(query_embedding=query, vector_function="inner_product")["documents"]
    assert dot.score == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("policy", "expected"), [("replace", {"b", "c", "d", "f"}), ("merge", {"c"})]
)
def test_filter_policy(store: PgvectorDocumentStore, policy: str, expected: set[str]) -> None:
    retriever = PgvectorEmbeddingRetriever(store, filters=ARTICLES, filter_policy=policy)
    assert set(names(retriever.run(query_embedding=[1, 1, 1, 1])["documents"])) == {"a", "c"}
    found = retriever.run(query_embedding=[1, 1, 1, 1], filters=RECENT, top_k=10)["documents"]
    assert set(names(found)) == expected


def test_keyword_retriever(store: PgvectorDocumentStore) -> None:
    retriever = PgvectorKeywordRetriever(store, filters=RECENT, filter_policy="merge")
    assert names(retriever.run(query="markets")["documents"]) == ["d"]
    found = retriever.run(query="cat mat")["documents"]
    assert names(found) == ["c"]  # "a" (2019) is filtered out
    assert found[0].score > 0


@pytest.mark.anyio
async def test_run_async_equals_run(store: PgvectorDocumentStore) -> None:
    dense = PgvectorEmbeddingRetriever(store, top_k=3)
    query = [0.0, 1.0, 0.2, 0.0]
    assert names((await dense.run_async(query_embedding=query))["documents"]) == names(
        dense.run(query_embedding=query)["documents"]
    )
    keyword = PgvectorKeywordRetriever(store)
    found = (await keyword.run_async(query="cat mat"))["documents"]
    assert names(found) == names(keyword.run(query="cat mat")["documents"]) == ["a", "c"]
    await store.aclose()


STORE = (
    "{type: PgvectorDocumentStore, init_parameters: {table_name: TABLE, embedding_dimension: 4}}"
)
INDEX = f"""
components:
  writer: {{type: DocumentWriter, init_parameters: {{document_store: {STORE}, policy: skip}}}}
"""
SEARCH = f"""
components:
  dense:
    type: PgvectorEmbeddingRetriever
    init_parameters: {{document_store: {STORE}, top_k: 2}}
  words:
    type: PgvectorKeywordRetriever
    init_parameters: {{document_store: {STORE}, top_k: 2}}
"""


def test_pipeline_yaml_loads_without_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_CONN_STR", "postgresql://nobody:secret-pw@unreachable.invalid/db")
    pipeline = Pipeline.loads(SEARCH.replace("TABLE", "docs"))
    stores = {id(node.instance.document_store) for node in pipeline.nodes.values()}
    assert len(stores) == 1  # one store object (and pool) for both retrievers
    text = pipeline.dumps()
    assert "- PG_CONN_STR" in text  # the secret by its variable's name
    assert "secret-pw" not in text and "unreachable.invalid" not in text
    assert Pipeline.loads(text).dumps() == text


def test_index_then_search_pipelines(postgres: PostgresServer) -> None:
    table = postgres.new_table()
    index = Pipeline.loads(INDEX.replace("TABLE", table))
    assert index.run({"documents": corpus()}) == {"writer": {"documents_written": 7}}
    assert index.run({"documents": corpus()}) == {"writer": {"documents_written": 0}}
    search = Pipeline.loads(SEARCH.replace("TABLE", table))
    inputs = {"query_embedding": [0.0, 0.0, 1.0, 0.0], "query": "stock markets"}
    for _ in range(2):  # Pipeline.run starts a new event loop each time
        outputs = search.run(inputs)
        assert names(outputs["dense"]["documents"]) == ["d", "f"]
        assert names(outputs["words"]["documents"]) == ["d", "g"]  # "g": markets only
    for pipeline in (index, search):
        next(iter(pipeline.nodes.values())).instance.document_store.close()
