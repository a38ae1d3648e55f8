"""The store file: documents as JSON and embeddings as float32, written atomically.

The file is a numpy `.npz` archive (a zip) with four arrays: `format` (the layout version),
`documents` (UTF-8 JSON of the documents, without embeddings), `embeddings` (float32 rows, one
per document) and `has_embedding`. Nothing is pickled, so loading a file cannot run code.

Each save writes a temporary file beside the target, fsyncs it, renames it over the target
(`os.replace`, atomic on POSIX and Windows) and fsyncs the directory: a crash leaves either the
old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import orjson

from ragrun import Document

from .errors import DocumentStoreError

FORMAT = 1
Signature = tuple[int, int, int]
"""(mtime_ns, size, inode) of the file: changes whenever another writer replaced it."""


def signature(path: Path) -> Signature | None:
    """The file's current signature, or None when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def save(
    path: Path, documents: list[Document], matrix: np.ndarray | None, has: np.ndarray
) -> Signature:
    """Write the store file atomically; returns the new file's signature."""
    records = [doc.to_dict() for doc in documents]
    payload = orjson.dumps(
        records, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
    )
    embeddings = matrix if matrix is not None else np.zeros((len(documents), 0), np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(
                file,
                format=np.array([FORMAT], dtype=np.int64),
                documents=np.frombuffer(payload, dtype=np.uint8),
                embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
                has_embedding=np.asarray(has, dtype=bool),
            )
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)
    found = signature(path)
    assert found is not None
    return found


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; Windows cannot open directories)."""
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


def load(path: Path) -> tuple[list[Document], np.ndarray | None, np.ndarray]:
    """Read a store file: (documents, embeddings matrix or None, has-embedding mask).

    Raises:
        DocumentStoreError: the file is not a store file, or is of a newer format.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            version = int(archive["format"][0])
            if version > FORMAT:
                raise DocumentStoreError(
                    f"{path}: store file format {version} is newer than this ragrun reads "
                    f"({FORMAT}); upgrade ragrun"
                )
            records = orjson.loads(archive["documents"].tobytes())
            matrix = archive["embeddings"]
            has = archive["has_embedding"].astype(bool)
    except DocumentStoreError:
        raise
    except Exception as exc:
        raise DocumentStoreError(
            f"{path}: cannot read the document store file ({type(exc).__name__}: {exc}); "
            "it was not written by InMemoryDocumentStore, or was changed by hand. Move it away "
            "to start an empty store"
        ) from exc
    documents = [Document.from_dict(record) for record in records]
    if len(has) != len(documents) or (matrix.size and len(matrix) != len(documents)):
        raise DocumentStoreError(f"{path}: the file's documents and embeddings do not line up")
    return documents, (matrix if matrix.size else None), has
