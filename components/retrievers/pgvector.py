"""PgvectorEmbeddingRetriever and PgvectorKeywordRetriever: search a PgvectorDocumentStore.

Same names, init parameters and sockets as Haystack's. Both have `run_async`, which the
engine awaits on the event loop (the store's async connections), and `run`, which the engine
runs in a worker thread (the store's sync pool). Documents come back best first with `score`.
"""

from __future__ import annotations

from typing import Any

from ragrun import Document, component

from ..document_stores.pgvector import PgvectorDocumentStore, VectorFunction
from ..document_stores.pgvector_settings import VECTOR_FUNCTIONS, choice
from .base import FilterPolicyName, Retriever


class _PgvectorRetriever(Retriever):
    """The init checks and the filter policy both retrievers share."""

    def __init__(
        self,
        document_store: PgvectorDocumentStore,
        filters: dict[str, Any] | None,
        top_k: int,
        filter_policy: Any,
    ) -> None:
        super().__init__(document_store, filters, top_k, filter_policy, PgvectorDocumentStore)


@component
class PgvectorEmbeddingRetriever(_PgvectorRetriever):
    """The documents whose embeddings are nearest to a query embedding.

    Args:
        document_store: the store to search.
        filters: filters applied on every run (Haystack's filter syntax).
        top_k: how many documents to return at most.
        vector_function: overrides the store's "cosine_similarity", "inner_product" or
            "l2_distance" (an HNSW index serves only the function it was built for).
        filter_policy: "replace" (run-time filters replace `filters`) or "merge" (both apply).
    """

    def __init__(
        self,
        document_store: PgvectorDocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        vector_function: VectorFunction | None = None,
        filter_policy: FilterPolicyName = "replace",
    ) -> None:
        super().__init__(document_store, filters, top_k, filter_policy)
        if vector_function is not None:
            choice("vector_function", vector_function, VECTOR_FUNCTIONS)
        self.vector_function = vector_function

    def _arguments(self, query_embedding: Any, filters: Any, top_k: Any, function: Any) -> dict:
        return {
            "query_embedding": query_embedding,
            "filters": self._filters(filters),
            "top_k": self._top_k(top_k),
            "vector_function": function or self.vector_function,
        }

    @component.output_types(documents=list[Document])
    def run(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
        vector_function: VectorFunction | None = None,
    ) -> dict[str, Any]:
        """Search the store.

        Args:
            query_embedding: the query's embedding (same model and size as the documents').
            filters: filters for this run (see `filter_policy`).
            top_k: overrides the init `top_k`.
            vector_function: overrides the init `vector_function`.

        Returns:
            `{"documents": list[Document]}`, nearest first, each with its `score`.
        """
        arguments = self._arguments(query_embedding, filters, top_k, vector_function)
        return {"documents": self.document_store.embedding_retrieval(**arguments)}

    @component.output_types(documents=list[Document])
    async def run_async(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
        vector_function: VectorFunction | None = None,
    ) -> dict[str, Any]:
        """`run` on the event loop."""
        arguments = self._arguments(query_embedding, filters, top_k, vector_function)
        return {"documents": await self.document_store.embedding_retrieval_async(**arguments)}


@component
class PgvectorKeywordRetriever(_PgvectorRetriever):
    """The documents whose content best matches a query, by PostgreSQL full-text search.

    Ranked by `ts_rank_cd`; how the query is read is the store's `keyword_query_mode`.

    Args:
        document_store: the store to search.
        filters: filters applied on every run (Haystack's filter syntax).
        top_k: how many documents to return at most.
        filter_policy: "replace" (run-time filters replace `filters`) or "merge" (both apply).
    """

    def __init__(
        self,
        document_store: PgvectorDocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        filter_policy: FilterPolicyName = "replace",
    ) -> None:
        super().__init__(document_store, filters, top_k, filter_policy)

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, Any]:
        """Search the store.

        Args:
            query: the query text.
            filters: filters for this run (see `filter_policy`).
            top_k: overrides the init `top_k`.

        Returns:
            `{"documents": list[Document]}`, best first, each with its `score`.
        """
        documents = self.document_store.keyword_retrieval(
            query, filters=self._filters(filters), top_k=self._top_k(top_k)
        )
        return {"documents": documents}

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, Any]:
        """`run` on the event loop."""
        documents = await self.document_store.keyword_retrieval_async(
            query, filters=self._filters(filters), top_k=self._top_k(top_k)
        )
        return {"documents": documents}
