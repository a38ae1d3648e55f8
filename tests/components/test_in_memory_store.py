"""InMemoryDocumentStore: the store contract, plus what only this store does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_contract import StoreContract, corpus, names

from ragrun import Document
from ragrun.components.document_stores import persistence, records
from ragrun.components.document_stores.errors import DocumentStoreError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from tests.at_once import errors_at_once


class TestInMemoryStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> InMemoryDocumentStore:
        return InMemoryDocumentStore(path=str(tmp_path / "docs.store"))

    def reopen(self, store: Any) -> InMemoryDocumentStore:
        # A copy of the file under another name (SQLite's online backup: the file and its
        # write-ahead log), so nothing is shared with `store` in memory.
        copy = Path(store.path).with_name(f"reopened-{os.urandom(4).hex()}.store")
        with closing(sqlite3.connect(store.path)) as source, closing(sqlite3.connect(copy)) as to:
            source.backup(to)
        return InMemoryDocumentStore(path=str(copy))


class TestInMemoryStoreContractWithoutFile(StoreContract):
    @pytest.fixture
    def store(self) -> InMemoryDocumentStore:
        return InMemoryDocumentStore(embedding_similarity_function="cosine")

    def reopen(self, store: Any) -> InMemoryDocumentStore:
        pytest.skip("a store without path keeps nothing")


def random_documents(count: int, dimension: int, seed: int = 0) -> list[Document]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    return [
        Document(content=f"doc {i}", meta={"i": i, "even": i % 2 == 0}, embedding=v.tolist())
        for i, v in enumerate(vectors)
    ]


@pytest.mark.parametrize("similarity", ["dot_product", "cosine"])
@pytest.mark.parametrize("filtered", [False, True])
def test_embedding_search_equals_brute_force(similarity: str, filtered: bool) -> None:
    docs = random_documents(500, 16)
    store = InMemoryDocumentStore(embedding_similarity_function=similarity)
    for start in range(0, 500, 37):  # many small writes make the matrix grow several times
        store.write_documents(docs[start : start + 37])
    query = np.random.default_rng(1).standard_normal(16).astype(np.float32)
    matrix = np.array([d.embedding for d in docs], dtype=np.float32)
    scores = matrix @ query
    if similarity == "cosine":
        scores = scores / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    if filtered:
        scores = np.where(np.arange(500) % 2 == 0, scores, -np.inf)
    expected = np.argsort(-scores, kind="stable")[:20].tolist()
    filters = {"field": "meta.even", "operator": "==", "value": True} if filtered else None
    found = store.embedding_retrieval(query.tolist(), filters=filters, top_k=20)
    assert [d.meta["i"] for d in found] == expected
    assert [d.score for d in found] == pytest.approx(scores[expected].tolist(), rel=1e-5)


def test_scale_score() -> None:
    cosine = InMemoryDocumentStore(embedding_similarity_function="cosine")
    dot = InMemoryDocumentStore()
    doc = Document(content="x", embedding=[3.0, 4.0])
    cosine.write_documents([doc])
    dot.write_documents([doc])
    assert cosine.embedding_retrieval([-3.0, -4.0], scale_score=True)[0].score == pytest.approx(0)
    assert dot.embedding_retrieval([3.0, 4.0], scale_score=True)[0].score == pytest.approx(
        1 / (1 + np.exp(-25 / 100))
    )
    assert doc.score is None  # the written document is not changed by searches


def test_deleting_keeps_rows_and_embeddings_aligned() -> None:
    store = InMemoryDocumentStore()
    docs = [Document(content=str(i), embedding=[float(i), 1.0]) for i in range(6)]
    store.write_documents(docs)
    store.delete_documents([docs[1].id, docs[4].id])
    kept = store.filter_documents()
    assert [d.content for d in kept] == ["0", "2", "3", "5"]
    assert [d.embedding for d in kept] == [[float(c), 1.0] for c in (0, 2, 3, 5)]
    top = store.embedding_retrieval([1.0, 0.0], top_k=1, return_embedding=True)[0]
    assert (top.content, top.embedding) == ("5", [5.0, 1.0])


def test_an_emptied_store_takes_another_embedding_size() -> None:
    store = InMemoryDocumentStore()
    store.write_documents([Document(content="x", embedding=[1.0, 2.0])])
    store.delete_all_documents()
    store.write_documents([Document(content="y", embedding=[1.0, 2.0, 3.0])])
    assert store.embedding_retrieval([0.0, 0.0, 1.0])[0].content == "y"


def test_embedding_size_mismatch_is_refused_and_nothing_written() -> None:
    store = InMemoryDocumentStore()
    store.write_documents([Document(content="x", embedding=[1.0, 2.0])])
    with pytest.raises(DocumentStoreError, match=r"size 3.*size 2"):
        store.write_documents([Document(content="y"), Document(content="z", embedding=[1, 2, 3])])
    assert store.count_documents() == 1
    with pytest.raises(DocumentStoreError, match="query embedding has size 3"):
        store.embedding_retrieval([1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "query",
    [[], [[1.0, 2.0]], ["a", "b"], [float("nan"), 1.0]],
    ids=["empty", "nested", "str", "nan"],
)
def test_bad_query_embeddings(query: Any) -> None:
    store = InMemoryDocumentStore()
    store.write_documents([Document(content="x", embedding=[1.0, 2.0])])
    with pytest.raises(ValueError, match="query_embedding"):
        store.embedding_retrieval(query)


def test_top_k() -> None:
    store = InMemoryDocumentStore()
    store.write_documents(corpus())
    assert store.embedding_retrieval([1.0, 0.0, 0.0, 0.0], top_k=0) == []
    assert len(store.bm25_retrieval("cat", top_k=1)) == 1
    with pytest.raises(ValueError, match="top_k"):
        store.embedding_retrieval([1.0, 0.0, 0.0, 0.0], top_k=-1)


def test_retrieval_on_an_empty_store() -> None:
    store = InMemoryDocumentStore()
    assert store.embedding_retrieval([1.0, 2.0]) == []
    assert store.bm25_retrieval("anything") == []


def test_bm25_refuses_an_empty_query() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        InMemoryDocumentStore().bm25_retrieval("")


@pytest.mark.parametrize("algorithm", ["BM25L", "BM25Okapi", "BM25Plus"])
def test_bm25_equals_haystack(algorithm: str) -> None:
    haystack = pytest.importorskip("haystack")
    from haystack.document_stores.in_memory import InMemoryDocumentStore as HaystackStore

    rng = np.random.default_rng(3)
    words = "the cat dog sat on mat fish runs red blue green big small a an".split()
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 15))) for _ in range(200)]
    ours = InMemoryDocumentStore(bm25_algorithm=algorithm)
    theirs = HaystackStore(bm25_algorithm=algorithm)
    ours.write_documents([Document(content=t, meta={"i": i}) for i, t in enumerate(texts)])
    theirs.write_documents(
        [haystack.Document(content=t, meta={"i": i}) for i, t in enumerate(texts)]
    )
    for query in ["cat sat", "red red fish", "the", "zebra"]:
        for scale in (False, True):
            a = ours.bm25_retrieval(query, top_k=15, scale_score=scale)
            b = theirs.bm25_retrieval(query, top_k=15, scale_score=scale)
            assert [d.meta["i"] for d in a] == [d.meta["i"] for d in b]
            assert [d.score for d in a] == pytest.approx([d.score for d in b])


def test_bm25_sees_writes_and_deletes() -> None:
    store = InMemoryDocumentStore()
    first = Document(content="apples and pears")
    store.write_documents([first])
    assert names_or_contents(store.bm25_retrieval("pears")) == ["apples and pears"]
    store.write_documents([Document(content="pears only")])
    assert len(store.bm25_retrieval("pears")) == 2
    store.delete_documents([first.id])
    assert names_or_contents(store.bm25_retrieval("pears")) == ["pears only"]


def names_or_contents(documents: list[Document]) -> list[str | None]:
    return [d.content for d in documents]


def test_okapi_keeps_documents_without_the_query_words() -> None:
    docs = [Document(content="alpha beta"), Document(content="gamma delta")]
    okapi, bm25l = InMemoryDocumentStore(bm25_algorithm="BM25Okapi"), InMemoryDocumentStore()
    okapi.write_documents(docs)
    bm25l.write_documents(docs)
    assert len(okapi.bm25_retrieval("alpha")) == 2
    assert len(bm25l.bm25_retrieval("alpha")) == 1


def test_the_file_is_created_on_first_write_and_shared_by_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    assert store.count_documents() == 0
    assert not path.exists()
    store.write_documents(corpus())
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600  # documents may be private, as before
    assert InMemoryDocumentStore(path=str(path)).count_documents() == 7
    store.close()  # the last connection folds the write-ahead log back into the file
    assert list(path.parent.iterdir()) == [path]
    assert store.count_documents() == 7  # a closed store reopens on next use


def test_a_failed_write_changes_neither_the_file_nor_the_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    store.write_documents(corpus()[:2])
    encode = records.encode
    calls = iter(range(100))

    def fail_on_the_third(document: Document) -> str:
        if next(calls) == 2:
            raise OSError("disk full")
        return encode(document)

    monkeypatch.setattr(records, "encode", fail_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        store.write_documents(corpus()[2:])
    monkeypatch.undo()
    assert store.count_documents() == 2
    assert count_in_another_process(path) == 2
    assert store.write_documents(corpus()[2:]) == 5  # nothing of the failed write was kept
    store.close()
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_commit_changes_neither_the_file_nor_the_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    store.write_documents(corpus()[:2])

    def io_error(self: Any) -> None:
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorname = "SQLITE_IOERR"  # as SQLite's own errors carry it
        raise error

    monkeypatch.setattr(persistence.Transaction, "finish", io_error)
    with pytest.raises(DocumentStoreError, match="cannot write the document store file"):
        store.write_documents(corpus()[2:])
    monkeypatch.undo()
    assert store.count_documents() == 2
    assert count_in_another_process(path) == 2


def count_in_another_process(path: Path) -> int:
    """The document count a fresh process reads from the file."""
    code = (
        "import sys\n"
        "from ragrun.components.document_stores.in_memory import InMemoryDocumentStore\n"
        "print(InMemoryDocumentStore(path=sys.argv[1]).count_documents())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_another_process_writing_the_file_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    store.write_documents(corpus()[:3])
    code = (
        "from ragrun import Document\n"
        "from ragrun.components.document_stores.in_memory import InMemoryDocumentStore\n"
        f"s = InMemoryDocumentStore(path={str(path)!r})\n"
        "s.write_documents([Document(content='from another process')])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert store.count_documents() == 4
    assert store.bm25_retrieval("process")[0].content == "from another process"


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    path.write_text("not a store")
    with pytest.raises(DocumentStoreError, match="cannot read the document store file"):
        InMemoryDocumentStore(path=str(path)).count_documents()


def test_stores_share_documents_by_index_only_when_shared() -> None:
    index = f"test-{uuid.uuid4()}"  # shared indexes live as long as the process
    first = InMemoryDocumentStore(index=index)
    first.write_documents(corpus())
    assert InMemoryDocumentStore(index=index).count_documents() == 7
    assert InMemoryDocumentStore(index=index, shared=False).count_documents() == 0
    assert InMemoryDocumentStore().count_documents() == 0


def test_concurrent_writes_from_threads(tmp_path: Path) -> None:
    store = InMemoryDocumentStore(path=str(tmp_path / "docs.store"))

    def write(worker: int) -> None:
        for i in range(10):
            doc = Document(content=f"w{worker} d{i}", embedding=[float(worker), float(i)])
            store.write_documents([doc])
            store.embedding_retrieval([1.0, 0.0], top_k=3)

    assert errors_at_once(write, threads=8) == []
    assert store.count_documents() == 80
    assert InMemoryDocumentStore(path=str(tmp_path / "docs.store")).count_documents() == 80


def test_to_dict_round_trip(tmp_path: Path) -> None:
    store = InMemoryDocumentStore(
        bm25_algorithm="BM25Plus", embedding_similarity_function="cosine", path="x.store"
    )
    data = store.to_dict()
    assert data["type"] == "InMemoryDocumentStore"
    assert data["init_parameters"]["path"] == "x.store"
    again = InMemoryDocumentStore.from_dict(data)
    assert again.to_dict() == data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embedding_similarity_function": "cosin"}, "Did you mean 'cosine'"),
        ({"bm25_algorithm": "BM25"}, "BM25Okapi, BM25L, BM25Plus"),
    ],
    ids=["similarity", "algorithm"],
)
def test_bad_init_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InMemoryDocumentStore(**kwargs)


def test_nothing_is_read_at_init(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    path.write_text("garbage")
    store = InMemoryDocumentStore(path=str(path))  # no error until first use
    assert repr(store) == f"InMemoryDocumentStore(path={str(path)!r})"


def test_filter_documents_without_embeddings_when_asked() -> None:
    store = InMemoryDocumentStore(return_embedding=False)
    store.write_documents(corpus())
    assert all(d.embedding is None for d in store.filter_documents())
    assert names(
        store.filter_documents({"field": "meta.year", "operator": "==", "value": 2019})
    ) == ["a"]


def test_filter_on_embedding_presence() -> None:
    store = InMemoryDocumentStore()
    store.write_documents(corpus())
    unembedded = {"field": "embedding", "operator": "==", "value": None}
    assert names(store.filter_documents(unembedded)) == ["g"]
    exact = {"field": "embedding", "operator": "==", "value": [0.0, 1.0, 0.0, 0.0]}
    assert names(store.filter_documents(exact)) == ["b"]
