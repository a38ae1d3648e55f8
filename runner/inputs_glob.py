"""`--inputs GLOB`: one run per matched file, each file holding one run's inputs as JSON.

DESIGN.md lets `--inputs` name a glob instead of a JSON-lines file: "each file matched by a
glob is one run". Each file holds what one line of a JSON-lines file would: a JSON object of the
run's inputs (`{"question": "..."}`), pretty-printed or not. A file that is not a JSON object
fails alone, like a bad line, and so does a file over `inputs_json.MAX_TEXT_BYTES` (only that
much of it is read).

The matched files are sorted by path and numbered from 1; a run's events carry that number as
`line` and the path as `file`. `--resume` skips the files whose run already finished in the
`--output` file, found by path, so files added or removed between the two jobs do not shift
which ones are skipped.

A value is a glob when it is not `-`, names no existing path, and has a `*`, `?` or `[` in it;
`**` matches any number of directories. Files are read one at a time in a worker thread, only
when a run may start.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Collection

import anyio.to_thread

from .batch import BatchItem
from .errors import PipelineInputError
from .inputs_json import MAX_TEXT_BYTES, too_long

_MAGIC = frozenset("*?[")


def is_glob(source: str) -> bool:
    """Whether `--inputs source` is a glob rather than a file (or `-`)."""
    return source != "-" and not os.path.exists(source) and any(c in _MAGIC for c in source)


def matched_files(pattern: str) -> list[str]:
    """The regular files `pattern` matches, normalised (`./in/a.json` is `in/a.json`, so a
    resumed job finds them whatever the spelling) and sorted (`**` spans directories)."""
    found = glob.glob(pattern, recursive=True)
    return sorted(os.path.normpath(p) for p in found if os.path.isfile(p))


class InputFiles:
    """The files of a glob as `BatchItem`s (raw JSON text), read lazily in a worker thread.

    Args:
        paths: the matched files, in the order to run them (their number is their position).
        skip: paths not to run (`--resume`); they are counted in `skipped`.
    """

    def __init__(self, paths: list[str], skip: Collection[str] = ()) -> None:
        self._paths = paths
        self._skip = skip
        self._next = 0
        self.skipped = 0
        """Files skipped because `skip` holds them."""

    def __aiter__(self) -> InputFiles:
        return self

    async def __anext__(self) -> BatchItem:
        while self._next < len(self._paths):
            number, path = self._next + 1, self._paths[self._next]
            self._next += 1
            if path in self._skip:
                self.skipped += 1
                continue
            try:
                data: bytes | Exception = await anyio.to_thread.run_sync(_read, path)
            except OSError as exc:  # gone or unreadable since the glob matched: fails alone
                data = PipelineInputError(f"cannot read {path}: {exc.strerror or exc}")
            return BatchItem(data, line=number, index=number - 1, file=path)
        raise StopAsyncIteration


def _read(path: str) -> bytes | Exception:
    with open(path, "rb") as file:
        data = file.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        return PipelineInputError(too_long(path, os.path.getsize(path)))
    return data
