"""The store file's SQLite schema: creating it, checking that a file has it, connecting to it.

Schema version 2 (format 1 was the `.npz` archive of `npz_format.py`): `documents` holds one
row per document in the order first written (`seq`), its id, its JSON body (`records.py`), its
float32 embedding and the number of the change that last wrote it; `deletions` remembers which
change deleted each id; `state` holds the file's change counter and its `floor` (readers at an
older change read everything again: `delete_all_documents` forgets individual deletions). The
schema is checked at open, object by object, so a file with other tables, triggers or views is
refused, and SQL stored in a file is not trusted (`trusted_schema=OFF`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from .errors import DocumentStoreError

SCHEMA_VERSION = 2
APPLICATION_ID = 0x52414752  # "RAGR": tells a store file from any other SQLite database
BUSY_TIMEOUT_SECONDS = 60.0
"""How long a write waits for another process's transaction before giving up."""
SYNCHRONOUS = "NORMAL"
"""SQLite's advice for WAL: a commit survives the process being killed, and the file stays
consistent through a power cut, which may roll back the last commits before it (they were not
fsynced: FULL fsyncs each one, which costs more than the write itself on a busy disk)."""
SQLITE_MAGIC = b"SQLite format 3\x00"
HINT = (
    "it was not written by ragrun's InMemoryDocumentStore, was changed by hand, or is damaged: "
    "move it (and its -wal and -shm files, if any) away to start an empty store, or restore it "
    "from a backup"
)

_SCHEMA: dict[str, str] = {
    "documents": (
        "CREATE TABLE documents (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
        "body TEXT NOT NULL, embedding BLOB, change INTEGER NOT NULL) STRICT"
    ),
    "documents_by_change": "CREATE INDEX documents_by_change ON documents (change)",
    "deletions": (
        "CREATE TABLE deletions (id TEXT PRIMARY KEY, change INTEGER NOT NULL) "
        "STRICT, WITHOUT ROWID"
    ),
    "deletions_by_change": "CREATE INDEX deletions_by_change ON deletions (change)",
    "state": (
        "CREATE TABLE state (one INTEGER PRIMARY KEY CHECK (one = 1), change INTEGER NOT NULL, "
        "floor INTEGER NOT NULL) STRICT"
    ),
}
_SQLITE_OBJECTS: dict[str, str | None] = {
    "sqlite_sequence": "CREATE TABLE sqlite_sequence(name,seq)",
    "sqlite_autoindex_documents_1": None,
}
"""What SQLite itself adds for that schema (AUTOINCREMENT's counter, the UNIQUE index...)."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread."""
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute("PRAGMA cell_size_check = ON")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        connection.execute("PRAGMA journal_size_limit = 67108864")  # WAL back to 64 MiB after use
    except BaseException:
        connection.close()
        raise
    return connection


def check(path: Path, connection: sqlite3.Connection) -> None:
    """Refuse a database that is not a store file of the version this code reads.

    Raises:
        DocumentStoreError: another application's database, a newer or older schema version,
            or objects (tables, indexes, triggers, views) other than the schema's.
    """
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    (application,) = connection.execute("PRAGMA application_id").fetchone()
    objects = {
        name: sql
        for kind, name, sql in connection.execute("SELECT type, name, sql FROM sqlite_master")
        if not (kind == "table" and name.startswith("sqlite_stat"))  # ANALYZE statistics
    }
    if version == 0 and application == 0 and not objects:
        return  # an empty database (a file created, then killed before its first commit)
    if application != APPLICATION_ID:
        raise DocumentStoreError(
            f"{path}: cannot read the document store file (an SQLite database, but not a "
            f"document store: application id {application}); {HINT}"
        )
    if version > SCHEMA_VERSION:
        raise DocumentStoreError(
            f"{path}: store file schema version {version} is newer than this ragrun reads "
            f"({SCHEMA_VERSION}); upgrade ragrun"
        )
    if version != SCHEMA_VERSION:
        what = f"schema version {version}, not {SCHEMA_VERSION}"
    elif objects != {**_SCHEMA, **_SQLITE_OBJECTS}:
        unexpected = sorted(set(objects) ^ set(_SCHEMA) ^ set(_SQLITE_OBJECTS))
        what = f"missing or unexpected objects: {unexpected}" if unexpected else "altered tables"
    else:
        return
    raise DocumentStoreError(f"{path}: cannot read the document store file ({what}); {HINT}")


def has_schema(connection: sqlite3.Connection) -> bool:
    """Whether the database was initialised (an empty one is a store nobody wrote yet)."""
    return connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables in the open transaction, and mark the file as a store file."""
    for sql in _SCHEMA.values():
        connection.execute(sql)
    connection.execute("INSERT INTO state (one, change, floor) VALUES (1, 0, 0)")
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def create_file(path: Path) -> None:
    """Create an empty file readable by its owner only (documents may be private).

    Raises:
        DocumentStoreError: the folder cannot be created or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise DocumentStoreError(
            f"{path}: cannot create the document store file ({exc}); check the folder's "
            "permissions and free space"
        ) from exc


def store_error(path: Path, doing: str, exc: sqlite3.Error) -> DocumentStoreError:
    """An sqlite3 error as a DocumentStoreError saying what to do about it."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DocumentStoreError(
            f"{path}: another process held the store's write lock for more than "
            f"{BUSY_TIMEOUT_SECONDS:g} s; retry when it is done"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_IOERR")):
        return DocumentStoreError(
            f"{path}: cannot {doing} the document store file ({exc}); check the folder's "
            "permissions and free space"
        )
    return DocumentStoreError(f"{path}: cannot read the document store file ({exc}); {HINT}")
