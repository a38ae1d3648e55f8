"""The documents store instances share (per file, or per shared index), in step with the file.

A collection holds the documents in memory (`DocumentTable`: rows, the float32 search matrix)
and, with a path, the store file they are persisted in. Before every read it asks the file
whether another process committed since (`PRAGMA data_version`: microseconds) and, if so,
applies only the rows and deletions of the changes it has not seen; the matrix is built once
per load and updated in place after that, never per query. A write runs inside one file
transaction: it first applies what others committed (under the file's write lock, so duplicate
policies see every process's documents), lets the store decide what to write, writes those rows
and commits, and only then changes the memory, so a failed write changes nothing anywhere.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ragrun import Document

from .columns import Columns
from .errors import DocumentStoreError
from .persistence import HINT, Changes, StoreFile, Transaction
from .table import DocumentTable, Rows


class Writes:
    """What one write changes: checked and sent to the file at once, applied to memory after."""

    def __init__(self, table: DocumentTable, transaction: Transaction | None) -> None:
        self.table = table
        """The documents as they are (every process's committed writes): decide from these."""
        self._transaction = transaction
        self._pending: list[tuple[str, Rows | list[str] | None]] = []

    def upsert(self, documents: list[Document]) -> None:
        """Write documents (ids unique in the call): known ids overwrite, new ids append.

        Raises:
            DocumentStoreError: an embedding is malformed or of another size than the store's.
        """
        rows = self.table.prepare(documents)
        if self._transaction is not None:
            self._transaction.upsert(rows)
        self._pending.append(("upsert", rows))

    def delete(self, ids: list[str]) -> None:
        """Delete the stored documents among these ids."""
        known = [i for i in dict.fromkeys(ids) if self.table.row_of(i) is not None]
        if not known:
            return
        if self._transaction is not None:
            self._transaction.delete(known)
        self._pending.append(("delete", known))

    def clear(self) -> None:
        """Delete every document."""
        if self._transaction is not None:
            self._transaction.clear()
        self._pending.append(("clear", None))

    def apply(self) -> None:
        """Change the memory as the (committed) file was changed."""
        for operation, argument in self._pending:
            if operation == "upsert":
                assert isinstance(argument, Rows)
                self.table.apply(argument)
            elif operation == "delete":
                assert isinstance(argument, list)
                self.table.delete(argument)
            else:
                self.table.clear()


@dataclass(eq=False)
class Collection:
    """The documents one or more store instances share, with the lock that guards them."""

    path: Path | None
    table: DocumentTable = field(default_factory=DocumentTable)
    lock: threading.RLock = field(default_factory=threading.RLock)
    file: StoreFile | None = None
    version: int | None = None
    """The file's change number the table reflects (None: not read yet, or read again)."""
    _columns: Columns | None = None
    _columns_version: int = -1

    def __post_init__(self) -> None:
        if self.path is not None:
            self.file = StoreFile(self.path)

    @contextmanager
    def reading(self) -> Iterator[DocumentTable]:
        """The table, up to date with the file, under the lock."""
        with self.lock:
            self._refresh()
            yield self.table

    @contextmanager
    def writing(self) -> Iterator[Writes]:
        """A `Writes` to fill; the file commits when the block ends, then the memory changes.

        Raises:
            DocumentStoreError: the file cannot be read or written; nothing was changed.
        """
        with self.lock:
            self._refresh()  # most of the catching up, before taking the file's write lock
            if self.file is None:
                writes = Writes(self.table, None)
                yield writes
                writes.apply()
                return
            with self.file.transaction(self.version) as transaction:
                if transaction.changes is not None:
                    self._apply(transaction.changes)
                writes = Writes(self.table, transaction)
                yield writes
            try:
                writes.apply()
            except BaseException:
                self.version = None  # memory and file may differ: read the file again
                raise
            self.version = transaction.result

    def close(self) -> None:
        """Close the file's connection (it reopens on next use); the documents stay in memory."""
        with self.lock:
            if self.file is not None:
                self.file.close()

    def filter_columns(self) -> Columns:
        """Filter columns for the current rows (cached until the next change)."""
        if self._columns is None or self._columns_version != self.table.version:
            self._columns = Columns(self.table.documents, self.table.embedding_at)
            self._columns_version = self.table.version
        return self._columns

    def _refresh(self) -> None:
        if self.file is not None:
            changes = self.file.read_changes(self.version)
            if changes is not None:
                self._apply(changes)

    def _apply(self, changes: Changes) -> None:
        """Bring the table to `changes.change`; a file that does not add up is refused."""
        try:
            if changes.everything is not None:
                self.table.load(changes.everything)
            else:
                self.table.delete(changes.deleted)
                self.table.check(changes.rows)
                self.table.apply(changes.rows)
        except DocumentStoreError as exc:
            self.version = None  # read everything again next time, whatever was applied
            raise DocumentStoreError(
                f"{self.path}: cannot read the document store file ({exc}); {HINT}"
            ) from exc
        self.version = changes.change


_BY_PATH: weakref.WeakValueDictionary[Path, Collection] = weakref.WeakValueDictionary()
_BY_INDEX: dict[str, Collection] = {}  # as Haystack: a shared index lives as long as the process
_REGISTRY_LOCK = threading.Lock()


def collection_for(path: str | None, index: str | None, shared: bool) -> Collection:
    """The collection of a path (shared by every store with that path), or of a shared index."""
    with _REGISTRY_LOCK:
        if path is not None:
            resolved = Path(path).expanduser().resolve()
            found = _BY_PATH.get(resolved)
            if found is None:
                found = _BY_PATH[resolved] = Collection(resolved)
            return found
        if shared and index is not None:
            return _BY_INDEX.setdefault(index, Collection(None))
        return Collection(None)
