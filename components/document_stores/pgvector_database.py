"""The PostgreSQL side of PgvectorDocumentStore: connection pools, table setup, statements run.

Nothing here runs until a store is first used (building a store, as `ragrun validate` does,
never connects). The first use resolves the connection string and sets the table up over one
direct connection. The sync methods then share a `psycopg_pool.ConnectionPool`; the `*_async`
ones share the connections of their event loop (`pgvector_connections.py`: an asyncio
connection belongs to the loop that opened it, and `Pipeline.run` starts a new loop each run).

Every psycopg error leaves as a `DocumentStoreError` whose message has the connection string
and its password scrubbed out, raised `from None` so the original (unscrubbed) exception is not
chained into tracebacks either.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import orjson
import psycopg
from pgvector.psycopg import register_vector, register_vector_async
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from ragrun import Secret
from ragrun.loopbound import PerLoop
from ragrun.secrets import SecretNotFoundError

from . import pgvector_sql as q
from .errors import DocumentStoreError, DuplicateDocumentError
from .pgvector_connections import ConnectionsPerLoop
from .pgvector_settings import PgvectorSettings

CONNECTING = "connecting to PostgreSQL"
WRITING = "writing documents"
_URI_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _configure(conn: psycopg.Connection[Any]) -> None:
    register_vector(conn)
    set_json_loads(orjson.loads, conn)
    conn.commit()  # the pool takes back only idle connections


async def _configure_async(conn: psycopg.AsyncConnection[Any]) -> None:
    await register_vector_async(conn)
    set_json_loads(orjson.loads, conn)
    await conn.commit()


class PgvectorDatabase:
    """Pools and statements for one store object.

    Args:
        settings: the store's checked settings.
        connection_string: the secret holding a libpq connection string or URI.
    """

    def __init__(self, settings: PgvectorSettings, connection_string: Secret) -> None:
        self.settings = settings
        self._secret = connection_string
        self._conninfo: str | None = None
        self._ready = False
        self._index_built = False  # hnsw_build_after_writes: built by this object's close
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._async = ConnectionsPerLoop(self._connect_async, settings.max_connections)
        self._setup_locks: PerLoop[anyio.Lock] = PerLoop(anyio.Lock)

    # --- errors -----------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """`text` with the connection string and its password replaced by `***`."""
        secrets = [self._conninfo or ""]
        try:
            password = psycopg.conninfo.conninfo_to_dict(self._conninfo or "").get("password")
            secrets.append(str(password or ""))
        except psycopg.Error:
            pass
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            text = text.replace(str(secret), "***")
        text = _URI_PASSWORD.sub(r"\1***@", text)
        return _KEYWORD_PASSWORD.sub(r"\1***", text)

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn psycopg errors raised while doing `action` into scrubbed DocumentStoreErrors."""
        try:
            yield
        except psycopg.errors.UniqueViolation as exc:
            if action != WRITING:
                raise DocumentStoreError(
                    f"{self._where()}: {action} failed: {self.scrub(str(exc)).strip()}"
                ) from None
            raise DuplicateDocumentError(
                f"{self._where()}: {action}: {self.scrub(str(exc))} (another writer stored the "
                "same id meanwhile; write with policy 'skip' or 'overwrite' to allow that)"
            ) from None
        except psycopg.Error as exc:
            raise DocumentStoreError(
                f"{self._where()}: {action} failed: {type(exc).__name__}: "
                f"{self.scrub(str(exc)).strip()}{self._hint(exc, action)}"
            ) from None

    def _where(self) -> str:
        return f"PgvectorDocumentStore (table {self.settings.qualified_name})"

    def _hint(self, exc: psycopg.Error, action: str) -> str:
        lost = isinstance(exc, psycopg.OperationalError) and (exc.sqlstate or "08").startswith("08")
        if lost or action == CONNECTING:  # no connection (08: connection exception)
            names = ", ".join(self._secret.env_vars) or "the connection_string secret"
            return (
                f"; check that PostgreSQL is running and reachable and that {names} holds a "
                "valid connection string (postgresql://user:password@host:5432/database)"
            )
        return ""

    def _connection_string(self) -> str:
        if self._conninfo is None:
            try:
                value = self._secret.resolve()
            except SecretNotFoundError as exc:
                raise DocumentStoreError(
                    f"{self._where()}: connection_string: {exc}; set it to a connection string "
                    "such as postgresql://user:password@host:5432/database"
                ) from None
            if not value:
                raise DocumentStoreError(
                    f"{self._where()}: connection_string is empty; set "
                    f"{', '.join(self._secret.env_vars)} to a connection string"
                )
            self._conninfo = value
        return self._conninfo

    # --- sync -------------------------------------------------------------------------------

    def _setup(self) -> None:
        with self.errors(CONNECTING):
            conn = psycopg.connect(self._connection_string())
        try:
            with conn, self.errors("setting up the table"):
                self._run(conn, q.setup_lock())
                has_extension, has_schema = self._run(
                    conn, q.existing(self.settings)
                ).fetchone() or (
                    False,
                    False,
                )
                statements = q.setup(
                    self.settings,
                    has_extension=has_extension,
                    has_schema=has_schema,
                    first=not self._ready,  # re-read under the lock: recreate once per object
                )
                for statement in statements:
                    self._run(conn, statement)
                self._check_column(self._run(conn, q.embedding_column(self.settings)).fetchone())
                self._ready = True  # before the commit releases the lock to a waiting setup
        except BaseException:
            self._ready = False
            raise

    def _check_column(self, found: tuple[Any, ...] | None) -> None:
        """The existing table's embeddings have the store's type and size."""
        s = self.settings
        expected = f"{s.vector_type}({s.embedding_dimension})"
        if found is not None and found[0] != expected:
            raise DocumentStoreError(
                f"{self._where()}: the table's embedding column is {found[0]} but the store "
                f"expects {expected} (vector_type, embedding_dimension): set them to match the "
                "table, or write to another table_name (recreate_table: true drops its documents)"
            )

    @staticmethod
    def _run(conn: psycopg.Connection[Any], statement: q.Statement) -> psycopg.Cursor[Any]:
        return conn.execute(statement.query, statement.params or None)

    def _sync_pool(self) -> ConnectionPool:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._setup()
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    pool = ConnectionPool(
                        self._connection_string(),
                        min_size=1,
                        max_size=self.settings.max_connections,
                        open=False,
                        configure=_configure,
                        name=f"ragrun-pgvector-{self.settings.table_name}",
                    )
                    with self.errors(CONNECTING):
                        pool.open()
                    self._pool = pool
        return self._pool

    @contextmanager
    def connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction committed at the end (rolled back on error)."""
        pool = self._sync_pool()
        with self.errors(action), pool.connection() as conn:
            yield conn

    def fetch(self, action: str, *statements: q.Statement) -> list[tuple[Any, ...]]:
        """Run the statements in one transaction; the rows of the last one."""
        with self.connection(action) as conn:
            cursor = None
            for statement in statements:
                cursor = self._run(conn, statement)
            return cursor.fetchall() if cursor is not None and cursor.description else []

    def write(self, plan: q.WritePlan) -> int:
        """COPY the plan's rows and insert them; how many rows the insert wrote."""
        with self.connection(WRITING) as conn:
            self._run(conn, plan.create_incoming)
            with conn.cursor() as cursor:
                with cursor.copy(plan.copy) as copy:
                    copy.set_types(list(plan.types))
                    for values in plan.rows:
                        copy.write_row(values)
                if plan.find_duplicates is not None:
                    found = cursor.execute(plan.find_duplicates.query).fetchall()
                    if found:
                        raise DuplicateDocumentError(self.duplicates_message(found))
                cursor.execute(plan.insert.query)
                return cursor.rowcount

    def forget_setup(self) -> None:
        """Set the table up again at the next use (after it was dropped)."""
        self._ready = False
        self._index_built = False

    def build_index_after_writes(self) -> None:
        """Build the HNSW index now, if `hnsw_build_after_writes` deferred it and this object
        set the table up (a no-op when the index exists)."""
        if not (self.settings.hnsw_build_after_writes and self._ready) or self._index_built:
            return
        with self.connection("building the HNSW index") as conn:
            self._run(conn, q.setup_lock())  # several workers closing at once build it once
            self._run(conn, q.build_hnsw_index(self.settings))
        self._index_built = True

    def close(self) -> None:
        """Close the sync pool and the async connections of event loops that have ended."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self._async.finish_ended()

    # --- async ------------------------------------------------------------------------------

    async def _setup_async(self) -> None:
        with self.errors(CONNECTING):
            conn = await psycopg.AsyncConnection.connect(self._connection_string())
        try:
            with self.errors("setting up the table"):
                async with conn:
                    await self._run_async(conn, q.setup_lock())
                    cursor = await self._run_async(conn, q.existing(self.settings))
                    has_extension, has_schema = await cursor.fetchone() or (False, False)
                    statements = q.setup(
                        self.settings,
                        has_extension=has_extension,
                        has_schema=has_schema,
                        first=not self._ready,
                    )
                    for statement in statements:
                        await self._run_async(conn, statement)
                    cursor = await self._run_async(conn, q.embedding_column(self.settings))
                    self._check_column(await cursor.fetchone())
                    self._ready = True
        except BaseException:
            self._ready = False
            raise

    @staticmethod
    async def _run_async(
        conn: psycopg.AsyncConnection[Any], statement: q.Statement
    ) -> psycopg.AsyncCursor[Any]:
        return await conn.execute(statement.query, statement.params or None)

    async def _connect_async(self) -> psycopg.AsyncConnection[Any]:
        with self.errors(CONNECTING):
            conn = await psycopg.AsyncConnection.connect(self._connection_string())
            await _configure_async(conn)
        return conn

    async def _ensure_setup_async(self) -> None:
        if self._ready:
            return
        async with self._setup_locks.get():
            if not self._ready:
                await self._setup_async()

    @asynccontextmanager
    async def connection_async(self, action: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """`connection` for the running event loop."""
        with self.errors(action):
            await self._ensure_setup_async()
            async with self._async.get().connection() as conn:
                yield conn

    async def fetch_async(self, action: str, *statements: q.Statement) -> list[tuple[Any, ...]]:
        """`fetch` on the running event loop."""
        async with self.connection_async(action) as conn:
            cursor = None
            for statement in statements:
                cursor = await self._run_async(conn, statement)
            return await cursor.fetchall() if cursor is not None and cursor.description else []

    async def write_async(self, plan: q.WritePlan) -> int:
        """`write` on the running event loop."""
        async with self.connection_async(WRITING) as conn:
            await self._run_async(conn, plan.create_incoming)
            async with conn.cursor() as cursor:
                async with cursor.copy(plan.copy) as copy:
                    copy.set_types(list(plan.types))
                    for values in plan.rows:
                        await copy.write_row(values)
                if plan.find_duplicates is not None:
                    await cursor.execute(plan.find_duplicates.query)
                    found = await cursor.fetchall()
                    if found:
                        raise DuplicateDocumentError(self.duplicates_message(found))
                await cursor.execute(plan.insert.query)
                return cursor.rowcount

    async def aclose(self) -> None:
        """Close this loop's async connections, then the sync pool (in a worker thread)."""
        await self._async.aclose()
        await anyio.to_thread.run_sync(self.close)

    # --- messages ---------------------------------------------------------------------------

    def duplicates_message(self, found: list[tuple[Any, ...]]) -> str:
        """Name the ids already stored (up to five) and what to do."""
        ids = [row[0] for row in found]
        shown = ", ".join(repr(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
        return (
            f"{self._where()}: document ids already stored: {shown} (duplicate policy 'fail'); "
            "nothing was written. Write with policy 'skip' to keep the stored documents or "
            "'overwrite' to replace them"
        )
