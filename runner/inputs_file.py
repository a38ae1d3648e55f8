"""The inputs of batch mode: a JSON-lines file, or stdin, read lazily as the batch needs lines.

`InputLines` is an async iterator of `BatchItem`s, one per non-blank line, each with its line
number (from 1) and index (its position among the non-blank lines, from 0, so it stays the same
when `--resume` skips lines). It reads in a worker thread, whatever the stream has ready (up to
64 KiB), and only once the lines already read are used up: `run_batch` pulls an item only when
a run may start, so a slow pipeline leaves the rest of the file unread, and a producer feeding
stdin slowly is never waited on for more than one line.

Lines are handed on as bytes; `run_batch` parses each one in its own run, so a line that is not
a JSON object fails alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import BinaryIO

import anyio.to_thread

from .batch import BatchItem

_CHUNK = 64 * 1024


class LineSet:
    """A set of line numbers kept as a bitmap: a million lines take 125 KB, not a set of ints."""

    def __init__(self, lines: Iterable[int] = ()) -> None:
        self._bits = bytearray()
        self._count = 0
        for line in lines:
            self.add(line)

    def add(self, line: int) -> None:
        """Add `line` (a positive number)."""
        byte, bit = divmod(line, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits)))
        if not self._bits[byte] >> bit & 1:
            self._bits[byte] |= 1 << bit
            self._count += 1

    def __contains__(self, line: object) -> bool:
        if not isinstance(line, int) or line < 0:
            return False
        byte, bit = divmod(line, 8)
        return byte < len(self._bits) and bool(self._bits[byte] >> bit & 1)

    def __len__(self) -> int:
        return self._count


class InputLines:
    """The non-blank lines of a binary stream as `BatchItem`s (raw JSON text), read lazily.

    Args:
        stream: the inputs, opened in binary mode (a file, or `sys.stdin.buffer`).
        skip: line numbers not to run (`--resume`); they are counted in `skipped`.
    """

    def __init__(self, stream: BinaryIO, skip: LineSet | None = None) -> None:
        self._stream = stream
        self._skip = skip
        self._read = getattr(stream, "read1", stream.read)
        self._pending: deque[bytes] = deque()
        self._partial = b""
        self._number = 0
        self._index = 0
        self.exhausted = False
        """True once the end of the stream was reached."""
        self.skipped = 0
        """Non-blank lines skipped because `skip` holds them."""

    def __aiter__(self) -> InputLines:
        return self

    async def __anext__(self) -> BatchItem:
        while True:
            while self._pending:
                raw = self._pending.popleft()
                self._number += 1
                if not raw.strip():
                    continue
                index = self._index
                self._index += 1
                if self._skip is not None and self._number in self._skip:
                    self.skipped += 1
                    continue
                return BatchItem(raw, line=self._number, index=index)
            if self.exhausted:
                raise StopAsyncIteration
            await self._fill()

    async def _fill(self) -> None:
        """Read what the stream has ready; split it into lines, keeping a partial last line."""
        chunk = await anyio.to_thread.run_sync(self._read, _CHUNK, abandon_on_cancel=True)
        if not chunk:
            self.exhausted = True
            if self._partial:  # a last line without a line ending
                self._pending.append(self._partial)
                self._partial = b""
            return
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        self._pending.extend(lines)


def count_items(path: str, skip: LineSet | None = None) -> int:
    """How many runs a file holds: its non-blank lines, minus those `skip` holds.

    A fast pass (several million lines a second) so a progress bar can show an ETA.
    """
    count = 0
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if raw.strip() and (skip is None or number not in skip):
                count += 1
    return count
