"""Several writers on one store file: real `ragrun` processes, threads, duplicate policies across
processes, and writers killed with SIGKILL in the middle of a write (or of a migration).

Writers in other processes are `tests/components/store_writer.py`, driven through pipes: the
tests know where a writer is from what it printed, never from how long they waited.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from legacy_store import write_v1
from store_writer import writer

from ragrun import Document
from ragrun.components.document_stores import sqlite_schema
from ragrun.components.document_stores.errors import DocumentStoreError, DuplicateDocumentError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from tests.at_once import errors_at_once

TIMEOUT = 120  # seconds: only catches a hang

WRITE_PIPELINE = """\
inputs:
  documents:
    sockets: [writer.documents]
outputs:
  written: writer.documents_written
components:
  writer:
    type: DocumentWriter
    init_parameters:
      document_store:
        type: InMemoryDocumentStore
        init_parameters: {path: "${STORE}"}
      policy: fail
"""


def tags_in(path: Path) -> dict[str, int]:
    """How many documents of each tag the file holds, read with sqlite3 alone."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        (check,) = connection.execute("PRAGMA integrity_check").fetchone()
        assert check == "ok"
        counts: dict[str, int] = {}
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        if "documents" not in tables:  # killed before the file's first commit
            return counts
        for (body,) in connection.execute("SELECT body FROM documents"):
            tag = orjson.loads(body)["meta"]["tag"]
            counts[tag] = counts.get(tag, 0) + 1
    return counts


def test_two_batch_jobs_writing_one_store_keep_all_documents(tmp_path: Path) -> None:
    pipeline = tmp_path / "write.yaml"
    pipeline.write_text(WRITE_PIPELINE, encoding="utf-8")
    store = tmp_path / "docs.store"
    for job in "AB":
        lines = [
            json.dumps({"documents": [{"content": f"job {job} #{i}", "meta": {"job": job}}]})
            for i in range(100)
        ]
        (tmp_path / f"{job}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "STORE": str(store)}
    command = [sys.executable, "-m", "ragrun", str(pipeline), "--concurrency", "4", "--inputs"]
    jobs = [
        subprocess.Popen(
            [*command, str(tmp_path / f"{job}.jsonl")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for job in "AB"
    ]
    summaries = [job.communicate(timeout=TIMEOUT)[1] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], summaries
    assert all("100 ok, 0 failed" in summary for summary in summaries), summaries
    reader = InMemoryDocumentStore(path=str(store))
    documents = reader.filter_documents()
    reader.close()
    assert len(documents) == 200
    assert sorted(d.meta["job"] for d in documents) == ["A"] * 100 + ["B"] * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "A.jsonl", "B.jsonl", "docs.store", "write.yaml",
    ]  # fmt: skip


def test_threads_and_another_process_writing_at_once(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    with writer(path) as other:
        other.send("loop other 20 4")  # writes batches of 20 until told otherwise
        other.expect("start other-0")

        def write(worker: int) -> None:
            for i in range(10):
                doc = Document(content=f"w{worker} d{i}", meta={"tag": f"thread-{worker}"},
                               embedding=[float(worker), float(i), 1.0, 0.0])  # fmt: skip
                store.write_documents([doc])
                store.embedding_retrieval([1.0, 0.0, 0.0, 0.0], top_k=3)

        assert errors_at_once(write, threads=6) == []
        other.expect("wrote other-0 20")  # its first batch committed (maybe after the threads)
        other.kill()
    counts = tags_in(path)
    assert {t: n for t, n in counts.items() if t.startswith("thread-")} == {
        f"thread-{k}": 10 for k in range(6)
    }
    batches = {t: n for t, n in counts.items() if t.startswith("other-")}
    assert batches and set(batches.values()) == {20}  # each batch whole, the killed one absent
    assert store.count_documents() == sum(counts.values())


@pytest.mark.parametrize(
    ("policy", "answer", "content"),
    [
        pytest.param("fail", "error x DuplicateDocumentError", "from the test", id="fail"),
        pytest.param("skip", "wrote x 0", "from the test", id="skip"),
        pytest.param("overwrite", "wrote x 1", "x document 0", id="overwrite"),
    ],
)
def test_duplicate_policies_see_what_another_process_committed(
    tmp_path: Path, policy: str, answer: str, content: str
) -> None:
    path = tmp_path / "docs.store"
    ours = InMemoryDocumentStore(path=str(path))
    ours.write_documents([Document(content="seed", meta={"tag": "seed"})])
    with writer(path) as other:
        other.send("count")
        assert other.expect("count") == "count 1"  # the other process has read the store
        same = Document(content="x document 0", meta={"tag": "x", "i": 0})
        ours.write_documents([Document(id=same.id, content="from the test", meta={"tag": "x"})])
        other.send(f"write x 1 0 {policy}")  # the same id, from a copy that had not seen ours
        other.expect("start x")
        assert other.expect("") == answer
        other.quit()
    assert [d.content for d in ours.filter_documents()] == ["seed", content]


def test_a_killed_writer_releases_the_lock_for_a_waiting_one(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    first = Document(content="first", meta={"tag": "first"})
    InMemoryDocumentStore(path=str(path)).write_documents([first])
    with writer(path, pause="before-commit") as holder, writer(path) as waiter:
        holder.send("write held 50 4")
        holder.expect("start held")
        holder.expect("paused before-commit")  # rows written, the write lock held
        waiter.send("write after 50 4")
        waiter.expect("start after")
        holder.kill()
        assert waiter.expect("wrote") == "wrote after 50"
        waiter.quit()
    assert tags_in(path) == {"first": 1, "after": 50}
    assert InMemoryDocumentStore(path=str(path)).count_documents() == 51


def test_a_writer_waits_for_the_lock_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "docs.store"
    store = InMemoryDocumentStore(path=str(path))
    store.write_documents([Document(content="first", meta={"tag": "first"})])
    store.close()  # the timeout is read when the connection opens
    monkeypatch.setattr(sqlite_schema, "BUSY_TIMEOUT_SECONDS", 0.2)
    with writer(path, pause="before-commit") as holder:
        holder.send("write held 5 0")
        holder.expect("start held")
        holder.expect("paused before-commit")  # holds the write lock until killed
        with pytest.raises(DocumentStoreError, match="held the store's write lock for more"):
            store.write_documents([Document(content="second", meta={"tag": "second"})])
        assert store.count_documents() == 1  # reads are not blocked by a writer
        holder.kill()
    assert store.write_documents([Document(content="second", meta={"tag": "second"})]) == 1
    assert tags_in(path) == {"first": 1, "second": 1}


KILLS = [
    *["before-rows", "before-commit"] * 3,  # paused at a known point inside the transaction
    *["at-commit"] * 4,  # the kill races the commit (it may land before, in or after it)
    *["loop"] * 8,  # wherever the kill lands in a writer writing batch after batch
]


def kill_somewhere(path: Path, round_: int, where: str, committed: set[str]) -> None:
    """Start a writer, let it reach `where` in a write, and SIGKILL it there."""
    pause = where if where in ("before-rows", "before-commit") else None
    mark = "before-commit" if where == "at-commit" else None
    with writer(path, pause=pause, mark=mark) as victim:
        if where == "loop":
            victim.send(f"loop r{round_} 500 64")
            for k in range(round_ % 3 + 1):  # let some batches commit first
                victim.expect(f"start r{round_}-{k}")
                victim.expect(f"wrote r{round_}-{k} 500")
                committed.add(f"r{round_}-{k}")
            victim.expect("start")  # a write has begun: kill it somewhere in there
        else:
            victim.send(f"write r{round_} 500 64")
            victim.expect("start")
            victim.expect("at before-commit" if mark else f"paused {where}")
        victim.kill()


def test_kill_9_during_writes_leaves_every_batch_whole_or_absent(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    reader = InMemoryDocumentStore(path=str(path))  # stays open across the kills
    committed: set[str] = set()
    for round_, where in enumerate(KILLS):
        kill_somewhere(path, round_, where, committed)
        counts = tags_in(path)
        assert set(counts.values()) <= {500}, counts  # no batch in part
        assert committed <= set(counts), "a committed batch was lost"
        if where in ("before-rows", "before-commit"):
            assert f"r{round_}" not in counts  # killed before its commit: absent
        assert reader.count_documents() == sum(counts.values())
        leftovers = {p.name for p in tmp_path.iterdir()} - {"docs.store"}
        assert leftovers <= {"docs.store-wal", "docs.store-shm"}, leftovers
    found = reader.embedding_retrieval([1.0] * 64, top_k=5)
    assert len(found) == 5
    reader.close()
    assert [p.name for p in tmp_path.iterdir()] == ["docs.store"]


def test_kill_9_during_a_migration_leaves_the_old_file_and_no_half_built_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "docs.store"
    write_v1(path, [Document(content=f"old {i}", meta={"tag": "old"}) for i in range(300)])
    original = path.read_bytes()
    for _ in range(2):
        with writer(path, pause="migration-before-swap") as victim:
            victim.send("count")  # the first read migrates
            victim.expect("paused migration-before-swap")
            victim.kill()
        assert path.read_bytes() == original  # still the old file, intact
    store = InMemoryDocumentStore(path=str(path))
    assert store.count_documents() == 300  # migrated now, the half-built copies removed
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.store", "docs.store.v1-backup"]
    assert tags_in(path) == {"old": 300}


def test_a_duplicate_is_refused_when_two_processes_race(tmp_path: Path) -> None:
    path = tmp_path / "docs.store"
    InMemoryDocumentStore(path=str(path)).write_documents([Document(meta={"tag": "seed"})])
    with writer(path) as first, writer(path) as second:
        for each in (first, second):
            each.send("count")
            each.expect("count 1")  # both have loaded the store
        first.send("write race 10 0 fail")
        second.send("write race 10 0 fail")
        answers = sorted(
            [first.expect("start race") and first.expect(""),
             second.expect("start race") and second.expect("")]
        )  # fmt: skip
        first.quit()
        second.quit()
    assert answers == ["error race DuplicateDocumentError", "wrote race 10"]
    assert tags_in(path) == {"seed": 1, "race": 10}
    with pytest.raises(DuplicateDocumentError):
        InMemoryDocumentStore(path=str(path)).write_documents(
            [Document(content="race document 3", meta={"tag": "race", "i": 3})]
        )
