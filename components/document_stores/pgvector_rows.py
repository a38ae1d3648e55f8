"""Documents as rows of PgvectorDocumentStore's table, and rows as Documents.

Rows are written by binary COPY, so each value is given as the Python type psycopg dumps to
the column's type: `pgvector.Vector` / `HalfVector` for embeddings, `Jsonb` for meta. Meta
values JSON cannot hold are written as text (datetimes as ISO 8601, so date filters work).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from pgvector import HalfVector, Vector
from psycopg.types.json import Jsonb

from ragrun import ByteStream, Document

from .errors import DocumentStoreError, DuplicateDocumentError
from .pgvector_settings import PgvectorSettings
from .types import DuplicatePolicy


def to_write(
    documents: list[Document], policy: DuplicatePolicy | str, settings: PgvectorSettings
) -> tuple[list[Document], DuplicatePolicy]:
    """The documents to write, each id once (as the policy says), checked; and the policy.

    Raises:
        ValueError: `documents` is not a list of Documents, or the policy is unknown.
        DuplicateDocumentError: an id is repeated and the policy is fail/none.
        DocumentStoreError: a document the table cannot hold.
    """
    if not isinstance(documents, list | tuple) or not all(
        isinstance(d, Document) for d in documents
    ):
        raise ValueError("write_documents takes a list of Documents")
    policy = DuplicatePolicy.parse(policy)
    chosen: dict[str, Document] = {}
    for doc in documents:
        if doc.id in chosen:
            if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
                raise DuplicateDocumentError(
                    f"document id '{doc.id}' appears twice in the documents written "
                    "(duplicate policy 'fail'); write with policy 'skip' to keep the first "
                    "or 'overwrite' to keep the last"
                )
            if policy is DuplicatePolicy.SKIP:
                continue
            del chosen[doc.id]  # overwrite: the last copy wins
        check_writable(doc, settings)
        chosen[doc.id] = doc
    return list(chosen.values()), policy


def check_writable(doc: Document, settings: PgvectorSettings) -> None:
    """The table can hold `doc`: its embedding's size, text without NUL characters.

    Raises:
        DocumentStoreError: what is wrong with the document, and what to do.
    """
    size = settings.embedding_dimension
    if doc.embedding is not None and len(doc.embedding) != size:
        raise DocumentStoreError(
            f"document {doc.id!r} has an embedding of {len(doc.embedding)} numbers but "
            f"table {settings.qualified_name} holds embeddings of {size} "
            "(embedding_dimension): embed it with the model the table was made for"
        )
    if "\x00" in (doc.content or ""):
        raise DocumentStoreError(
            f"document {doc.id!r}: PostgreSQL text cannot hold NUL characters ('\\x00'); "
            "remove them (DocumentCleaner) before writing"
        )


def _dumps(value: Any) -> bytes:
    # orjson writes datetimes as ISO 8601; other values JSON cannot hold (paths, sets) as str().
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def vector_value(embedding: Any, vector_type: str) -> Any:
    """An embedding as pgvector's Python type for the column type."""
    array = np.asarray(embedding, dtype=np.float32)
    return HalfVector(array) if vector_type == "halfvec" else Vector(array)


def row(document: Document, vector_type: str) -> tuple[Any, ...]:
    """A Document as the values of `pgvector_sql.COLUMNS`."""
    blob = document.blob
    embedding = document.embedding
    return (
        document.id,
        None if embedding is None else vector_value(embedding, vector_type),
        document.content,
        None if blob is None else blob.data,
        None if blob is None else Jsonb(blob.meta, dumps=_dumps),
        None if blob is None else blob.mime_type,
        Jsonb(document.meta, dumps=_dumps),
    )


def document(values: tuple[Any, ...], *, embedding: bool, score: bool) -> Document:
    """A Document from a row of `pgvector_sql.READ_COLUMNS`, then embedding and score if asked."""
    id_, content, meta, blob_data, blob_meta, mime_type = values[:6]
    rest = list(values[6:])
    vector = rest.pop(0) if embedding else None
    blob = None
    if blob_data is not None:
        blob = ByteStream(data=bytes(blob_data), meta=blob_meta or {}, mime_type=mime_type)
    return Document(
        id=id_,
        content=content,
        meta=meta or {},
        embedding=None if vector is None else _floats(vector),
        score=float(rest[0]) if score else None,
        blob=blob,
    )


def _floats(vector: Any) -> list[float]:
    if hasattr(vector, "to_list"):
        return [float(x) for x in vector.to_list()]
    return [float(x) for x in vector]
