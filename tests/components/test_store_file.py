"""The store file: what a crafted or damaged file can do (raise DocumentStoreError, nothing
else), what a write refuses, how a format-1 (`.npz`) file is migrated, and how a reader sees
another process's writes, deletes and replacements of the file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_contract import corpus, names
from store_files import MOVE_IT_AWAY, store_copy
from store_writer import writer

from ragrun import Document
from ragrun.components.document_stores import persistence
from ragrun.components.document_stores.errors import DocumentStoreError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore

CANNOT_READ = "cannot read the document store file"


def store_file(folder: Path, documents: list[Document] | None = None) -> Path:
    """A valid store file holding `documents` (the corpus by default), closed."""
    path = folder / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    store.write_documents(corpus() if documents is None else documents)
    store.close()
    return path


def altered(folder: Path, *statements: str, schema: bool = False) -> Path:
    """A valid store file changed by raw SQL (with `schema`, its schema text may change too)."""
    path = store_file(folder)
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        if schema:
            connection.execute("PRAGMA writable_schema = ON")
        for statement in statements:
            connection.execute(statement)
    return path


def nan_bytes(count: int = 4) -> str:
    return "x'" + np.full(count, np.nan, dtype="<f4").tobytes().hex() + "'"


SQLITE_CASES = [
    pytest.param(
        lambda f: altered(f, "PRAGMA user_version = 3"), "newer than this ragrun reads",
        id="newer-schema-version",
    ),
    pytest.param(
        lambda f: altered(f, "PRAGMA user_version = 1"), "schema version 1, not 2",
        id="older-schema-version",
    ),
    pytest.param(
        lambda f: altered(f, "PRAGMA application_id = 7"), "not a document store",
        id="other-application-id",
    ),
    pytest.param(
        lambda f: altered(
            f, "CREATE TRIGGER t AFTER INSERT ON documents BEGIN DELETE FROM state; END"
        ),
        r"unexpected objects: \['t'\]", id="trigger",
    ),
    pytest.param(
        lambda f: altered(f, "CREATE VIEW v AS SELECT * FROM documents"), "unexpected",
        id="view",
    ),
    pytest.param(
        lambda f: altered(f, "CREATE TABLE extra (x)"), "unexpected", id="extra-table",
    ),
    pytest.param(
        lambda f: altered(f, "DROP INDEX documents_by_change"),
        r"missing or unexpected objects: \['documents_by_change'\]", id="dropped-index",
    ),
    pytest.param(
        lambda f: altered(
            f,
            "UPDATE sqlite_master SET sql = replace(sql, 'body TEXT', 'body ANY') "
            "WHERE name = 'documents'",
            schema=True,
        ),
        "altered tables", id="altered-table",
    ),
    pytest.param(
        lambda f: altered(f, f"UPDATE documents SET embedding = {nan_bytes()} WHERE seq = 2"),
        "NaN or infinite", id="nan-embedding",
    ),
    pytest.param(
        lambda f: altered(
            f,
            "UPDATE documents SET embedding = x'"
            + np.array([np.inf, 0, 0, 0], "<f4").tobytes().hex() + "' WHERE seq = 1",
        ),
        "NaN or infinite", id="infinite-embedding",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET embedding = x'0000803f00' WHERE seq = 1"),
        "embedding of 5 bytes is not a list of float32", id="embedding-of-5-bytes",
    ),
    pytest.param(
        lambda f: altered(
            f, "UPDATE documents SET embedding = x'0000803f0000803f0000803f' WHERE seq = 1"
        ),
        "embeddings of 3 and 4 numbers: not one dimension", id="mixed-dimensions",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET embedding = x'' WHERE seq = 1"),
        "embedding of 0 bytes", id="empty-embedding",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET body = '{\"content\": ' WHERE seq = 1"),
        "not valid JSON", id="truncated-json",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET body = '[1, 2]' WHERE seq = 1"),
        "JSON list, not an object", id="json-array",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET body = '{\"content\": 5}' WHERE seq = 1"),
        "content is a int", id="content-not-text",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET body = '{\"meta\": [1]}' WHERE seq = 1"),
        "meta is a list", id="meta-not-an-object",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET body = '{\"score\": 1}' WHERE seq = 1"),
        r"unknown fields \['score'\]", id="unknown-field",
    ),
    pytest.param(
        lambda f: altered(
            f, "UPDATE documents SET body = '{\"blob\": {\"data\": \"abc\"}}' WHERE seq = 1"
        ),
        "blob is malformed", id="blob-not-base64",
    ),
    pytest.param(
        lambda f: altered(
            f, "UPDATE documents SET body = '{\"blob\": {\"data\": 5}}' WHERE seq = 1"
        ),
        "blob is malformed", id="blob-data-a-number",
    ),
    pytest.param(
        lambda f: altered(
            f, "UPDATE documents SET body = '{\"meta\": ' || replace(hex(zeroblob(50000)), "
            "'00', '[') WHERE seq = 1"
        ),
        "not valid JSON", id="json-nested-100000-deep",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET body = CAST(x'ff22' AS TEXT) WHERE seq = 1"),
        "decode", id="invalid-utf8",
    ),
    pytest.param(
        lambda f: altered(f, "UPDATE documents SET id = '' WHERE seq = 1"),
        "not a non-empty string", id="empty-id",
    ),
    pytest.param(
        lambda f: altered(f, "DELETE FROM state"), "state row is missing", id="no-state-row",
    ),
]  # fmt: skip


def damaged(transform: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = store_file(folder)
        path.write_bytes(transform(path.read_bytes()))
        return path

    return make


def garbage_pages(data: bytes) -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes()
    return data[:4096] + noise + data[4096 + 8192 :]


FILE_CASES = [
    pytest.param(damaged(lambda d: d[: len(d) // 2]), CANNOT_READ, id="truncated-half"),
    pytest.param(damaged(lambda d: d[:100]), CANNOT_READ, id="header-only"),
    pytest.param(damaged(garbage_pages), CANNOT_READ, id="garbage-pages"),
    pytest.param(
        damaged(lambda d: d[:16] + b"\xff" * 84 + d[100:]), CANNOT_READ, id="garbage-header",
    ),
    pytest.param(
        damaged(lambda d: b"not a store, just text\n"), "neither an SQLite database",
        id="text-file",
    ),
    pytest.param(
        damaged(lambda d: np.random.default_rng(1).bytes(10_000)), "neither an SQLite",
        id="random-bytes",
    ),
]  # fmt: skip


def other_database(folder: Path) -> Path:
    path = folder / "docs.store"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE notes (x)")
        connection.commit()
    return path


def a_directory(folder: Path) -> Path:
    path = folder / "docs.store"
    path.mkdir()
    return path


OTHER_CASES = [
    pytest.param(other_database, "not a document store", id="another-sqlite-database"),
    pytest.param(a_directory, "Is a directory", id="a-directory"),
]


@pytest.mark.parametrize(("make", "message"), SQLITE_CASES + FILE_CASES + OTHER_CASES)
def test_a_crafted_file_is_a_document_store_error(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    path = make(tmp_path)
    store = InMemoryDocumentStore(path=str(path))
    with pytest.raises(DocumentStoreError, match=message) as raised:
        store.count_documents()
    assert str(path) in str(raised.value)
    assert (
        MOVE_IT_AWAY in str(raised.value)
        or "upgrade ragrun" in str(raised.value)
        or ("permissions" in str(raised.value))
    )
    with pytest.raises(DocumentStoreError):  # writes are refused too, and change nothing
        store.write_documents([Document(content="new", embedding=[1.0, 0.0, 0.0, 0.0])])


def test_a_crafted_file_fails_the_cli_run_with_its_message(tmp_path: Path) -> None:
    path = altered(tmp_path, f"UPDATE documents SET embedding = {nan_bytes()} WHERE seq = 2")
    pipeline = tmp_path / "search.yaml"
    pipeline.write_text(
        "components:\n"
        "  search:\n"
        "    type: InMemoryBM25Retriever\n"
        "    init_parameters:\n"
        "      document_store:\n"
        f"        {{type: InMemoryDocumentStore, init_parameters: {{path: '{path}'}}}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "ragrun", str(pipeline), "-i", "query=cat"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "NaN or infinite" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_an_empty_file_is_an_empty_store(tmp_path: Path) -> None:
    # What a writer killed between creating the file and its first commit leaves.
    path = tmp_path / "docs.store"
    path.write_bytes(b"")
    store = InMemoryDocumentStore(path=str(path))
    assert store.count_documents() == 0
    store.write_documents(corpus())
    store.close()
    assert InMemoryDocumentStore(path=str(store_copy(path))).count_documents() == 7


def test_a_bad_row_written_by_another_process_is_refused_when_read(tmp_path: Path) -> None:
    path = store_file(tmp_path)
    reader = InMemoryDocumentStore(path=str(path))
    assert reader.count_documents() == 7
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute(
            "INSERT INTO documents (id, body, embedding, change) "
            f"VALUES ('bad', '{{}}', {nan_bytes()}, 99)"
        )
        connection.execute("UPDATE state SET change = 99")
    with pytest.raises(DocumentStoreError, match="NaN or infinite"):
        reader.count_documents()
    with pytest.raises(DocumentStoreError, match="NaN or infinite"):  # and stays refused
        reader.filter_documents()


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        pytest.param([1.0, float("nan"), 0.0, 0.0], "finite numbers", id="nan"),
        pytest.param([1.0, float("inf"), 0.0, 0.0], "finite numbers", id="infinite"),
        pytest.param([1.0, 0.0, 0.0], "size 3", id="wrong-dimension"),
        pytest.param([[1.0, 0.0], [0.0, 1.0]], "size 2", id="nested"),
        pytest.param(["a", "b", "c", "d"], "not a list of numbers", id="strings"),
        pytest.param(7, "embedding is a int", id="a-number"),
    ],
)
def test_bad_embeddings_are_refused_on_write(tmp_path: Path, embedding: Any, message: str) -> None:
    path = store_file(tmp_path)
    store = InMemoryDocumentStore(path=str(path))
    good = Document(content="fine", embedding=[0.0, 0.0, 0.0, 1.0])
    with pytest.raises(DocumentStoreError, match=message):
        store.write_documents([good, Document(content="bad", embedding=embedding)])
    assert store.count_documents() == 7
    store.close()
    assert InMemoryDocumentStore(path=str(store_copy(path))).count_documents() == 7


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(Document(id=5, content="x"), id="int-id"),  # type: ignore[arg-type]
        pytest.param(Document(id="x", content=5), id="int-content"),  # type: ignore[arg-type]
    ],
)
def test_documents_a_file_could_not_give_back_are_refused_on_write(
    tmp_path: Path, document: Document
) -> None:
    store = InMemoryDocumentStore(path=str(tmp_path / "docs.store"))
    with pytest.raises(DocumentStoreError, match="must be"):
        store.write_documents([document])
    assert store.count_documents() == 0


def test_a_repeated_id_is_refused_on_write(tmp_path: Path) -> None:
    store = InMemoryDocumentStore(path=str(tmp_path / "docs.store"))
    twice = Document(content="twice")
    with pytest.raises(DocumentStoreError, match="appears twice"):
        store.write_documents([twice, Document(content="other"), twice])
    assert store.count_documents() == 0


# What a reader sees of another process's changes.


def in_another_process(path: Path, code: str) -> None:
    """Run `code` with `store` open on `path`, in a fresh interpreter."""
    prelude = (
        "import sys\n"
        "from ragrun import Document\n"
        "from ragrun.components.document_stores.in_memory import InMemoryDocumentStore\n"
        "store = InMemoryDocumentStore(path=sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", prelude + code, str(path)], check=True, timeout=120)


def test_another_process_s_deletes_overwrites_and_clears_are_seen(tmp_path: Path) -> None:
    path = store_file(tmp_path)
    reader = InMemoryDocumentStore(path=str(path))
    assert names(reader.filter_documents()) == ["a", "b", "c", "d", "e", "f", "g"]
    a, b = corpus()[:2]
    in_another_process(path, f"store.delete_documents([{b.id!r}])\n")
    assert names(reader.filter_documents()) == ["a", "c", "d", "e", "f", "g"]
    in_another_process(
        path,
        f"store.write_documents([Document(id={a.id!r}, content='changed', meta={{'name': 'a2'}},"
        " embedding=[0.0, 0.0, 0.0, 2.0])], policy='overwrite')\n",
    )
    assert names(reader.filter_documents()) == ["a2", "c", "d", "e", "f", "g"]  # in place
    top = reader.embedding_retrieval([0.0, 0.0, 0.0, 1.0], top_k=1)[0]
    assert (top.content, top.score) == ("changed", pytest.approx(2.0))
    in_another_process(path, "store.write_documents([Document(content='re-added b')])\n")
    in_another_process(path, f"store.write_documents([Document(id={b.id!r}, content='b again')])\n")
    assert reader.filter_documents()[-1].content == "b again"  # deleted, then new: at the end
    in_another_process(
        path, "store.delete_all_documents()\nstore.write_documents([Document(content='only')])\n"
    )
    assert [d.content for d in reader.filter_documents()] == ["only"]
    assert [d.content for d in reader.bm25_retrieval("only")] == ["only"]


def test_a_deleted_or_replaced_file_is_seen(tmp_path: Path) -> None:
    path = store_file(tmp_path)
    reader = InMemoryDocumentStore(path=str(path))
    assert reader.count_documents() == 7
    other = store_file(tmp_path / "other", [Document(content="from another file")])
    os.replace(other, path)
    assert [d.content for d in reader.filter_documents()] == ["from another file"]
    path.unlink()
    assert reader.count_documents() == 0
    reader.write_documents([Document(content="a new file")])
    reader.close()
    assert InMemoryDocumentStore(path=str(store_copy(path))).count_documents() == 1


def test_a_store_without_path_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = InMemoryDocumentStore()
    store.write_documents(corpus())
    store.close()
    assert store.count_documents() == 7
    assert list(tmp_path.iterdir()) == []


def test_old_deletions_are_forgotten_and_old_readers_read_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence, "MAX_DELETIONS", 20)
    monkeypatch.setattr(persistence, "KEPT_DELETIONS", 5)
    path = store_file(tmp_path, [Document(content=f"doc {i}") for i in range(60)])
    with writer(path) as old_reader:  # another process, its copy at the first change
        old_reader.send("count")
        old_reader.expect("count 60")
        store = InMemoryDocumentStore(path=str(path))
        documents = store.filter_documents()
        for start in range(0, 50, 2):  # 25 changes deleting 2 documents each
            store.delete_documents([d.id for d in documents[start : start + 2]])
        with closing(sqlite3.connect(path)) as connection:
            (kept,) = connection.execute("SELECT count(*) FROM deletions").fetchone()
            change, floor = connection.execute("SELECT change, floor FROM state").fetchone()
        assert (kept <= 20, change) == (True, 26)
        assert floor > 1  # the first deletions were forgotten
        old_reader.send("count")
        assert old_reader.expect("count") == "count 10"  # it read the whole file again
        old_reader.quit()
    assert [d.content for d in store.filter_documents()] == [f"doc {i}" for i in range(50, 60)]
