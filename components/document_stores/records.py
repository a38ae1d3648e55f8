"""Documents to and from the store file's rows: JSON for the document, float32 bytes for its vector.

A row holds the id, the document without its embedding and score as UTF-8 JSON (`content`,
`meta`, and `blob` when there is one), and the embedding as little-endian float32 bytes.
Nothing is pickled, so reading a crafted file can at worst fail. Decoding checks the shape of
everything it reads and raises `ValueError` saying what is wrong with which row; the store file
adds its path and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from ragrun import ByteStream, Document

FLOAT32 = np.dtype("<f4")
_BODY_KEYS = frozenset({"content", "meta", "blob"})


def encode(document: Document) -> str:
    """The JSON body of a row: content, meta and blob (the id and embedding have their columns)."""
    body: dict[str, Any] = {"content": document.content, "meta": document.meta}
    if document.blob is not None:
        body["blob"] = document.blob.to_dict()
    return orjson.dumps(
        body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()


def vector_bytes(vector: np.ndarray) -> bytes:
    """A float32 vector as the bytes of its column."""
    return np.ascontiguousarray(vector, dtype=FLOAT32).tobytes()


def decode(document_id: Any, body: Any) -> Document:
    """A stored document (without embedding) from its row.

    Raises:
        ValueError: the id is not a non-empty string, or the body is not the JSON `encode` writes.
    """
    if not isinstance(document_id, str) or not document_id:
        raise ValueError(f"a row's id is {document_id!r}, not a non-empty string")
    try:
        data = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"document {document_id[:40]!r} is not valid JSON ({exc})") from exc
    return from_body(document_id, data)


def from_body(document_id: str, data: Any) -> Document:
    """A Document from the decoded JSON body, after checking each field's type.

    Raises:
        ValueError: the body is not an object of `content`, `meta` and `blob` of their types.
    """
    if type(data) is dict and data.keys() <= _BODY_KEYS:  # the usual case, checked cheaply
        content, meta, blob = data.get("content"), data.get("meta", {}), data.get("blob")
        if (content is None or type(content) is str) and type(meta) is dict and blob is None:
            return Document(id=document_id, content=content, meta=meta)
    return _checked(document_id, data)


def _checked(document_id: str, data: Any) -> Document:
    """`from_body` for a body with a blob, or a wrong one (which it names)."""
    where = f"document {document_id[:40]!r}"
    if not isinstance(data, dict):
        raise ValueError(f"{where} is a JSON {type(data).__name__}, not an object")
    if not data.keys() <= _BODY_KEYS:
        raise ValueError(f"{where} has unknown fields {sorted(data.keys() - _BODY_KEYS)}")
    content, meta, blob = data.get("content"), data.get("meta", {}), data.get("blob")
    if content is not None and not isinstance(content, str):
        raise ValueError(f"{where}: content is a {type(content).__name__}, not text")
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: meta is a {type(meta).__name__}, not an object")
    stream = None
    if blob is not None:
        if not isinstance(blob, dict):
            raise ValueError(f"{where}: blob is a {type(blob).__name__}, not an object")
        try:
            stream = ByteStream.from_dict(blob)
        except (TypeError, ValueError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"{where}: blob is malformed ({exc})") from exc
        if not isinstance(stream.data, bytes) or not isinstance(stream.mime_type, str | None):
            raise ValueError(f"{where}: blob is malformed (data or mime_type of the wrong type)")
    return Document(id=document_id, content=content, meta=meta, blob=stream)


def vectors(blobs: Sequence[Any], dimension: int | None) -> tuple[np.ndarray | None, np.ndarray]:
    """Rows of float32 from embedding columns (None where a row has none), and the has-mask.

    `dimension` is the store's (None when not known yet): every vector must have it.

    Raises:
        ValueError: a column is not bytes, its size is not a whole number of float32 values,
            sizes differ, or a value is NaN or infinite.
    """
    has = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
    present = [b for b in blobs if b is not None]
    if not present:
        return None, has
    if not all(isinstance(b, bytes) for b in present):
        raise ValueError("an embedding column holds something other than bytes")
    sizes = {len(b) for b in present}
    odd = sorted(size for size in sizes if size == 0 or size % FLOAT32.itemsize)
    if odd:
        raise ValueError(f"an embedding of {odd[0]} bytes is not a list of float32 numbers")
    if dimension is not None:
        sizes.add(dimension * FLOAT32.itemsize)
    if len(sizes) > 1:
        numbers = " and ".join(str(size // FLOAT32.itemsize) for size in sorted(sizes))
        raise ValueError(f"embeddings of {numbers} numbers: not one dimension")
    matrix = np.frombuffer(b"".join(present), dtype=FLOAT32).reshape(len(present), -1)
    if not np.isfinite(matrix).all():
        raise ValueError("an embedding holds NaN or infinite values")
    return matrix.astype(np.float32, copy=False), has
