"""`Document` and `ByteStream`: the values that flow through indexing and retrieval pipelines.

Both are plain dataclasses (cheap to create, passed by reference, never copied by the engine)
that pydantic validates from JSON dicts, so `{"documents": [{"content": "..."}]}` given on the
command line arrives at a component as `list[Document]`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from pydantic_core import core_schema


def _from_dict_schema(cls: type) -> core_schema.CoreSchema:
    """Pydantic schema: accept an instance as is, or build one from a dict with `from_dict`."""

    def coerce(value: Any) -> Any:
        return cls.from_dict(value) if isinstance(value, dict) else value  # type: ignore[attr-defined]

    return core_schema.no_info_before_validator_function(
        coerce,
        core_schema.is_instance_schema(cls),
        serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.to_dict()),
    )


@dataclass
class Document:
    """A piece of text (or data) with metadata, an optional embedding and a retrieval score.

    `id` defaults to a SHA-256 of the content and meta, so the same text from the same file gets
    the same id on every run; stores use that to skip what is already indexed.
    """

    content: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    embedding: list[float] | None = None
    score: float | None = None
    blob: ByteStream | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = self.content_hash()

    def content_hash(self) -> str:
        """SHA-256 of content, meta and blob: the default id."""
        digest = hashlib.sha256()
        digest.update((self.content or "").encode())
        digest.update(orjson.dumps(self.meta, option=orjson.OPT_SORT_KEYS, default=str))
        if self.blob is not None:
            digest.update(self.blob.data)
        return digest.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; fields that are None are left out."""
        out: dict[str, Any] = {"id": self.id, "content": self.content, "meta": self.meta}
        if self.embedding is not None:
            out["embedding"] = [float(x) for x in self.embedding]
        if self.score is not None:
            out["score"] = self.score
        if self.blob is not None:
            out["blob"] = self.blob.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """Build from `to_dict()` output or Haystack's form (unknown keys go into meta)."""
        data = dict(data)
        known = {
            k: data.pop(k) for k in ("id", "content", "meta", "embedding", "score") if k in data
        }
        blob = data.pop("blob", None)
        data.pop("sparse_embedding", None)
        meta = {**(known.pop("meta", None) or {}), **data}
        embedding = known.pop("embedding", None)
        return cls(
            meta=meta,
            embedding=list(embedding) if embedding is not None else None,
            blob=ByteStream.from_dict(blob) if isinstance(blob, dict) else blob,
            id=known.pop("id", None) or "",
            **known,
        )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return _from_dict_schema(cls)

    def __repr__(self) -> str:
        text = (self.content or "")[:60]
        extra = f", score={self.score:.3f}" if self.score is not None else ""
        return f"Document(id={self.id[:12]}…, content={text!r}{extra})"


@dataclass
class ByteStream:
    """Raw bytes with a mime type and metadata (a fetched page, a file's content)."""

    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    mime_type: str | None = None

    def to_string(self, encoding: str = "utf-8") -> str:
        """The bytes decoded as text."""
        return self.data.decode(encoding, errors="replace")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the bytes as base64."""
        out = asdict(self)
        out["data"] = base64.b64encode(self.data).decode()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ByteStream:
        """Inverse of `to_dict`; a `text` key is taken as UTF-8 data."""
        raw = data.get("data")
        payload = base64.b64decode(raw) if isinstance(raw, str) else (raw or b"")
        if "text" in data:
            payload = str(data["text"]).encode()
        return cls(data=payload, meta=dict(data.get("meta") or {}), mime_type=data.get("mime_type"))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return _from_dict_schema(cls)
