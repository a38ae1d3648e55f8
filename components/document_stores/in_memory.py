"""InMemoryDocumentStore: documents in memory, embeddings in one float32 matrix, optional file.

Haystack's InMemoryDocumentStore with the same init parameters, methods, filters and scores,
plus `path`: a file the store loads at first use and rewrites atomically after every write or
delete, so an indexing pipeline and a search pipeline (even in two processes) share documents.

An embedding search is one matrix product and an argpartition; BM25 runs over numpy postings
(`bm25.py`); filters are evaluated as boolean masks over all rows (`columns.py`). One lock per
stored collection makes the store safe to use from the worker threads components run in; stores
with the same `path` (or, with `shared`, the same `index`) share one collection.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import numpy as np

from ragrun import Document
from ragrun.suggest import did_you_mean

from . import persistence
from .bm25 import DEFAULT_TOKENIZATION_REGEX, BM25Index, check_algorithm
from .columns import Columns, matches
from .errors import DuplicateDocumentError
from .filters import Condition, parse_filters
from .search import bm25_top, check_top_k, embedding_top, query_vector
from .table import DocumentTable
from .types import DuplicatePolicy

logger = logging.getLogger(__name__)

SIMILARITY_FUNCTIONS = ("dot_product", "cosine")


@dataclass(eq=False)
class _Collection:
    """The documents one or more store instances share, with the lock that guards them."""

    path: Path | None
    table: DocumentTable = field(default_factory=DocumentTable)
    lock: threading.RLock = field(default_factory=threading.RLock)
    signature: persistence.Signature | None = None
    loaded: bool = False
    columns: Columns | None = None
    columns_version: int = -1

    def sync(self) -> None:
        """Load the file when it changed since this process last read or wrote it."""
        if self.path is None:
            return
        current = persistence.signature(self.path)
        if self.loaded and current == self.signature:
            return
        if current is None:
            self.table.clear()
        else:
            self.table.load(*persistence.load(self.path))
        self.signature, self.loaded = current, True

    def save(self) -> None:
        """Write the file; on failure the next access reloads it, undoing the change in memory."""
        if self.path is None:
            return
        matrix, has, _ = self.table.embeddings()
        try:
            self.signature = persistence.save(self.path, self.table.documents, matrix, has)
        except BaseException:
            self.loaded = False
            raise

    def filter_columns(self) -> Columns:
        """Filter columns for the current rows (cached until the next change)."""
        if self.columns is None or self.columns_version != self.table.version:
            self.columns = Columns(self.table.documents, self.table.embedding_at)
            self.columns_version = self.table.version
        return self.columns


_BY_PATH: weakref.WeakValueDictionary[Path, _Collection] = weakref.WeakValueDictionary()
_BY_INDEX: dict[str, _Collection] = {}  # as Haystack: a shared index lives as long as the process
_REGISTRY_LOCK = threading.Lock()


def _collection(path: str | None, index: str | None, shared: bool) -> _Collection:
    with _REGISTRY_LOCK:
        if path is not None:
            resolved = Path(path).expanduser().resolve()
            found = _BY_PATH.get(resolved)
            if found is None:
                found = _BY_PATH[resolved] = _Collection(resolved)
            return found
        if shared and index is not None:
            return _BY_INDEX.setdefault(index, _Collection(None))
        return _Collection(None)


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
        self._collection = _collection(self.path, index, shared)

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

    @contextmanager
    def _open(self, *, write: bool = False) -> Iterator[DocumentTable]:
        collection = self._collection
        with collection.lock:
            collection.sync()
            version = collection.table.version
            yield collection.table
            if write and collection.table.version != version:
                collection.save()

    def count_documents(self) -> int:
        """How many documents the store holds."""
        with self._open() as table:
            return len(table)

    def has_ids(self, ids: list[str]) -> set[str]:
        """The subset of `ids` already stored (incremental indexing skips those)."""
        with self._open() as table:
            return {i for i in ids if table.row_of(i) is not None}

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching `filters` (all without), in the order first written.

        Raises:
            FilterError: the filter is malformed.
        """
        condition = parse_filters(filters)
        with self._open() as table:
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
        with self._open(write=True) as table:
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
            table.upsert(list(chosen.values()))
        written = len(chosen)
        return len(documents) if policy is DuplicatePolicy.OVERWRITE else written

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (unknown ids are ignored)."""
        with self._open(write=True) as table:
            table.delete(document_ids)

    def delete_all_documents(self) -> None:
        """Delete every document (the file, if any, is rewritten empty)."""
        with self._open(write=True) as table:
            if len(table):
                table.clear()

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
        with self._open() as table:
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
        with self._open() as table:
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
