"""The stored documents in row order, with their embeddings in one contiguous float32 matrix.

Row i of the matrix is the embedding of `documents[i]`. The matrix has spare rows and doubles
when full, so appending is amortised O(1) and a search is one matrix product over `matrix[:n]`.
Documents are kept without their embedding (a Python list of floats costs ~8x the float32 row);
copies handed out get it back from the matrix. Deleting compacts rows; overwriting keeps a
document's row, so documents stay in the order they were first written (as in Haystack).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ragrun import Document

from .errors import DocumentStoreError

_MIN_CAPACITY = 64
_VECTOR_TYPES = (list, tuple, np.ndarray)
_LOAD_SLACK = 8  # a loaded table gets 1/8 spare rows, so the next writes do not copy the matrix


def load_capacity(rows: int) -> int:
    """How many rows to allocate for a table loaded with `rows` rows (room for a few writes)."""
    return max(rows + rows // _LOAD_SLACK, _MIN_CAPACITY)


@dataclass(frozen=True)
class Rows:
    """Documents ready to store: copies without embedding, their vectors and which have one."""

    documents: list[Document]
    vectors: np.ndarray | None
    """float32, one row per document that has an embedding, in order."""
    has: np.ndarray


@dataclass(frozen=True)
class Loaded:
    """A whole table read from a file, laid out as the table keeps it (nothing to copy)."""

    documents: list[Document]
    matrix: np.ndarray | None
    """float32, C-contiguous, row i the embedding of documents[i] (zeros where it has none),
    with spare rows beyond them (`load_capacity`)."""
    has: np.ndarray


class DocumentTable:
    """Documents by row, id -> row, and the embeddings matrix; not thread-safe on its own."""

    def __init__(self) -> None:
        self.documents: list[Document] = []
        self.version = 0
        """Counts changes, so caches built from the rows (BM25, filter columns) see staleness."""
        self._rows: dict[str, int] = {}
        self._clear_arrays()

    def _clear_arrays(self) -> None:
        self.dimension: int | None = None
        self._matrix: np.ndarray | None = None
        self._has = np.zeros(0, dtype=bool)
        self._norms = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.documents)

    def row_of(self, document_id: str) -> int | None:
        """The row of a stored id, or None."""
        return self._rows.get(document_id)

    def embeddings(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """Views of the used rows: the matrix (None before any embedding), has-embedding, norms."""
        n = len(self.documents)
        matrix = None if self._matrix is None else self._matrix[:n]
        return matrix, self._has[:n], self._norms[:n]

    def embedding_at(self, row: int) -> list[float] | None:
        """The embedding of a row as a list, or None."""
        if self._matrix is None or not self._has[row]:
            return None
        return self._matrix[row].tolist()

    def copy_of(self, row: int, *, score: float | None = None, embedding: bool = True) -> Document:
        """A fresh Document for a row (its meta dict copied, so callers cannot change the store)."""
        stored = self.documents[row]
        vector = self.embedding_at(row) if embedding else None
        return replace(stored, meta=dict(stored.meta), embedding=vector, score=score)

    def upsert(self, documents: Sequence[Document]) -> None:
        """Store documents (ids unique within the call): known ids overwrite, new ids append.

        Raises:
            DocumentStoreError: an embedding is malformed or its size differs from the store's;
                nothing is stored then.
        """
        self.apply(self.prepare(documents))

    def prepare(self, documents: Sequence[Document]) -> Rows:
        """The rows `documents` would become, checked against the store: nothing changes yet.

        Raises:
            DocumentStoreError: an id is not a non-empty string, or an embedding is malformed
                or its size differs from the store's.
        """
        for doc in documents:
            if not isinstance(doc.id, str) or not doc.id:
                raise DocumentStoreError(
                    f"a document's id is {doc.id!r}: ids must be non-empty strings"
                )
            if doc.content is not None and not isinstance(doc.content, str):
                raise DocumentStoreError(
                    f"document {doc.id[:12]}…'s content is a {type(doc.content).__name__}: "
                    "content must be a string or None"
                )
        vectors, has = self._vectors(documents)
        stored = [replace(d, meta=dict(d.meta), embedding=None, score=None) for d in documents]
        return Rows(stored, vectors, has)

    def check(self, rows: Rows) -> None:
        """Refuse rows read from a file whose vectors do not fit the store's (a mixed file).

        Raises:
            DocumentStoreError: the vectors' size differs from the stored ones'.
        """
        if rows.vectors is not None and self.dimension not in (None, rows.vectors.shape[1]):
            raise DocumentStoreError(
                f"embeddings of size {rows.vectors.shape[1]} next to stored ones of size "
                f"{self.dimension}"
            )

    def apply(self, prepared: Rows) -> None:
        """Store prepared rows: known ids overwrite in place, new ids append in order."""
        documents, vectors, has = prepared.documents, prepared.vectors, prepared.has
        if vectors is not None and self.dimension is None:
            self.dimension = int(vectors.shape[1])
        rows = np.empty(len(documents), dtype=np.int64)
        next_row = len(self.documents)
        for i, doc in enumerate(documents):
            row = self._rows.get(doc.id)
            if row is None:
                row, next_row = next_row, next_row + 1
            rows[i] = row
        self._reserve(next_row)
        for doc, row in zip(documents, rows.tolist(), strict=True):
            if row == len(self.documents):
                self.documents.append(doc)
                self._rows[doc.id] = row
            else:
                self.documents[row] = doc
        self._has[rows] = has
        if vectors is not None and self._matrix is not None:
            self._matrix[rows[has]] = vectors
            self._norms[rows[has]] = np.linalg.norm(vectors, axis=1)
        self.version += 1

    def _vectors(self, documents: Sequence[Document]) -> tuple[np.ndarray | None, np.ndarray]:
        has = np.fromiter((d.embedding is not None for d in documents), bool, len(documents))
        if not has.any():
            return None, has
        embedded = [d for d in documents if d.embedding is not None]
        if not all(isinstance(d.embedding, list | tuple | np.ndarray) for d in embedded):
            odd = next(
                d for d in embedded if not isinstance(d.embedding, list | tuple | np.ndarray)
            )
            raise DocumentStoreError(
                f"document {odd.id[:12]}…'s embedding is a {type(odd.embedding).__name__}, not a "
                "list of numbers"
            )
        sizes = {len(d.embedding) for d in embedded}  # type: ignore[arg-type]
        expected = self.dimension if self.dimension is not None else min(sizes)
        if sizes != {expected} or expected == 0:
            odd = next(d for d in embedded if len(d.embedding) != expected)  # type: ignore[arg-type]
            raise DocumentStoreError(
                f"document {odd.id[:12]}… has an embedding of size {len(odd.embedding or [])}, "
                f"but the store's embeddings have size {expected}: embed every document (and "
                "the queries) with the same model, or write to another store"
            )
        try:
            vectors = np.asarray([d.embedding for d in embedded], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DocumentStoreError(f"an embedding is not a list of numbers: {exc}") from exc
        if vectors.ndim != 2 or not np.isfinite(vectors).all():
            raise DocumentStoreError(
                "embeddings must be flat lists of finite numbers (a NaN or infinite value, or "
                "a nested list, was found): check the embedder's output"
            )
        return vectors, has

    def _reserve(self, rows: int) -> None:
        capacity = len(self._has)
        if rows > capacity or (self._matrix is None and self.dimension is not None):
            new_capacity = max(rows, 2 * capacity, _MIN_CAPACITY) if rows > capacity else capacity
            used = len(self.documents)
            self._has = _grown(self._has, new_capacity, used)
            self._norms = _grown(self._norms, new_capacity, used)
            if self.dimension is not None:
                old = self._matrix
                self._matrix = np.zeros((new_capacity, self.dimension), dtype=np.float32)
                if old is not None:
                    self._matrix[:used] = old[:used]

    def delete(self, ids: Iterable[str]) -> int:
        """Remove the rows of these ids (unknown ids ignored); returns how many were removed."""
        doomed = sorted({row for i in ids if (row := self._rows.get(i)) is not None})
        if not doomed:
            return 0
        n = len(self.documents)
        keep = np.ones(n, dtype=bool)
        keep[doomed] = False
        kept = keep.tolist()
        self.documents = [doc for doc, k in zip(self.documents, kept, strict=True) if k]
        self._rows = {doc.id: row for row, doc in enumerate(self.documents)}
        m = len(self.documents)
        if m == 0:
            self._clear_arrays()  # an empty store takes embeddings of any size again
        else:
            self._has[:m] = self._has[:n][keep]
            self._norms[:m] = self._norms[:n][keep]
            if self._matrix is not None:
                self._matrix[:m] = self._matrix[:n][keep]
        self.version += 1
        return len(doomed)

    def clear(self) -> None:
        """Remove every document."""
        self.documents = []
        self._rows = {}
        self._clear_arrays()
        self.version += 1

    def load(self, loaded: Loaded) -> None:
        """Replace the contents with a table read from a file; its matrix is kept, not copied.

        Raises:
            DocumentStoreError: two rows have the same id.
        """
        documents, matrix = loaded.documents, loaded.matrix
        by_id = {doc.id: row for row, doc in enumerate(documents)}
        if len(by_id) != len(documents):
            seen: set[str] = set()
            twice = next(d.id for d in documents if d.id in seen or seen.add(d.id))  # type: ignore[func-returns-value]
            raise DocumentStoreError(f"document id {twice[:40]!r} appears twice")
        self.clear()
        n = len(documents)
        capacity = load_capacity(n) if matrix is None else len(matrix)
        self.documents, self._rows = list(documents), by_id
        self._has = _grown(loaded.has.astype(bool), capacity, n)
        self._norms = np.zeros(capacity, dtype=np.float32)
        if matrix is not None:
            self.dimension, self._matrix = int(matrix.shape[1]), matrix
            used = matrix[:n]
            # einsum sums the squares row by row without a temporary the size of the matrix.
            self._norms[:n] = np.sqrt(np.einsum("ij,ij->i", used, used))
        self.version += 1


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    grown = np.zeros(capacity, dtype=array.dtype)
    grown[:used] = array[:used]
    return grown
