"""The store file format 1 (an `.npz` archive), written as ragrun up to issue 9 wrote it.

Kept in the tests so migration is tested against files made by the old writer's own logic (a
copy of its `save`, minus the atomic rename), not against a hand-made imitation of them.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from ragrun import Document


def v1_bytes(documents: list[Document]) -> bytes:
    """A format-1 file's bytes, as `write_v1` writes them."""
    buffer = io.BytesIO()
    write_v1(buffer, documents)
    return buffer.getvalue()


def write_v1(target: Path | IO[bytes], documents: list[Document]) -> None:
    """Write `documents` (embeddings all one size, or none) as the old InMemoryDocumentStore did."""
    stored = [Document(id=d.id, content=d.content, meta=d.meta, blob=d.blob) for d in documents]
    payload = orjson.dumps(
        [doc.to_dict() for doc in stored],
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        default=str,
    )
    has = np.array([d.embedding is not None for d in documents], dtype=bool)
    dimension = next((len(d.embedding) for d in documents if d.embedding is not None), 0)
    matrix = np.zeros((len(documents), dimension), dtype=np.float32)
    for row, doc in enumerate(documents):
        if doc.embedding is not None:
            matrix[row] = doc.embedding
    if not has.any():
        matrix = np.zeros((len(documents), 0), np.float32)
    arrays = {
        "format": np.array([1], dtype=np.int64),
        "documents": np.frombuffer(payload, dtype=np.uint8),
        "embeddings": np.ascontiguousarray(matrix, dtype=np.float32),
        "has_embedding": has,
    }
    if isinstance(target, Path):
        with target.open("wb") as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]
    else:
        np.savez(target, **arrays)  # type: ignore[arg-type]
