"""Converter sources: file paths, glob patterns and ByteStreams read into (bytes, meta) pairs.

Every converter takes `sources: list[str | Path | ByteStream]` and `meta: dict | list[dict] |
None`, as in Haystack. ragrun adds globs: a string source holding `*`, `?` or `[` that is not
itself an existing file is expanded (`**` matches any depth), in sorted order so runs are
repeatable; each matched file gets the meta given for its pattern. A directory is refused with
a hint to use a glob. A file that cannot be read is skipped with a warning, as in Haystack, so
one bad file never sinks a batch.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from ragrun import ByteStream

logger = logging.getLogger(__name__)

Source: TypeAlias = str | Path | ByteStream
_GLOB_CHARS = frozenset("*?[")


@dataclass
class LoadedSource:
    """One source read into memory: its bytes, the meta for its document, where it came from."""

    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    """How to name the source in a warning (its path, or `ByteStream`)."""


def normalize_meta(
    meta: dict[str, Any] | list[dict[str, Any]] | None, count: int
) -> list[dict[str, Any]]:
    """One meta dict per source: a single dict is copied for each, a list must match in length."""
    if meta is None:
        return [{} for _ in range(count)]
    if isinstance(meta, dict):
        return [deepcopy(meta) for _ in range(count)]
    if isinstance(meta, list):
        if len(meta) != count:
            raise ValueError(
                f"meta is a list of {len(meta)} dicts but there are {count} sources; "
                "give one dict per source, or a single dict for all of them"
            )
        return [dict(m or {}) for m in meta]
    raise ValueError(f"meta must be a dict, a list of dicts or None, not {type(meta).__name__}")


def is_glob(source: str) -> bool:
    """True when a string source is a pattern to expand rather than a file name."""
    return bool(_GLOB_CHARS & set(source)) and not os.path.exists(source)


def expand(
    sources: list[Source], meta: dict | list[dict] | None
) -> list[tuple[Source, dict[str, Any]]]:
    """Pair each source with its meta, expanding glob patterns into the files they match.

    Raises:
        ValueError: `meta` does not fit `sources`, or a source is a directory.
    """
    pairs: list[tuple[Source, dict[str, Any]]] = []
    for source, source_meta in zip(sources, normalize_meta(meta, len(sources)), strict=True):
        if isinstance(source, str) and is_glob(source):
            matches = sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
            if not matches:
                logger.warning("The pattern %r matches no file; nothing is read from it", source)
            pairs += [(match, deepcopy(source_meta)) for match in matches]
            continue
        if isinstance(source, str | Path) and os.path.isdir(source):
            raise ValueError(
                f"source {str(source)!r} is a directory; give its files or a glob pattern, "
                f"e.g. '{Path(source) / '**' / '*.md'}'"
            )
        pairs.append((source, source_meta))
    return pairs


def load(
    sources: list[Source], meta: dict | list[dict] | None, *, store_full_path: bool = False
) -> Iterator[LoadedSource]:
    """Read each source (globs expanded); unreadable files are logged and skipped.

    The document meta is the ByteStream's own meta, then the meta given for the source. A file's
    `file_path` is its name, or the path as given with `store_full_path` (as in Haystack).
    """
    for source, source_meta in expand(sources, meta):
        if isinstance(source, ByteStream):
            stream_meta = dict(source.meta)
            if not store_full_path and isinstance(stream_meta.get("file_path"), str):
                stream_meta["file_path"] = os.path.basename(stream_meta["file_path"])
            yield LoadedSource(source.data, {**stream_meta, **source_meta}, "ByteStream")
            continue
        if not isinstance(source, str | Path):
            raise TypeError(
                "a source must be a path, a glob pattern or a ByteStream, "
                f"not {type(source).__name__}"
            )
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            logger.warning("Could not read %s; skipping it: %s", source, exc)
            continue
        path = str(source)
        file_meta = {"file_path": path if store_full_path else os.path.basename(path)}
        yield LoadedSource(data, {**file_meta, **source_meta}, path)


def decode(loaded: LoadedSource, encoding: str) -> str | None:
    """The source's text in its meta's `encoding` (else `encoding`); None, logged, if it fails."""
    chosen = loaded.meta.get("encoding", encoding)
    try:
        return loaded.data.decode(chosen)
    except (UnicodeDecodeError, LookupError) as exc:
        logger.warning("Could not decode %s as %s; skipping it: %s", loaded.label, chosen, exc)
        return None
