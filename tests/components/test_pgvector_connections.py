"""PgvectorDocumentStore's connections: secrets kept out of errors, async twins, many writers."""

from __future__ import annotations

import logging
import pickle
import threading
import traceback
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np
import psycopg
import pytest
from store_contract import corpus, names

from ragrun import Document, Secret
from ragrun.components.document_stores.errors import DocumentStoreError, DuplicateDocumentError
from ragrun.components.document_stores.pgvector import PgvectorDocumentStore
from ragrun.components.document_stores.pgvector_connections import ConnectionsPerLoop
from tests.fakes.postgres import PostgresServer

NewStore = Callable[..., PgvectorDocumentStore]
PASSWORD = "hunter2-not-for-logs"


def random_documents(count: int, seed: int = 0) -> list[Document]:
    vectors = np.random.default_rng(seed).standard_normal((count, 4)).astype(np.float32)
    return [
        Document(content=f"text {i}", meta={"i": i}, embedding=v.tolist())
        for i, v in enumerate(vectors)
    ]


def in_threads(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs at once (released together by a barrier); their results, or raise."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


# --- the connection string is a secret --------------------------------------------------------


def test_an_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PG_CONN_STR", raising=False)
    store = PgvectorDocumentStore(table_name="docs")
    with pytest.raises(DocumentStoreError, match="PG_CONN_STR is set"):
        store.count_documents()


@pytest.mark.parametrize(
    "conninfo",
    [
        pytest.param(f"postgresql://user:{PASSWORD}@[::1/db", id="bad-uri-echoed-by-libpq"),
        pytest.param(f"host=/nonexistent password={PASSWORD} user=u bogus", id="bad-keywords"),
        pytest.param(f"postgresql://user:{PASSWORD}@/db?host=/nonexistent-dir", id="no-server"),
        pytest.param(f"postgresql://user:{PASSWORD}@/db?host=/tmp&sslmode=x", id="bad-option"),
    ],
)
def test_connection_errors_never_show_the_connection_string(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, conninfo: str
) -> None:
    monkeypatch.setenv("RAGRUN_TEST_PG", conninfo)
    caplog.set_level(logging.DEBUG)
    store = PgvectorDocumentStore(connection_string=Secret.from_env_var("RAGRUN_TEST_PG"))
    for call in (store.count_documents, lambda: anyio.run(store.count_documents_async)):
        with pytest.raises(DocumentStoreError) as caught:
            call()
        shown = "".join(traceback.format_exception(caught.value)) + caplog.text
        assert PASSWORD not in shown
        assert conninfo not in shown
        assert "RAGRUN_TEST_PG holds a valid connection string" in str(caught.value)
    store.close()


def test_database_errors_never_show_the_connection_string(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch, new_pgvector_store: NewStore
) -> None:
    # The test server trusts local connections, so a password in the URI is accepted.
    uri = postgres.uri.replace("postgres:@", f"postgres:{PASSWORD}@")
    monkeypatch.setenv("PG_CONN_STR", uri)
    store = new_pgvector_store()
    store.write_documents(corpus())
    with postgres.connect() as conn:  # behind the store's back
        conn.execute(psycopg.sql.SQL("DROP TABLE {}").format(psycopg.sql.Identifier(
            store.settings.table_name)))  # fmt: skip
    with pytest.raises(DocumentStoreError, match="does not exist") as caught:
        store.filter_documents()
    shown = "".join(traceback.format_exception(caught.value)) + repr(store) + str(store.to_dict())
    assert PASSWORD not in shown and uri not in shown


def test_scrub_removes_passwords_in_every_form(new_pgvector_store: NewStore) -> None:
    from ragrun.components.document_stores.pgvector_database import PgvectorDatabase

    db = PgvectorDatabase(new_pgvector_store().settings, Secret.from_token("x"))
    text = db.scrub(f"at postgresql://bob:{PASSWORD}@h/d and password={PASSWORD} or password='a b'")
    assert PASSWORD not in text and "a b" not in text
    assert "postgresql://bob:***@h/d" in text


# --- async twins --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_twins_match_the_sync_methods(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    assert await store.write_documents_async(corpus()) == 7
    query = [1.0, 0.1, 0.0, 0.0]
    found = await store.embedding_retrieval_async(query, top_k=3)
    assert names(found) == names(store.embedding_retrieval(query, top_k=3)) == ["a", "c", "f"]
    assert [d.score for d in found] == pytest.approx(
        [d.score for d in store.embedding_retrieval(query, top_k=3)]
    )
    assert names(await store.keyword_retrieval_async("cat mat")) == names(
        store.keyword_retrieval("cat mat")
    )
    assert await store.has_ids_async([corpus()[0].id, "x"]) == {corpus()[0].id}
    with pytest.raises(DuplicateDocumentError):
        await store.write_documents_async([Document(content="new"), corpus()[1]])
    assert await store.count_documents_async() == 7
    assert await store.write_documents_async(corpus(), policy="skip") == 0
    await store.delete_all_documents_async()
    assert await store.count_documents_async() == 0
    await store.aclose()


@pytest.mark.anyio
async def test_concurrent_async_searches_share_few_connections(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    store = new_pgvector_store(max_connections=2)
    await store.write_documents_async(corpus())
    results: list[list[str]] = []

    async def search() -> None:
        results.append(names(await store.embedding_retrieval_async([0, 1, 0, 0], top_k=2)))

    async with anyio.create_task_group() as group:
        for _ in range(30):
            group.start_soon(search)
    assert results == [["b", "c"]] * 30
    with postgres.connect() as conn:
        (opened,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    assert opened <= 2
    await store.aclose()


def test_async_methods_work_on_one_event_loop_after_another(new_pgvector_store: NewStore) -> None:
    # Pipeline.run starts a new event loop for every run; each must find working connections,
    # and a loop's end must not wait on the store (anyio.run would never return).
    store = new_pgvector_store()
    store.write_documents(corpus())
    for _ in range(3):
        assert anyio.run(store.count_documents_async) == 7


def test_connections_of_an_ended_loop_are_closed(postgres: PostgresServer) -> None:
    opened: list[psycopg.AsyncConnection[Any]] = []

    async def connect() -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(postgres.uri)
        opened.append(conn)
        return conn

    per_loop = ConnectionsPerLoop(connect, size=2)

    async def use() -> int:
        async with per_loop.get().connection() as conn:
            return (await (await conn.execute("SELECT 1")).fetchone())[0]

    assert anyio.run(use) == 1
    assert [c.closed for c in opened] == [False]  # kept for the loop's next call
    assert anyio.run(use) == 1  # another loop: the first loop's connection is closed now
    assert [c.closed for c in opened] == [True, False]
    per_loop.finish_ended()
    assert [c.closed for c in opened] == [True, True]


@pytest.mark.anyio
async def test_a_cancelled_query_does_not_spoil_the_next(postgres: PostgresServer) -> None:
    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(postgres.uri)

    connections = ConnectionsPerLoop(connect, size=1).get()
    started = anyio.Event()

    async def slow() -> None:
        async with connections.connection() as conn:
            await conn.execute("SELECT 1")
            started.set()
            await conn.execute("SELECT pg_sleep(60)")

    async with anyio.create_task_group() as group:
        group.start_soon(slow)
        await started.wait()
        group.cancel_scope.cancel()
    async with connections.connection() as conn:
        assert await (await conn.execute("SELECT 2")).fetchone() == (2,)
    await connections.aclose()


# --- many writers -------------------------------------------------------------------------------


def test_two_stores_writing_concurrently_lose_nothing_and_write_nothing_twice(
    new_pgvector_store: NewStore,
) -> None:
    docs = random_documents(4500)
    first = new_pgvector_store()
    second = new_pgvector_store(table_name=first.settings.table_name)

    def write(store: PgvectorDocumentStore, part: list[Document]) -> int:
        return sum(
            store.write_documents(part[i : i + 250], policy="skip")
            for i in range(0, len(part), 250)
        )

    written = in_threads(
        lambda: write(first, docs[:3000]), lambda: write(second, docs[1500:][::-1])
    )
    assert sum(written) == 4500  # the 1500 shared ids were inserted by one writer only
    assert first.count_documents() == 4500
    assert second.has_ids([d.id for d in docs]) == {d.id for d in docs}


def test_concurrent_overwrites_in_opposite_orders_do_not_deadlock(
    new_pgvector_store: NewStore,
) -> None:
    ids = [f"doc-{i:04d}" for i in range(2000)]
    first = new_pgvector_store()
    second = new_pgvector_store(table_name=first.settings.table_name)

    def write(store: PgvectorDocumentStore, label: str, backwards: bool) -> None:
        for i in range(0, len(ids), 500):
            batch = ids[i : i + 500]  # both writers write the same ids at about the same time...
            order = batch[::-1] if backwards else batch  # ...in opposite orders
            store.write_documents([Document(id=x, content=label) for x in order], "overwrite")

    in_threads(lambda: write(first, "first", False), lambda: write(second, "second", True))
    stored = first.filter_documents()
    assert len(stored) == 2000
    assert {d.content for d in stored} <= {"first", "second"}


@pytest.mark.anyio
async def test_async_writers_on_one_loop_lose_nothing(new_pgvector_store: NewStore) -> None:
    docs = random_documents(1200, seed=2)
    first = new_pgvector_store()
    second = new_pgvector_store(table_name=first.settings.table_name)
    written: list[int] = []

    async def write(store: PgvectorDocumentStore, part: list[Document]) -> None:
        for i in range(0, len(part), 100):
            written.append(await store.write_documents_async(part[i : i + 100], policy="skip"))

    async with anyio.create_task_group() as group:
        group.start_soon(write, first, docs[:800])
        group.start_soon(write, second, docs[400:][::-1])
    assert sum(written) == 1200
    assert await second.count_documents_async() == 1200
    await first.aclose()
    await second.aclose()


def test_many_store_objects_can_set_up_one_new_table_at_once(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    table = postgres.new_table()
    stores = [
        new_pgvector_store(table_name=table, schema_name=f"s_{table}", search_strategy="hnsw")
        for _ in range(8)
    ]
    assert in_threads(*(s.count_documents for s in stores)) == [0] * 8


def test_a_pickled_store_opens_its_own_connections(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    store.write_documents(corpus())
    copy = pickle.loads(pickle.dumps(store))
    assert copy.count_documents() == 7
    copy.close()
