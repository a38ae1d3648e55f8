"""DocumentWriter: the end of an indexing pipeline, writing documents to a store."""

from __future__ import annotations

from typing import Any

from ragrun import Document, component

from ..document_stores.types import DocumentStore, DuplicatePolicy


@component
class DocumentWriter:
    """Write the documents it receives to a document store.

    Same name, init parameters and sockets as Haystack's DocumentWriter. Works with any store
    that has `write_documents(documents, policy)`.

    Args:
        document_store: the store to write to.
        policy: what to do with an id already stored: "none" (the store's default: fail),
            "skip", "overwrite" or "fail". Haystack's upper-case names ("NONE") load too.
    """

    def __init__(
        self, document_store: DocumentStore, policy: DuplicatePolicy | str = DuplicatePolicy.NONE
    ) -> None:
        if not callable(getattr(document_store, "write_documents", None)):
            raise TypeError(
                "DocumentWriter's document_store must be a document store (an object with "
                f"write_documents), not {type(document_store).__name__}"
            )
        self.document_store = document_store
        self.policy = DuplicatePolicy.parse(policy)

    def __repr__(self) -> str:
        store, policy = self.document_store, self.policy.value
        return f"DocumentWriter(document_store={store!r}, policy={policy!r})"

    @component.output_types(documents_written=int)
    def run(
        self, documents: list[Document], policy: DuplicatePolicy | None = None
    ) -> dict[str, Any]:
        """Write `documents`.

        Args:
            documents: the documents to write.
            policy: overrides the init `policy` for this run.

        Returns:
            `{"documents_written": int}`: how many the store wrote (skipped ones not counted).
        """
        chosen = self.policy if policy is None else DuplicatePolicy.parse(policy)
        written = self.document_store.write_documents(documents=documents, policy=chosen)
        return {"documents_written": written}
