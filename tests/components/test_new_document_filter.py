"""NewDocumentFilter: only unseen documents pass; an edited file's old chunks are removed."""

from __future__ import annotations

import pytest

from ragrun import Document
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from ragrun.components.writers.new_document_filter import NewDocumentFilter


def _doc(text: str, path: str) -> Document:
    return Document(content=text, meta={"file_path": path})


@pytest.fixture
def store() -> InMemoryDocumentStore:
    store = InMemoryDocumentStore(index="new-document-filter", shared=False)
    store.write_documents([_doc("a1", "a.md"), _doc("a2", "a.md"), _doc("b1", "b.md")])
    return store


def test_documents_already_stored_are_skipped(store: InMemoryDocumentStore) -> None:
    out = NewDocumentFilter(store).run([_doc("a1", "a.md"), _doc("a2", "a.md"), _doc("a3", "a.md")])
    assert [d.content for d in out["documents"]] == ["a3"]
    assert (out["skipped"], out["removed"]) == (2, 0)


def test_chunks_an_edited_file_no_longer_has_are_removed(store: InMemoryDocumentStore) -> None:
    out = NewDocumentFilter(store).run([_doc("a1", "a.md"), _doc("a2 edited", "a.md")])
    assert [d.content for d in out["documents"]] == ["a2 edited"]
    assert (out["skipped"], out["removed"]) == (1, 1)
    assert sorted(d.content for d in store.filter_documents()) == ["a1", "b1"]  # b.md untouched


def test_remove_stale_can_be_turned_off(store: InMemoryDocumentStore) -> None:
    out = NewDocumentFilter(store, remove_stale=False).run([_doc("a2 edited", "a.md")])
    assert out["removed"] == 0 and store.count_documents() == 3


def test_a_store_without_has_ids_is_refused() -> None:
    with pytest.raises(TypeError, match="has_ids"):
        NewDocumentFilter(object())  # type: ignore[arg-type]
