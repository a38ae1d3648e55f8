"""InMemoryEmbeddingRetriever and InMemoryBM25Retriever: search an InMemoryDocumentStore.

Same names, init parameters and sockets as Haystack's. Both return new Document objects with
`score` set (the store's own documents are never handed out), best first.
"""

from __future__ import annotations

from typing import Any, Literal

from ragrun import Document, component
from ragrun.suggest import did_you_mean

from ..document_stores.filters import parse_filters
from ..document_stores.in_memory import InMemoryDocumentStore

FilterPolicyName = Literal["replace", "merge"]
_FILTER_POLICIES = ("replace", "merge")


class _InMemoryRetriever:
    """The init checks and filter policy both retrievers share."""

    def __init__(
        self,
        document_store: InMemoryDocumentStore,
        filters: dict[str, Any] | None,
        top_k: int,
        scale_score: bool,
        filter_policy: Any,
    ) -> None:
        name = type(self).__name__
        if not isinstance(document_store, InMemoryDocumentStore):
            raise TypeError(
                f"{name}'s document_store must be an InMemoryDocumentStore, "
                f"not {type(document_store).__name__}"
            )
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
            raise ValueError(f"{name}'s top_k must be an integer greater than 0, not {top_k!r}")
        parse_filters(filters)  # a malformed filter is reported when the pipeline is built
        self.document_store = document_store
        self.filters = filters
        self.top_k = top_k
        self.scale_score = scale_score
        self.filter_policy = _filter_policy(filter_policy)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(document_store={self.document_store!r}, top_k={self.top_k})"

    def _filters(self, runtime: dict[str, Any] | None) -> dict[str, Any] | None:
        """Run-time filters replace the init ones, or with `merge` must hold as well (AND)."""
        if not runtime:
            return self.filters
        if self.filter_policy == "merge" and self.filters:
            return {"operator": "AND", "conditions": [self.filters, runtime]}
        return runtime

    def _top_k(self, top_k: int | None) -> int:
        return self.top_k if top_k is None else top_k


def _filter_policy(value: Any) -> str:
    raw = str(getattr(value, "value", value)).lower()
    if raw not in _FILTER_POLICIES:
        raise ValueError(
            f"filter_policy must be 'replace' or 'merge', not {value!r}."
            + did_you_mean(raw, _FILTER_POLICIES)
        )
    return raw


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
