"""DocumentWriter: writes with a duplicate policy and reports how many were written."""

from __future__ import annotations

import pytest

from ragrun import Document, sockets_of
from ragrun.components.document_stores.errors import DuplicateDocumentError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from ragrun.components.document_stores.types import DuplicatePolicy
from ragrun.components.writers.document_writer import DocumentWriter

DOCS = [Document(content="one"), Document(content="two")]


def test_sockets() -> None:
    sockets = sockets_of(DocumentWriter(InMemoryDocumentStore()))
    assert list(sockets.inputs) == ["documents", "policy"]
    assert list(sockets.outputs) == ["documents_written"]


def test_writes_and_counts() -> None:
    store = InMemoryDocumentStore()
    assert DocumentWriter(store).run(documents=DOCS) == {"documents_written": 2}
    assert store.count_documents() == 2


def test_default_policy_fails_on_duplicates() -> None:
    store = InMemoryDocumentStore()
    writer = DocumentWriter(store)
    writer.run(documents=DOCS)
    with pytest.raises(DuplicateDocumentError, match="policy 'skip'"):
        writer.run(documents=DOCS[:1])


@pytest.mark.parametrize(
    ("policy", "written"),
    [
        pytest.param("skip", 1, id="skip"),
        pytest.param("overwrite", 2, id="overwrite"),
        pytest.param("SKIP", 1, id="haystack-yaml-name"),
        pytest.param(DuplicatePolicy.OVERWRITE, 2, id="enum"),
    ],
)
def test_init_policy(policy: str | DuplicatePolicy, written: int) -> None:
    store = InMemoryDocumentStore()
    store.write_documents(DOCS[:1])
    writer = DocumentWriter(store, policy=policy)
    assert writer.run(documents=DOCS) == {"documents_written": written}
    assert store.count_documents() == 2


def test_run_policy_overrides_init_policy() -> None:
    store = InMemoryDocumentStore()
    writer = DocumentWriter(store, policy="fail")
    writer.run(documents=DOCS)
    assert writer.run(documents=DOCS, policy=DuplicatePolicy.SKIP) == {"documents_written": 0}


def test_haystack_duplicate_policy_enum_is_accepted() -> None:
    haystack_types = pytest.importorskip("haystack.document_stores.types")
    writer = DocumentWriter(InMemoryDocumentStore(), policy=haystack_types.DuplicatePolicy.SKIP)
    assert writer.policy is DuplicatePolicy.SKIP


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match="Did you mean 'overwrite'"):
        DocumentWriter(InMemoryDocumentStore(), policy="overwrit")


def test_document_store_must_be_a_store() -> None:
    with pytest.raises(TypeError, match="must be a document store"):
        DocumentWriter({"type": "InMemoryDocumentStore"})  # type: ignore[arg-type]
