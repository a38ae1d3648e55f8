"""The `--output` file of batch mode: events appended one JSON line at a time, read by `--resume`.

Each event is written with one `write` and flushed at once, so after a crash or `kill -9` the
file holds every event written before it, and at worst a last line cut short. That cut line is
removed when the file is opened again (it tells nothing whole), so the file stays valid JSON
lines and new events start on a line of their own.

`--resume` reads the file back and collects the `line` of every `run_finished`: those inputs are
done. It reads the line number from the start of the line where ragrun writes it (before the
outputs, which can be large), and parses the whole line only when that fast path does not fit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import click
import orjson

from .inputs_file import LineSet
from .jsonl import dumps_line

_FINISHED = b'"run_finished"'
# The start of a run_finished line as `jsonl.dumps_line` writes it: event, run, t, index, line.
_FAST = re.compile(
    rb'\{"event":"run_finished","run":"[^"]*","t":[-+.0-9eE]+,(?:"index":\d+,)?"line":(\d+)[,}]'
)
_TAIL_BLOCK = 64 * 1024


def finished_lines(path: str) -> LineSet:
    """The `line` of every `run_finished` event in the file at `path` (empty when it is absent).

    Lines that are not JSON, and a last line without its line ending, are ignored.
    """
    done = LineSet()
    for raw in _finished_events(path):
        line = _line_of(raw)
        if line is not None:
            done.add(line)
    return done


def finished_files(path: str) -> set[str]:
    """The `file` of every `run_finished` event in the file at `path` (`--inputs GLOB` jobs)."""
    done: set[str] = set()
    for raw in _finished_events(path):
        event = _event_of(raw)
        found = event.get("file") if event is not None else None
        if isinstance(found, str):
            done.add(os.path.normpath(found))
    return done


def _finished_events(path: str) -> Iterator[bytes]:
    """The whole lines of the file that may be `run_finished` events (none if it is absent)."""
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        return
    with file:
        for raw in file:
            if raw.endswith(b"\n") and _FINISHED in raw:
                yield raw


def _event_of(raw: bytes) -> dict[str, Any] | None:
    """The line parsed, when it is a `run_finished` event."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("event") != "run_finished":
        return None
    return event


def _line_of(raw: bytes) -> int | None:
    match = _FAST.match(raw)
    if match is not None:
        return int(match.group(1))
    event = _event_of(raw)
    line = event.get("line") if event is not None else None
    return line if isinstance(line, int) and not isinstance(line, bool) else None


def cut_partial_line(path: str) -> int:
    """Remove a last line that lacks its line ending (a write cut short); return bytes removed."""
    try:
        file = open(path, "r+b")
    except FileNotFoundError:
        return 0
    with file:
        size = file.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - _TAIL_BLOCK)
            file.seek(start)
            block = file.read(end - start)
            if end == size and block.endswith(b"\n"):
                return 0
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                file.truncate(keep)
                return size - keep
            end = start
        file.truncate(0)
        return size


class OutputFile:
    """Appends events to a file as JSON lines, each flushed at once.

    Args:
        path: the file; created when absent, appended to otherwise (a cut last line removed).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.repaired = cut_partial_line(path)
        """Bytes of a cut last line removed when the file was opened."""
        self._file = open(path, "ab")

    def __call__(self, event: Any) -> None:
        try:
            self._file.write(dumps_line(event))
            self._file.flush()
        except OSError as exc:
            raise click.ClickException(f"cannot write to {self.path}: {exc.strerror}") from exc

    def close(self) -> None:
        """Close the file."""
        self._file.close()
