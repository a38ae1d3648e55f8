"""Store files of the previous format (format 1, an `.npz` archive): what a crafted one can do
(raise DocumentStoreError, no more, and never inflate without bound), and how a real one, made
by the old writer, is migrated."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from legacy_store import v1_bytes, write_v1
from store_contract import corpus
from store_files import MOVE_IT_AWAY, store_copy

from ragrun import ByteStream, Document
from ragrun.components.document_stores.errors import DocumentStoreError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore

FIXTURE = Path(__file__).parent / "data" / "format-1.store"


def fixture_documents() -> list[Document]:
    """What tests/components/data/format-1.store holds: made by the format-1 writer from the
    contract's corpus plus a document with a blob, then `b` deleted."""
    extra = Document(
        content="with a blob",
        meta={"name": "h", "nested": {"x": [1, 2]}},
        blob=ByteStream(data=b"\x00\x01raw", mime_type="application/octet-stream"),
        embedding=[0.25, 0.25, 0.25, 0.25],
    )
    return [d for d in [*corpus(), extra] if d.meta["name"] != "b"]


def npz(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of raw members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def v1_members(documents: list[Document] | None = None) -> dict[str, bytes]:
    """The members of a format-1 file made by the format-1 writer."""
    with zipfile.ZipFile(io.BytesIO(v1_bytes(corpus() if documents is None else documents))) as z:
        return {name: z.read(name) for name in z.namelist()}


def with_member(name: str, data: bytes) -> Callable[[], bytes]:
    return lambda: npz({**v1_members(), name: data})


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A deflated documents member of 64 MiB of zeros (a few dozen KiB on disk)."""
    members = v1_members()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name != "documents.npy":
                archive.writestr(name, data)
        with archive.open("documents.npy", "w") as member:
            member.write(npy_header("|u1", (64 * 2**20,)))
            zeros = bytes(2**20)
            for _ in range(64):
                member.write(zeros)
    return buffer.getvalue()


NPZ_CASES = [
    pytest.param(zip_bomb, "would inflate to", id="zip-bomb"),
    pytest.param(
        with_member("documents.npy", npy(np.array([{"id": "x"}], dtype=object))),
        "object array", id="pickled-object-array",
    ),
    pytest.param(
        with_member("embeddings.npy", npy(np.zeros((7, 4), dtype=np.float64))),
        "float64 array", id="float64-embeddings",
    ),
    pytest.param(
        with_member(
            "embeddings.npy", npy(np.full((7, 4), np.nan, dtype=np.float32))
        ),
        "NaN or infinite", id="nan-embeddings",
    ),
    pytest.param(
        with_member("embeddings.npy", npy(np.zeros((3, 4), dtype=np.float32))),
        r"shape \(3, 4\) for 7 documents", id="misaligned-embeddings",
    ),
    pytest.param(
        with_member("has_embedding.npy", npy(np.ones(2, dtype=bool))),
        "2 has-embedding flags for 7", id="misaligned-flags",
    ),
    pytest.param(
        with_member("format.npy", npy(np.array([2], dtype=np.int64))), r"format \[2\]",
        id="format-2",
    ),
    pytest.param(
        with_member("documents.npy", npy(np.frombuffer(b"[{]", dtype=np.uint8))),
        "JSONDecodeError|unexpected character|Invalid", id="documents-not-json",
    ),
    pytest.param(
        with_member("documents.npy", npy(np.frombuffer(b'{"id": 1}', dtype=np.uint8))),
        "not a JSON list", id="documents-not-a-list",
    ),
    pytest.param(
        lambda: v1_bytes([corpus()[0], corpus()[0]]), "appears twice", id="duplicate-ids",
    ),
    pytest.param(
        with_member("documents.npy", npy(np.frombuffer(b'[{"id": ""}]', dtype=np.uint8))),
        "not a non-empty string", id="empty-id",
    ),
    pytest.param(
        lambda: npz({**v1_members(), "extra.npy": npy(np.zeros(1))}), r"members \[",
        id="extra-member",
    ),
    pytest.param(
        with_member("embeddings.npy", npy_header("<f4", (10**9, 4)) + bytes(112)),
        "larger than the member", id="shape-larger-than-member",
    ),
    pytest.param(lambda: b"PK\x03\x04" + b"\x00" * 100, "BadZipFile", id="not-a-zip"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "message"), NPZ_CASES)
def test_a_crafted_format_1_file_is_a_document_store_error(
    tmp_path: Path, make: Callable[[], bytes], message: str
) -> None:
    path = tmp_path / "docs.store"
    data = make()
    path.write_bytes(data)
    with pytest.raises(DocumentStoreError, match=message) as raised:
        InMemoryDocumentStore(path=str(path)).count_documents()
    assert str(path) in str(raised.value) and MOVE_IT_AWAY in str(raised.value)
    assert path.read_bytes() == data  # a refused file is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.store"]


def test_the_fixture_made_by_the_format_1_writer_is_migrated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "docs.store"
    path.write_bytes(FIXTURE.read_bytes())
    store = InMemoryDocumentStore(path=str(path))
    with caplog.at_level(logging.WARNING):
        found = store.filter_documents()
    expected = fixture_documents()
    assert [d.id for d in found] == [d.id for d in expected]
    for read, original in zip(found, expected, strict=True):
        assert (read.content, read.meta, read.blob) == (
            original.content,
            original.meta,
            original.blob,
        )
        assert read.embedding == (
            None if original.embedding is None else pytest.approx(original.embedding)
        )
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    backup = tmp_path / "docs.store.v1-backup"
    assert backup.read_bytes() == FIXTURE.read_bytes()
    assert "migrated to the current store format" in caplog.text and backup.name in caplog.text
    store.write_documents([Document(content="after the migration")])
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.store", "docs.store.v1-backup"]
    again = InMemoryDocumentStore(path=str(store_copy(path)))
    assert again.count_documents() == len(expected) + 1


def test_a_migrated_store_searches_as_the_old_one_did(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    words = "cat dog fish bird red blue green small big fast slow".split()
    documents = [
        Document(
            content=" ".join(rng.choice(words, size=6)),
            meta={"i": i, "even": i % 2 == 0},
            embedding=rng.standard_normal(16).astype(np.float32).tolist(),
        )
        for i in range(300)
    ]
    path = tmp_path / "docs.store"
    write_v1(path, documents)
    migrated = InMemoryDocumentStore(path=str(path), embedding_similarity_function="cosine")
    memory = InMemoryDocumentStore(embedding_similarity_function="cosine")
    memory.write_documents(documents)
    query = rng.standard_normal(16).tolist()
    even = {"field": "meta.even", "operator": "==", "value": True}
    for filters in (None, even):
        a = migrated.embedding_retrieval(query, filters=filters, top_k=20)
        b = memory.embedding_retrieval(query, filters=filters, top_k=20)
        assert [d.id for d in a] == [d.id for d in b]
        assert [d.score for d in a] == pytest.approx([d.score for d in b])
        assert [d.id for d in migrated.bm25_retrieval("red cat", filters=filters)] == [
            d.id for d in memory.bm25_retrieval("red cat", filters=filters)
        ]


def test_two_processes_migrating_one_file_at_once_agree(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    write_v1(path, [Document(content=f"doc {i}") for i in range(2000)])
    code = (
        "import sys\n"
        "from ragrun import Document\n"
        "from ragrun.components.document_stores.in_memory import InMemoryDocumentStore\n"
        "store = InMemoryDocumentStore(path=sys.argv[1])\n"
        "store.write_documents([Document(content=sys.argv[2])])\n"
        "print(store.count_documents())\n"
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), f"from writer {k}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    outputs = [writer.communicate(timeout=120) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    assert sorted(int(out) for out, _ in outputs)[-1] == 2002
    store = InMemoryDocumentStore(path=str(path))
    assert store.count_documents() == 2002
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.store", "docs.store.v1-backup"]
    assert (tmp_path / "docs.store.v1-backup").read_bytes().startswith(b"PK\x03\x04")
