"""The inputs of batch mode: a JSON-lines file, or stdin, read lazily as the batch needs lines.

`InputLines` is an async iterator of `BatchItem`s, one per non-blank line, each with its line
number (from 1) and index (its position among the non-blank lines, from 0, so it stays the same
when `--resume` skips lines). It reads in a worker thread, whatever the stream has ready (up to
64 KiB), and only once the lines already read are used up: `run_batch` pulls an item only when
a run may start, so a slow pipeline leaves the rest of the file unread, and a producer feeding
stdin slowly is never waited on for more than one line.

Lines are handed on as bytes; `run_batch` parses each one in its own run, so a line that is not
a JSON object fails alone. A line longer than `inputs_json.MAX_TEXT_BYTES` is not held: once
that many bytes of it are read, the rest is skipped up to its line ending, and the line's run
fails with an error saying so, so one huge line costs neither memory nor a quadratic re-split.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import BinaryIO

import anyio.to_thread

from .batch import BatchItem
from .errors import PipelineInputError
from .inputs_json import MAX_TEXT_BYTES, too_long

_CHUNK = 64 * 1024


class _TooLong:
    """Stands for a line over the size limit, in the queue of lines read (`size` bytes seen)."""

    def __init__(self, size: int) -> None:
        self.size = size


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
        self._pending: deque[bytes | _TooLong] = deque()
        self._partial = bytearray()
        self._discarded: int | None = None
        """Bytes of an over-long line skipped so far, while skipping it (else None)."""
        self._max = MAX_TEXT_BYTES
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
                if isinstance(raw, bytes) and not raw.strip():
                    continue
                index = self._index
                self._index += 1
                if self._skip is not None and self._number in self._skip:
                    self.skipped += 1
                    continue
                if isinstance(raw, _TooLong):
                    error = PipelineInputError(too_long(f"line {self._number}", raw.size))
                    return BatchItem(error, line=self._number, index=index)
                return BatchItem(raw, line=self._number, index=index)
            if self.exhausted:
                raise StopAsyncIteration
            await self._fill()

    async def _fill(self) -> None:
        """Read what the stream has ready; split it into lines, keeping a partial last line."""
        chunk = await anyio.to_thread.run_sync(self._read, _CHUNK, abandon_on_cancel=True)
        if not chunk:
            self.exhausted = True
            if self._partial or self._discarded is not None:  # a last line without its ending
                self._end_line(b"")
            return
        lines = chunk.split(b"\n")
        last = lines.pop()
        if lines:  # the partial line ends in this chunk; the others are whole (a chunk is small)
            self._end_line(lines[0])
            self._pending.extend(lines[1:])
        self._extend(last)

    def _extend(self, piece: bytes) -> None:
        """Add `piece` to the line being read, or skip it once that line is over the limit."""
        if self._discarded is not None:
            self._discarded += len(piece)
        elif len(self._partial) + len(piece) > self._max:
            self._discarded = len(self._partial) + len(piece)
            self._partial = bytearray()
        else:
            self._partial += piece

    def _end_line(self, piece: bytes) -> None:
        self._extend(piece)
        if self._discarded is not None:
            self._pending.append(_TooLong(self._discarded))
            self._discarded = None
        else:
            self._pending.append(bytes(self._partial))
            self._partial = bytearray()


def count_items(path: str, skip: LineSet | None = None) -> int:
    """How many runs a file holds: its non-blank lines, minus those `skip` holds.

    A fast pass (several million lines a second) so a progress bar can show an ETA. It reads
    blocks, not lines, so a huge line is never held in memory.
    """
    count = 0
    number = 1
    blank = True  # the current line holds nothing but whitespace so far
    with open(path, "rb") as file:
        while block := file.read(1024 * 1024):
            lines = block.split(b"\n")
            for piece in lines[:-1]:
                if (not blank or piece.strip()) and (skip is None or number not in skip):
                    count += 1
                number += 1
                blank = True
            blank = blank and not lines[-1].strip()
    if not blank and (skip is None or number not in skip):
        count += 1
    return count
