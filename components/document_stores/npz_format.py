"""Store file format 1 (an `.npz` archive, ragrun before issue 9): read safely, migrated once.

A format-1 file is read without trusting it: only its four expected members, each a plain
`.npy` array of the expected dtype whose header's shape fits the member's declared size, and
members that together inflate to at most `MAX_INFLATION` times the file's size (a legitimate
file is stored uncompressed, so a zip bomb is refused before anything is decompressed).

Migration happens at first open, in place and atomically: the new SQLite file is built beside
the old one (`.NAME.migrating`), the old file is kept as `NAME.v1-backup` (a hard link, so no
copy), and the new file is renamed over `NAME`. A kill -9 at any moment leaves either the old
file (and the next open migrates again, removing the half-built one) or the new one. Processes
migrating the same file at once take turns on an exclusive lock of the old file; the second
finds the work done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from . import records
from .errors import DocumentStoreError
from .table import Rows

logger = logging.getLogger(__name__)

MAGIC = b"PK\x03\x04"
FORMAT = 1
MAX_INFLATION = 4
"""A member set may inflate to this many times the file's size (plus 1 MiB), no more."""
_MEMBERS: dict[str, np.dtype] = {
    "format.npy": np.dtype("<i8"),
    "documents.npy": np.dtype("u1"),
    "embeddings.npy": np.dtype("<f4"),
    "has_embedding.npy": np.dtype("?"),
}
BACKUP_SUFFIX = ".v1-backup"
HINT = (
    "it was not written by ragrun's InMemoryDocumentStore, was changed by hand, or is damaged: "
    "move it away to start an empty store, or restore it from a backup"
)


def is_npz(head: bytes) -> bool:
    """Whether a file's first bytes are a zip archive's, as format-1 store files are."""
    return head.startswith(MAGIC)


def read(file: IO[bytes], path: Path) -> Rows:
    """The documents of a format-1 file, checked: every problem is a DocumentStoreError.

    Raises:
        DocumentStoreError: the file is not a valid format-1 store file, or is too large once
            inflated.
    """
    try:
        size = os.fstat(file.fileno()).st_size
        with zipfile.ZipFile(file) as archive:
            arrays = _arrays(archive, size)
    except DocumentStoreError as exc:
        raise DocumentStoreError(f"{path}: {exc}") from None
    except ValueError as exc:
        raise _corrupt(path, str(exc)) from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {exc}") from exc
    try:
        return _rows(arrays)
    except ValueError as exc:
        raise _corrupt(path, str(exc)) from exc


def _arrays(archive: zipfile.ZipFile, size: int) -> dict[str, np.ndarray]:
    infos = {info.filename: info for info in archive.infolist()}
    if set(infos) != set(_MEMBERS):
        raise ValueError(f"members {sorted(infos)}, expected {sorted(_MEMBERS)}")
    inflated = sum(info.file_size for info in infos.values())
    limit = MAX_INFLATION * size + 2**20
    if inflated > limit:
        raise DocumentStoreError(
            f"the archive would inflate to {inflated} bytes, more than {MAX_INFLATION}x its "
            f"size ({size} bytes): refused; {HINT}"
        )
    return {
        name[: -len(".npy")]: _array(archive, infos[name], dtype)
        for name, dtype in _MEMBERS.items()
    }


def _array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype) -> np.ndarray:
    """One `.npy` member, its header checked before any data is read."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, found = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, found = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"{info.filename}: .npy version {version}")
        if found != dtype or fortran or len(shape) > 2:
            raise ValueError(f"{info.filename}: {found} array of shape {shape}, expected {dtype}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes > info.file_size:
            raise ValueError(f"{info.filename}: shape {shape} is larger than the member")
        data = member.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"{info.filename}: truncated")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _rows(arrays: dict[str, np.ndarray]) -> Rows:
    version = arrays["format"]
    if version.shape != (1,) or int(version[0]) != FORMAT:
        found = version.tolist()
        raise ValueError(f"format {found}, expected [{FORMAT}]")
    entries = orjson.loads(arrays["documents"].tobytes())
    if not isinstance(entries, list):
        raise ValueError("its documents are not a JSON list")
    documents = [_document(entry) for entry in entries]
    seen: set[str] = set()
    for doc in documents:
        if doc.id in seen:
            raise ValueError(f"document id {doc.id[:40]!r} appears twice")
        seen.add(doc.id)
    matrix, has = arrays["embeddings"], arrays["has_embedding"].astype(bool)
    if has.shape != (len(documents),):
        raise ValueError(f"{len(has)} has-embedding flags for {len(documents)} documents")
    if not has.any():
        return Rows(documents, None, has)
    if matrix.ndim != 2 or len(matrix) != len(documents) or matrix.shape[1] == 0:
        raise ValueError(f"embeddings of shape {matrix.shape} for {len(documents)} documents")
    vectors = np.ascontiguousarray(matrix[has], dtype=np.float32)
    if not np.isfinite(vectors).all():
        raise ValueError("an embedding holds NaN or infinite values")
    return Rows(documents, vectors, has)


def _document(entry: Any) -> Any:
    if not isinstance(entry, dict):
        raise ValueError(f"a document is a JSON {type(entry).__name__}, not an object")
    body = {k: v for k, v in entry.items() if k not in ("id", "embedding", "score")}
    document_id = entry.get("id")
    if not isinstance(document_id, str) or not document_id:
        raise ValueError(f"a document's id is {document_id!r}, not a non-empty string")
    return records.from_body(document_id, body)


def _corrupt(path: Path, what: str) -> DocumentStoreError:
    return DocumentStoreError(
        f"{path}: cannot read the document store file (format 1: {what}); {HINT}"
    )


def migrate(path: Path, *, write: Callable[[Path, Rows], None]) -> None:
    """Replace the format-1 file at `path` by a new store file made with `write(temp, rows)`.

    Raises:
        DocumentStoreError: the old file is invalid, or the folder is not writable.
    """
    temporary = path.with_name(f".{path.name}.migrating")
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        with _locked(path) as old:
            if old is None:
                return  # another process migrated it while this one waited
            rows = read(old, path)
            _remove(temporary)
            try:
                write(temporary, rows)
                _link_or_copy(path, backup)
                os.replace(temporary, path)
            finally:
                _remove(temporary)
            _fsync_directory(path.parent)
    except OSError as exc:
        raise DocumentStoreError(
            f"{path}: cannot migrate the format-1 store file to the current format ({exc}); "
            "check the folder's permissions and free space"
        ) from exc
    logger.warning(
        "%s: migrated to the current store format; the old file is kept as %s (delete it when "
        "you no longer need to go back to an older ragrun)",
        path,
        backup.name,
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[bytes] | None]:
    """The old file, opened and exclusively locked; None when it is no longer a format-1 file."""
    with path.open("rb") as old:
        _lock(old)
        still_old = _same_file(old, path) and is_npz(old.read(len(MAGIC)))
        old.seek(0)
        yield old if still_old else None


def _lock(file: IO[bytes]) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent first opens are rare there
        return
    fcntl.flock(file.fileno(), fcntl.LOCK_EX)


def _same_file(file: IO[bytes], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(file.fileno()), path.stat())
    except FileNotFoundError:
        return False


def _link_or_copy(source: Path, target: Path) -> None:
    _remove(target)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX; Windows cannot open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
