"""The store file: one SQLite database in WAL mode, written by transactions that add what changed.

A write is one transaction that inserts, updates or deletes only the rows it touches (a write
of N documents costs O(N), whatever the store's size), so several processes can write one file:
SQLite's lock serialises their transactions, and a kill -9 at any moment leaves the file as it
was before or after the interrupted transaction, never between (the WAL is replayed or ignored
at the next open; no temporary file is involved).

Every row carries the number of the change that last wrote it, and deletions are remembered
with theirs (`sqlite_schema.py`), so a process that read the file at change C catches up by
reading the rows and deletions of the changes after C (`Changes`), not the whole file; `PRAGMA
data_version` tells it, in microseconds, whether anyone else committed since it last looked.
A format-1 file (`.npz`) is migrated at first open (`npz_format.py`). Nothing is pickled.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragrun import Document

from . import npz_format, records, sqlite_schema
from .errors import DocumentStoreError
from .table import Loaded, Rows, load_capacity

HINT = sqlite_schema.HINT
BUSY_TIMEOUT_SECONDS = sqlite_schema.BUSY_TIMEOUT_SECONDS
_CHUNK = 4096  # rows fetched at a time when reading the whole file
MAX_DELETIONS = 50_000
"""Deletions remembered for readers to catch up with, before the oldest are forgotten..."""
KEPT_DELETIONS = 10_000
"""...down to this many."""


@dataclass(frozen=True)
class Changes:
    """What a reader at some change number has not seen yet."""

    change: int
    """The file's change number once these are applied."""
    everything: Loaded | None
    """The whole store (replace the table with it), when an increment cannot be given."""
    deleted: list[str]
    """Ids deleted since (apply before `rows`: an id deleted then written again is new)."""
    rows: Rows
    """Documents written since, in the order first written."""


_NO_ROWS = Rows([], None, np.zeros(0, dtype=bool))
_EMPTY = Changes(0, Loaded([], None, np.zeros(0, dtype=bool)), [], _NO_ROWS)
"""What a reader learns when the file is gone: the store is empty."""


_OPEN: weakref.WeakSet[StoreFile] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Close every connection at exit, so the last one checkpoints and removes the WAL."""
    for file in list(_OPEN):
        file.close()


_INHERITED: list[sqlite3.Connection] = []
"""Connections a forked child inherited: never used nor closed there (that is the parent's)."""


class StoreFile:
    """One lazily opened connection to a store file; callers serialise access (a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._known: tuple[int, int] | None = None
        """Identity of the file the caller's copy was read from (its change numbers count)."""
        self._data_version = -1
        self._pid = os.getpid()

    def close(self) -> None:
        """Close the connection (it reopens on next use); the last one out removes the WAL."""
        connection, self._connection = self._connection, None
        _OPEN.discard(self)
        if connection is None:
            return
        if self._pid != os.getpid():
            _INHERITED.append(connection)
            return
        with contextlib.suppress(sqlite3.Error):
            connection.close()

    def read_changes(self, since: int | None) -> Changes | None:
        """What the file holds beyond change `since` (None: nothing read yet); None if nothing.

        Raises:
            DocumentStoreError: the file is not a readable store file.
        """
        self._forget_if_forked()
        identity = _identity(self.path)
        replaced = identity != self._known  # first look, or the file was replaced or deleted
        if replaced:
            self.close()
            self._known, since = identity, None
        if identity is None:  # no file (yet, or any more): an empty store
            return _EMPTY if replaced else None
        if self._connection is None and not self._open(create=False):
            return _EMPTY if replaced else None  # an empty file: its writer died before committing
        connection = self._connection
        assert connection is not None
        with self._errors("read"):
            seen, self._data_version = self._data_version, self._current_data_version()
            if since is not None and seen == self._data_version:
                return None  # nobody else committed since this process last looked
            connection.execute("BEGIN")
            try:
                return self._changes_since(since)
            except BaseException:
                self._data_version = -1  # not read: look again next time
                raise
            finally:
                connection.execute("COMMIT")

    @contextlib.contextmanager
    def transaction(self, since: int | None) -> Iterator[Transaction]:
        """A write transaction holding the file's write lock; it commits when the block ends.

        `since` is the change number the caller's copy reflects; the transaction's `changes`
        are what others committed after it, read under the lock, for the caller to apply
        before deciding what to write.

        Raises:
            DocumentStoreError: the file cannot be created, read or written, or another process
                held the lock for longer than BUSY_TIMEOUT_SECONDS.
        """
        self._forget_if_forked()
        if _identity(self.path) != self._known:
            self.close()
            since = None
        if self._connection is None:
            self._open(create=True)
        connection = self._connection
        assert connection is not None
        with self._errors("write"):
            connection.execute("BEGIN IMMEDIATE")
        try:
            with self._errors("write"):
                if not sqlite_schema.has_schema(connection):
                    sqlite_schema.create_schema(connection)
                changes = self._changes_since(since)
                transaction = Transaction(connection, changes, self._change())
            yield transaction
            with self._errors("write"):
                transaction.finish()
                self._data_version = self._current_data_version()
                connection.execute("COMMIT")
        except BaseException:
            self._data_version = -1
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise

    def _open(self, *, create: bool) -> bool:
        """Connect (migrating a format-1 file first); False when there is no file to read."""
        head = _head(self.path)
        if not head:
            if not create:
                return False
            sqlite_schema.create_file(self.path)
        elif npz_format.is_npz(head):
            npz_format.migrate(self.path, write=write_new)
        elif not head.startswith(sqlite_schema.SQLITE_MAGIC):
            raise self._corrupt("neither an SQLite database nor a format-1 archive")
        with self._errors("open"):
            connection = sqlite_schema.connect(self.path)
        try:
            with self._errors("open"):
                sqlite_schema.check(self.path, connection)
        except BaseException:
            connection.close()
            raise
        self._connection, self._known = connection, _identity(self.path)
        self._data_version = -1
        _OPEN.add(self)
        return True

    def _forget_if_forked(self) -> None:
        """In a forked child, leave the parent's connection alone and open one of its own."""
        if self._pid != os.getpid():
            self.close()
            self._pid = os.getpid()

    def _change(self) -> int:
        """The file's change number, read in the open transaction."""
        assert self._connection is not None
        state = self._connection.execute("SELECT change FROM state").fetchone()
        if state is None:
            raise self._corrupt("its state row is missing")
        return int(state[0])

    def _current_data_version(self) -> int:
        assert self._connection is not None
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def _changes_since(self, since: int | None) -> Changes | None:
        """Read, in the open transaction, what changed after `since` (everything for None)."""
        connection = self._connection
        assert connection is not None
        if not sqlite_schema.has_schema(connection):  # created, but its first write never committed
            return None if since is None else _EMPTY
        state = connection.execute("SELECT change, floor FROM state").fetchone()
        if state is None:
            raise self._corrupt("its state row is missing")
        change, floor = int(state[0]), int(state[1])
        if since == change:
            return None
        if since is None or since < floor or since > change:
            return Changes(change, self._read_all(connection), [], _NO_ROWS)
        deleted = [
            row[0]
            for row in connection.execute("SELECT id FROM deletions WHERE change > ?", (since,))
        ]
        found = connection.execute(
            "SELECT id, body, embedding FROM documents WHERE change > ? ORDER BY seq", (since,)
        ).fetchall()
        return Changes(change, None, deleted, self._rows(found, None))

    def _read_all(self, connection: sqlite3.Connection) -> Loaded:
        """Every row, straight into the table's layout: one matrix, allocated once."""
        (count,) = connection.execute("SELECT count(*) FROM documents").fetchone()
        documents: list[Document] = []
        has = np.zeros(count, dtype=bool)
        matrix: np.ndarray | None = None
        cursor = connection.execute("SELECT id, body, embedding FROM documents ORDER BY seq")
        while chunk := cursor.fetchmany(_CHUNK):
            start = len(documents)
            if start + len(chunk) > count:
                raise self._corrupt("more rows than it counts")
            rows = self._rows(chunk, None if matrix is None else matrix.shape[1])
            if rows.vectors is not None:
                if matrix is None:
                    shape = (load_capacity(count), rows.vectors.shape[1])
                    matrix = np.zeros(shape, dtype=np.float32)
                matrix[start + np.flatnonzero(rows.has)] = rows.vectors
            has[start : start + len(chunk)] = rows.has
            documents.extend(rows.documents)
        if len(documents) != count:
            raise self._corrupt("fewer rows than it counts")
        return Loaded(documents, matrix, has)

    def _rows(self, found: list[tuple], dimension: int | None) -> Rows:
        try:
            documents = [records.decode(row[0], row[1]) for row in found]
            vectors, has = records.vectors([row[2] for row in found], dimension)
        except ValueError as exc:
            raise self._corrupt(str(exc)) from exc
        return Rows(documents, vectors, has)

    def _corrupt(self, what: str) -> DocumentStoreError:
        return DocumentStoreError(
            f"{self.path}: cannot read the document store file ({what}); {sqlite_schema.HINT}"
        )

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """sqlite3's errors as DocumentStoreErrors saying what to do."""
        try:
            yield
        except sqlite3.Error as exc:
            raise sqlite_schema.store_error(self.path, doing, exc) from exc


class Transaction:
    """The writes of one transaction; the store applies them to memory once it commits."""

    def __init__(
        self, connection: sqlite3.Connection, changes: Changes | None, current: int
    ) -> None:
        self._connection = connection
        self.changes = changes
        """What others committed since the caller's copy (apply before deciding what to write)."""
        self.change = current + 1
        """The number this transaction's change gets (if it writes anything)."""
        self._wrote = False

    @property
    def result(self) -> int:
        """The file's change number once this transaction committed."""
        return self.change if self._wrote else self.change - 1

    def upsert(self, rows: Rows) -> None:
        """Insert new ids, overwrite known ones (they keep their place in the order)."""
        if not rows.documents:
            return
        vectors = iter(rows.vectors if rows.vectors is not None else ())
        values = [
            (
                doc.id,
                records.encode(doc),
                records.vector_bytes(next(vectors)) if has else None,
                self.change,
            )
            for doc, has in zip(rows.documents, rows.has.tolist(), strict=True)
        ]
        self._connection.executemany(
            "INSERT INTO documents (id, body, embedding, change) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body, "
            "embedding = excluded.embedding, change = excluded.change",
            values,
        )
        self._wrote = True

    def delete(self, ids: list[str]) -> None:
        """Delete these ids (all stored: the caller checked) and remember they were deleted."""
        if not ids:
            return
        pairs = [(i, self.change) for i in ids]
        self._connection.executemany("DELETE FROM documents WHERE id = ?", [(i,) for i in ids])
        self._connection.executemany(
            "INSERT INTO deletions (id, change) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET change = excluded.change",
            pairs,
        )
        self._forget_old_deletions()
        self._wrote = True

    def _forget_old_deletions(self) -> None:
        """Keep the newest KEPT_DELETIONS once there are more than MAX_DELETIONS.

        Readers older than the forgotten ones read the whole file instead (the floor rises),
        so the table does not grow with every delete ever made.
        """
        (count,) = self._connection.execute("SELECT count(*) FROM deletions").fetchone()
        if count <= MAX_DELETIONS:
            return
        (cutoff,) = self._connection.execute(
            "SELECT change FROM deletions ORDER BY change DESC LIMIT 1 OFFSET ?",
            (KEPT_DELETIONS,),
        ).fetchone()
        self._connection.execute("DELETE FROM deletions WHERE change <= ?", (cutoff,))
        self._connection.execute("UPDATE state SET floor = max(floor, ?)", (cutoff,))

    def clear(self) -> None:
        """Delete every document; readers at older changes then reload from scratch."""
        self._connection.execute("DELETE FROM documents")
        self._connection.execute("DELETE FROM deletions")
        self._connection.execute("UPDATE state SET floor = ?", (self.change,))
        self._wrote = True

    def finish(self) -> None:
        """Count the change, if anything was written (called just before the commit)."""
        if self._wrote:
            self._connection.execute("UPDATE state SET change = ?", (self.change,))


def write_new(path: Path, rows: Rows) -> None:
    """Write a complete store file at `path` (a new file, for migration) and fsync it."""
    sqlite_schema.create_file(path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = OFF")  # a new file: nothing to roll back to
        connection.execute("BEGIN")
        sqlite_schema.create_schema(connection)
        transaction = Transaction(connection, None, 0)
        transaction.upsert(rows)
        transaction.finish()
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _head(path: Path) -> bytes | None:
    try:
        with path.open("rb") as file:
            return file.read(len(sqlite_schema.SQLITE_MAGIC))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DocumentStoreError(
            f"{path}: cannot read the document store file ({exc}); check that it is a file "
            "and its permissions"
        ) from exc


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file: changes when the file is replaced or deleted."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)
