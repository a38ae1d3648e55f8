"""NewDocumentFilter: drop documents a store already holds, so re-indexing embeds only changes.

A document's id is a hash of its content and meta, so an unchanged chunk of an unchanged file
has the same id on every run. Placed before the embedder, this component passes on only the
documents whose id the store does not have, and the embedder (the expensive step) sees nothing
it has seen before. A file that changed yields chunks with new ids; the chunks its old version
left in the store are removed (`remove_stale`), so the store never answers from stale text.
"""

from __future__ import annotations

from typing import Any

from ragrun import Document, component

from ..document_stores.types import DocumentStore


@component
class NewDocumentFilter:
    """Pass on only the documents whose id is not in `document_store` yet.

    ragrun's own component (Haystack has none): the step that makes `pipelines/index.yaml`
    incremental. Works with any store that has `has_ids(ids) -> set`, `filter_documents` and
    `delete_documents` (the in-memory and pgvector stores).

    Args:
        document_store: the store the pipeline writes to.
        remove_stale: delete stored documents that came from the same files (`source_field`)
            as this run's documents but are not among them: the chunks of an older version.
        source_field: the meta field that names a document's file.

    Example:
        ```yaml
        new_only:
          type: NewDocumentFilter
          init_parameters:
            document_store: {type: InMemoryDocumentStore, init_parameters: {path: docs.store}}
        ```
    """

    def __init__(
        self,
        document_store: DocumentStore,
        remove_stale: bool = True,
        source_field: str = "file_path",
    ) -> None:
        if not callable(getattr(document_store, "has_ids", None)):
            raise TypeError(
                "NewDocumentFilter's document_store must be a document store with has_ids(), "
                f"not {type(document_store).__name__}"
            )
        self.document_store = document_store
        self.remove_stale = remove_stale
        self.source_field = source_field

    @component.output_types(documents=list[Document], skipped=int, removed=int)
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Split `documents` into new ones (passed on) and ones already stored (counted).

        Returns:
            `documents`: those not in the store; `skipped`: how many were already there;
            `removed`: how many stale documents of the same files were deleted.
        """
        ids = [d.id for d in documents]
        known = self.document_store.has_ids(ids)
        fresh = [d for d in documents if d.id not in known]
        removed = self._remove_stale(documents, set(ids)) if self.remove_stale else 0
        return {"documents": fresh, "skipped": len(documents) - len(fresh), "removed": removed}

    def _remove_stale(self, documents: list[Document], current: set[str]) -> int:
        sources = sorted(
            {d.meta[self.source_field] for d in documents if self.source_field in d.meta}
        )
        if not sources:
            return 0
        field = f"meta.{self.source_field}"
        stored = self.document_store.filter_documents(
            {"field": field, "operator": "in", "value": sources}
        )
        stale = [d.id for d in stored if d.id not in current]
        if stale:
            self.document_store.delete_documents(stale)
        return len(stale)
