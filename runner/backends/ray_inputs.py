"""The inputs of a Ray job: a JSON-lines file read as a Ray Dataset of `index, line, text` rows.

Each event of a batch run carries its input's line number and index, so they must survive the
file being read in pieces, in parallel. A first pass over the file (constant memory: it keeps
one small `Split` per `rows_per_split` lines) notes where each split starts — its byte offset,
line number and index. Each Ray read task then reads its own byte range, counts lines from its
split's start, and yields blocks of `rows_per_block` rows; nothing ever holds the whole file,
neither the driver nor any worker, and a read task redone after a failure reads the same rows.

The file is the driver's, so the read tasks run on the driver's node (`supports_distributed_reads`
is False); the actors that do the work run anywhere. Inputs that are not a file (stdin, an
iterable) are first written to a temporary file by `spool`, then read the same way.

This module imports Ray at the top: import it only once a Ray job starts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata

from ..jsonl import dumps


@dataclass(frozen=True)
class Split:
    """A byte range of the file holding whole lines, read by one Ray read task."""

    start: int
    """Byte offset of its first non-blank line."""
    end: int
    """Byte offset just past its last line."""
    first_line: int
    """Line number (from 1) of the line at `start`."""
    first_index: int
    """Index (position among non-blank lines, from 0) of the line at `start`."""
    items: int
    """Non-blank lines in the range."""


def split_file(path: str | os.PathLike[str], rows_per_split: int) -> list[Split]:
    """Cut the file into splits of `rows_per_split` non-blank lines (the last may hold fewer)."""
    splits: list[Split] = []
    offset = number = index = 0
    start = first_line = first_index = count = 0
    with open(path, "rb") as file:
        for raw in file:
            number += 1
            if raw.strip():
                if count == rows_per_split:
                    splits.append(Split(start, offset, first_line, first_index, count))
                    count = 0
                if count == 0:
                    start, first_line, first_index = offset, number, index
                count += 1
                index += 1
            offset += len(raw)
    if count:
        splits.append(Split(start, offset, first_line, first_index, count))
    return splits


def read_split(path: str, split: Split) -> Iterator[tuple[int, int, str]]:
    """The `(index, line, text)` of each non-blank line of `split`."""
    number, index = split.first_line, split.first_index
    with open(path, "rb") as file:
        file.seek(split.start)
        offset = split.start
        while offset < split.end:
            raw = file.readline()
            if not raw:
                return
            offset += len(raw)
            if raw.strip():
                yield index, number, raw.decode("utf-8", errors="replace").rstrip("\r\n")
                index += 1
            number += 1


class JsonLinesDatasource(Datasource):
    """A JSON-lines file as rows `index` (int), `line` (int), `text` (str); see the module doc.

    Args:
        path: the file, readable on the driver's node.
        rows_per_block: rows per block a read task yields (the actors' batch size, so each
            batch is one block and work spreads evenly over the actors).
        rows_per_split: rows per read task.
    """

    def __init__(self, path: str | os.PathLike[str], rows_per_block: int, rows_per_split: int):
        super().__init__()
        self._path = os.path.abspath(path)
        self._rows_per_block = rows_per_block
        self._splits = split_file(self._path, max(rows_per_split, rows_per_block))

    @property
    def items(self) -> int:
        """Non-blank lines in the file: the runs the job will make."""
        return sum(split.items for split in self._splits)

    def lines(self) -> Iterator[tuple[int, int, str]]:
        """Every `(index, line, text)` of the file, read here, in order."""
        for split in self._splits:
            yield from read_split(self._path, split)

    @property
    def supports_distributed_reads(self) -> bool:
        """False: the file is on the driver's node, so read tasks run there."""
        return False

    def estimate_inmemory_data_size(self) -> int | None:
        """About the file's size."""
        return sum(split.end - split.start for split in self._splits)

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        """One read task per split (the split size, not `parallelism`, fixes their number)."""
        return [
            ReadTask(
                _reader(self._path, split, self._rows_per_block),
                BlockMetadata(
                    num_rows=split.items,
                    size_bytes=split.end - split.start,
                    input_files=(self._path,),
                    exec_stats=None,
                ),
                per_task_row_limit=per_task_row_limit,
            )
            for split in self._splits
        ]

    def get_name(self) -> str:
        """The name Ray shows for the read stage."""
        return "ReadJsonLines"


def _reader(path: str, split: Split, rows_per_block: int) -> Any:
    def read() -> Iterator[Any]:
        import pyarrow as pa

        columns: dict[str, list[Any]] = {"index": [], "line": [], "text": []}
        for index, number, text in read_split(path, split):
            columns["index"].append(index)
            columns["line"].append(number)
            columns["text"].append(text)
            if len(columns["index"]) == rows_per_block:
                yield pa.Table.from_pydict(columns)
                columns = {"index": [], "line": [], "text": []}
        if columns["index"]:
            yield pa.Table.from_pydict(columns)

    return read


def spool(items: Iterable[str | bytes | Mapping[str, Any]], directory: str | None = None) -> Path:
    """Write `items` to a temporary JSON-lines file, one line each, and return its path.

    A string or bytes item is one line as it is (its line ending removed); a mapping is written
    as JSON. The caller deletes the file.

    Raises:
        ValueError: a string item holds a line break, so it would become several lines.
    """
    handle, name = tempfile.mkstemp(prefix="ragrun-inputs-", suffix=".jsonl", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            for number, item in enumerate(items, start=1):
                file.write(_one_line(item, number))
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _one_line(item: str | bytes | Mapping[str, Any], number: int) -> bytes:
    if isinstance(item, Mapping):
        return dumps(item) + b"\n"  # Documents & co. as JSON, as the events write them
    raw = item.encode("utf-8") if isinstance(item, str) else bytes(item)
    raw = raw.rstrip(b"\r\n")
    if b"\n" in raw or b"\r" in raw:
        raise ValueError(f"input {number} holds a line break: give one JSON object per item")
    return raw + b"\n"
