"""InMemoryEmbeddingRetriever and InMemoryBM25Retriever: search an InMemoryDocumentStore.

Same names, init parameters and sockets as Haystack's. Both return new Document objects with
`score` set (the store's own documents are never handed out), best first.
"""

from __future__ import annotations

from typing import Any

from ragrun import Document, component

from ..document_stores.in_memory import InMemoryDocumentStore
from .base import FilterPolicyName, Retriever


class _InMemoryRetriever(Retriever):
    """The init checks and filter policy both retrievers share, plus `scale_score`."""

    def __init__(
        self,
        document_store: InMemoryDocumentStore,
        filters: dict[str, Any] | None,
        top_k: int,
        scale_score: bool,
        filter_policy: Any,
    ) -> None:
        super().__init__(document_store, filters, top_k, filter_policy, InMemoryDocumentStore)
        self.scale_score = scale_score


@component
class InMemoryEmbeddingRetriever(_InMemoryRetriever):
    """The documents whose embeddings are most similar to a query embedding.

    Args:
        document_store: the store to search.
        filters: filters applied on every run (Haystack's filter syntax).
        top_k: how many documents to return at most.
        scale_score: map scores to 0..1 (cosine: (s + 1) / 2; dot product: expit(s / 100)).
        return_embedding: include the documents' embeddings in the output.
        filter_policy: "replace" (run-time filters replace `filters`) or "merge" (both apply).
    """

    def __init__(
        self,
        document_store: InMemoryDocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = False,
        filter_policy: FilterPolicyName = "replace",
    ) -> None:
        super().__init__(document_store, filters, top_k, scale_score, filter_policy)
        self.return_embedding = return_embedding

    @component.output_types(documents=list[Document])
    def run(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
        scale_score: bool | None = None,
        return_embedding: bool | None = None,
    ) -> dict[str, Any]:
        """Search the store.

        Args:
            query_embedding: the query's embedding (same model and size as the documents').
            filters: filters for this run (see `filter_policy`).
            top_k: overrides the init `top_k`.
            scale_score: overrides the init `scale_score`.
            return_embedding: overrides the init `return_embedding`.

        Returns:
            `{"documents": list[Document]}`, best first, each with its `score`.
        """
        if return_embedding is None:
            return_embedding = self.return_embedding
        documents = self.document_store.embedding_retrieval(
            query_embedding=query_embedding,
            filters=self._filters(filters),
            top_k=self._top_k(top_k),
            scale_score=self.scale_score if scale_score is None else scale_score,
            return_embedding=return_embedding,
        )
        return {"documents": documents}


@component
class InMemoryBM25Retriever(_InMemoryRetriever):
    """The documents that best match a query's words, ranked by BM25.

    Args:
        document_store: the store to search.
        filters: filters applied on every run (Haystack's filter syntax).
        top_k: how many documents to return at most.
        scale_score: map scores to 0..1 with expit(s / 8).
        filter_policy: "replace" (run-time filters replace `filters`) or "merge" (both apply).
    """

    def __init__(
        self,
        document_store: InMemoryDocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        filter_policy: FilterPolicyName = "replace",
    ) -> None:
        super().__init__(document_store, filters, top_k, scale_score, filter_policy)

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
        scale_score: bool | None = None,
    ) -> dict[str, Any]:
        """Search the store.

        Args:
            query: the query text.
            filters: filters for this run (see `filter_policy`).
            top_k: overrides the init `top_k`.
            scale_score: overrides the init `scale_score`.

        Returns:
            `{"documents": list[Document]}`, best first, each with its `score`.
        """
        documents = self.document_store.bm25_retrieval(
            query=query,
            filters=self._filters(filters),
            top_k=self._top_k(top_k),
            scale_score=self.scale_score if scale_score is None else scale_score,
        )
        return {"documents": documents}
