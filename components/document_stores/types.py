"""The vocabulary every document store shares: duplicate policies and the store protocol."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ragrun import Document
from ragrun.suggest import did_you_mean


class DuplicatePolicy(StrEnum):
    """What `write_documents` does with a document whose id is already stored.

    `none` lets the store decide; every ragrun store then fails, as Haystack's do.
    """

    NONE = "none"
    SKIP = "skip"
    OVERWRITE = "overwrite"
    FAIL = "fail"

    @classmethod
    def parse(cls, value: Any) -> DuplicatePolicy:
        """Read a policy from this enum, Haystack's enum, or a name in any case (`"NONE"`).

        Raises:
            ValueError: the value names no policy (with a "did you mean").
        """
        if isinstance(value, cls):
            return value
        raw = getattr(value, "value", value)  # Haystack's DuplicatePolicy has the same values
        names = [p.value for p in cls]
        if isinstance(raw, str) and raw.lower() in names:
            return cls(raw.lower())
        raise ValueError(
            f"policy must be one of {', '.join(names)}, not {value!r}."
            + did_you_mean(str(raw).lower(), names)
        )


@runtime_checkable
class DocumentStore(Protocol):
    """What DocumentWriter and incremental indexing need from a store."""

    def count_documents(self) -> int:
        """How many documents the store holds."""
        ...

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching `filters` (all without filters)."""
        ...

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        """Write documents; return how many were written."""
        ...

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (unknown ids are ignored)."""
        ...
