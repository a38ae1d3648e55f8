"""InMemoryDocumentStore: documents in memory, embeddings in one float32 matrix, optional file.

Haystack's InMemoryDocumentStore with the same init parameters, methods, filters and scores,
plus `path`: an SQLite file the store loads at first use and writes each change to in one
transaction (`persistence.py`), so indexing and search pipelines, and several writers, in one
process or many, share documents (`collection.py` keeps the memory in step with the file).

An embedding search is one matrix product and an argpartition; BM25 runs over numpy postings
(`bm25.py`); filters are evaluated as boolean masks over all rows (`columns.py`). One lock per
stored collection makes the store safe to use from the worker threads components run in; stores
with the same `path` (or, with `shared`, the same `index`) share one collection.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Literal

import anyio.to_thread
import numpy as np

from ragrun import Document
from ragrun.suggest import did_you_mean

from .bm25 import DEFAULT_TOKENIZATION_REGEX, BM25Index, check_algorithm
from .collection import collection_for
from .columns import matches
from .errors import DuplicateDocumentError
from .filters import Condition, parse_filters
from .search import bm25_top, check_top_k, embedding_top, query_vector
from .types import DuplicatePolicy

logger = logging.getLogger(__name__)

SIMILARITY_FUNCTIONS = ("dot_product", "cosine")


class InMemoryDocumentStore:
    """Documents, their embeddings and a BM25 index in memory, optionally kept in a file.

    Same init parameters and methods as Haystack's InMemoryDocumentStore, plus `path`. Not a
    component: retrievers and DocumentWriter take it as their `document_store` init parameter.

    Args:
        bm25_tokenization_regex: how BM25 splits lowercased text into tokens.
        bm25_algorithm: "BM25L" (default), "BM25Okapi" or "BM25Plus".
        bm25_parameters: k1, b and delta (L, Plus) or epsilon (Okapi).
        embedding_similarity_function: "dot_product" (default) or "cosine".
        index: a name; with `shared`, stores with the same index share their documents.
        path: a file holding the documents (created on the first write, loaded at first use).
            Stores with the same path share their documents.
        shared: share documents between stores with the same `index` (Haystack's default).
        return_embedding: whether `filter_documents` returns embeddings.
        strict_datetime_comparison: in filters, a naive and an aware datetime never match.
    """

    def __init__(
        self,
        bm25_tokenization_regex: str = DEFAULT_TOKENIZATION_REGEX,
        bm25_algorithm: Literal["BM25Okapi", "BM25L", "BM25Plus"] = "BM25L",
        bm25_parameters: dict[str, float] | None = None,
        embedding_similarity_function: Literal["dot_product", "cosine"] = "dot_product",
        index: str | None = None,
        path: str | None = None,
        shared: bool = True,
        return_embedding: bool = True,
        *,
        strict_datetime_comparison: bool = False,
    ) -> None:
        if embedding_similarity_function not in SIMILARITY_FUNCTIONS:
            raise ValueError(
                "embedding_similarity_function must be 'dot_product' or 'cosine', not "
                f"{embedding_similarity_function!r}."
                + did_you_mean(str(embedding_similarity_function), SIMILARITY_FUNCTIONS)
            )
        self.bm25_tokenization_regex = bm25_tokenization_regex
        self.bm25_algorithm = check_algorithm(bm25_algorithm)
        self.bm25_parameters = dict(bm25_parameters or {})
        self.embedding_similarity_function = embedding_similarity_function
        self.index = index
        self.path = str(path) if path is not None else None
        self.shared = shared
        self.return_embedding = return_embedding
        self.strict_datetime_comparison = strict_datetime_comparison
        self._bm25 = BM25Index(bm25_tokenization_regex, bm25_algorithm, bm25_parameters)
        self._bm25_version = -1
        self._collection = collection_for(self.path, index, shared)

    def __repr__(self) -> str:
        where = f"path={self.path!r}" if self.path else f"index={self.index!r}"
        return f"InMemoryDocumentStore({where})"

    def to_dict(self) -> dict[str, Any]:
        """`{type, init_parameters}`, the form a pipeline YAML holds (as Haystack's to_dict)."""
        from ragrun.registry import type_name_of

        return {
            "type": type_name_of(type(self)),
            "init_parameters": {
                "bm25_tokenization_regex": self.bm25_tokenization_regex,
                "bm25_algorithm": self.bm25_algorithm,
                "bm25_parameters": self.bm25_parameters,
                "embedding_similarity_function": self.embedding_similarity_function,
                "index": self.index,
                "path": self.path,
                "shared": self.shared,
                "return_embedding": self.return_embedding,
                "strict_datetime_comparison": self.strict_datetime_comparison,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InMemoryDocumentStore:
        """Build a store from `to_dict()` output."""
        return cls(**(data.get("init_parameters") or {}))

    def close(self) -> None:
        """Release the store file (the documents stay in memory; the file reopens on next use).

        Closing the last connection to the file folds its write-ahead log back into it, so the
        file alone is then the whole store (to copy, cache or upload). Pipelines call it when
        they close; so does the interpreter at exit.
        """
        self._collection.close()

    def count_documents(self) -> int:
        """How many documents the store holds."""
        with self._collection.reading() as table:
            return len(table)

    def has_ids(self, ids: list[str]) -> set[str]:
        """The subset of `ids` already stored (incremental indexing skips those)."""
        with self._collection.reading() as table:
            return {i for i in ids if table.row_of(i) is not None}

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching `filters` (all without), in the order first written.

        Raises:
            FilterError: the filter is malformed.
        """
        condition = parse_filters(filters)
        with self._collection.reading() as table:
            rows = np.flatnonzero(self._mask(condition)) if condition else range(len(table))
            return [table.copy_of(int(r), embedding=self.return_embedding) for r in rows]

    def _mask(self, condition: Condition) -> np.ndarray:
        columns = self._collection.filter_columns()
        return matches(condition, columns, strict=self.strict_datetime_comparison)

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy | str = DuplicatePolicy.NONE
    ) -> int:
        """Store documents; returns how many were written. Nothing is stored when one fails.

        Args:
            documents: the documents (their embeddings all of one size).
            policy: for an id already stored (or repeated in `documents`): "fail" (also
                "none", the default), "skip" (keep the stored one) or "overwrite".

        Raises:
            DuplicateDocumentError: an id exists and the policy is fail/none.
            DocumentStoreError: an embedding's size differs from the stored ones'.
        """
        if not isinstance(documents, list | tuple) or not all(
            isinstance(d, Document) for d in documents
        ):
            raise ValueError("write_documents takes a list of Documents")
        policy = DuplicatePolicy.parse(policy)
        # The policy is decided inside the write: `writes.table` then holds every process's
        # committed documents, and no other writer can commit until this one has.
        with self._collection.writing() as writes:
            table = writes.table
            chosen: dict[str, Document] = {}
            for doc in documents:
                if doc.id in chosen or table.row_of(doc.id) is not None:
                    if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
                        raise DuplicateDocumentError(_duplicate_message(doc, doc.id in chosen))
                    if policy is DuplicatePolicy.SKIP:
                        logger.info("skipping document %s: its id is already stored", doc.id)
                        continue
                    chosen.pop(doc.id, None)  # overwrite: the last copy wins
                chosen[doc.id] = doc
            writes.upsert(list(chosen.values()))
        written = len(chosen)
        return len(documents) if policy is DuplicatePolicy.OVERWRITE else written

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (unknown ids are ignored)."""
        with self._collection.writing() as writes:
            writes.delete(list(document_ids))

    def delete_all_documents(self) -> None:
        """Delete every document."""
        with self._collection.writing() as writes:
            if len(writes.table):
                writes.clear()

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """The `top_k` documents most similar to `query_embedding`, best first, with `score`.

        Documents without an embedding are not searched. With `scale_score`, cosine scores
        become (s + 1) / 2 and dot products expit(s / 100), as in Haystack.

        Raises:
            ValueError: the query embedding is empty or not numbers, or top_k is negative.
            DocumentStoreError: the query's size differs from the stored embeddings'.
        """
        query = query_vector(query_embedding)
        condition = parse_filters(filters)
        check_top_k(top_k)
        with_embedding = self.return_embedding if return_embedding is None else return_embedding
        with self._collection.reading() as table:
            matrix, has, norms = table.embeddings()
            candidates = has if condition is None else has & self._mask(condition)
            if matrix is None or not candidates.any():
                if matrix is None or not has.any():
                    logger.warning("no stored document has an embedding; embed them first")
                return []
            found = embedding_top(
                matrix, norms, candidates, query, top_k,
                cosine=self.embedding_similarity_function == "cosine", scale=scale_score,
            )  # fmt: skip
            return [table.copy_of(r, score=s, embedding=with_embedding) for r, s in found]

    def bm25_retrieval(
        self,
        query: str,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
    ) -> list[Document]:
        """The `top_k` documents that best match `query` by BM25, best first, with `score`.

        Only documents with content are searched. With BM25L and BM25Plus, documents sharing
        no token with the query are left out; `scale_score` maps scores to expit(s / 8).

        Raises:
            ValueError: the query is empty or top_k is negative.
        """
        if not isinstance(query, str) or not query:
            raise ValueError("bm25_retrieval needs a non-empty query string")
        condition = parse_filters(filters)
        check_top_k(top_k)
        with self._collection.reading() as table:
            columns = self._collection.filter_columns()
            candidates = ~columns.column(("content",)).nones()
            if condition is not None:
                candidates &= self._mask(condition)
            if not candidates.any():
                return []
            if self._bm25_version != table.version:
                self._bm25.rebuild(table.documents)
                self._bm25_version = table.version
            found = bm25_top(
                self._bm25.scores(query), candidates, top_k,
                keep_non_positive=self.bm25_algorithm == "BM25Okapi", scale=scale_score,
            )  # fmt: skip
            return [table.copy_of(r, score=s, embedding=self.return_embedding) for r, s in found]

    async def count_documents_async(self) -> int:
        """`count_documents` in a worker thread."""
        return await anyio.to_thread.run_sync(self.count_documents)

    async def has_ids_async(self, ids: list[str]) -> set[str]:
        """`has_ids` in a worker thread."""
        return await anyio.to_thread.run_sync(self.has_ids, ids)

    async def filter_documents_async(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """`filter_documents` in a worker thread."""
        return await anyio.to_thread.run_sync(self.filter_documents, filters)

    async def write_documents_async(
        self, documents: list[Document], policy: DuplicatePolicy | str = DuplicatePolicy.NONE
    ) -> int:
        """`write_documents` in a worker thread."""
        return await anyio.to_thread.run_sync(self.write_documents, documents, policy)

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        """`delete_documents` in a worker thread."""
        await anyio.to_thread.run_sync(self.delete_documents, document_ids)

    async def delete_all_documents_async(self) -> None:
        """`delete_all_documents` in a worker thread."""
        await anyio.to_thread.run_sync(self.delete_all_documents)

    async def embedding_retrieval_async(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool | None = False,
    ) -> list[Document]:
        """`embedding_retrieval` in a worker thread."""
        call = functools.partial(
            self.embedding_retrieval, query_embedding, filters, top_k, scale_score, return_embedding
        )
        return await anyio.to_thread.run_sync(call)

    async def bm25_retrieval_async(
        self,
        query: str,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
    ) -> list[Document]:
        """`bm25_retrieval` in a worker thread."""
        call = functools.partial(self.bm25_retrieval, query, filters, top_k, scale_score)
        return await anyio.to_thread.run_sync(call)


def _duplicate_message(doc: Document, repeated: bool) -> str:
    where = "appears twice in the documents written" if repeated else "is already in the store"
    return (
        f"document id '{doc.id}' {where} (duplicate policy 'fail'); write with policy "
        "'skip' to keep the stored document or 'overwrite' to replace it"
    )
