"""MarkdownToDocument: Markdown files (paths, globs or ByteStreams) into plain-text Documents."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ragrun import ByteStream, Document, component

from .markdown_text import markdown_to_text
from .sources import decode, load

logger = logging.getLogger(__name__)

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


@component
class MarkdownToDocument:
    """Convert Markdown files into Documents holding their plain text (headings kept).

    Same name, init parameters and sockets as Haystack's MarkdownToDocument; ragrun also expands
    glob patterns among the sources (`docs/**/*.md`, see `sources.py`). The text keeps headings,
    paragraphs, list items, table cells and code, without markup (see `markdown_text.py`).

    Args:
        table_to_single_line: write each table's cells on one line.
        progress_bar: accepted for Haystack compatibility; ragrun reports progress itself (per
            component and per run), so nothing more is drawn.
        store_full_path: keep the path as given in `file_path`, instead of the file name only.
        encoding: how the files are encoded; a ByteStream's `meta["encoding"]` overrides it.
        extract_frontmatter: move a leading `---` YAML block out of the text into the meta.
    """

    def __init__(
        self,
        table_to_single_line: bool = False,
        progress_bar: bool = False,
        store_full_path: bool = False,
        encoding: str = "utf-8-sig",
        *,
        extract_frontmatter: bool = False,
    ) -> None:
        self.table_to_single_line = table_to_single_line
        self.progress_bar = progress_bar
        self.store_full_path = store_full_path
        self.encoding = encoding
        self.extract_frontmatter = extract_frontmatter

    @component.output_types(documents=list[Document])
    def run(
        self,
        sources: list[str | Path | ByteStream],
        meta: dict[str, Any] | list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Convert the sources; files that cannot be read or converted are skipped with a warning.

        Args:
            sources: file paths, glob patterns or ByteStreams.
            meta: one dict for every document, or one dict per source (a pattern's dict goes
                to every file it matches). It wins over front matter.

        Returns:
            `{"documents": list[Document]}`, in source order (matches of a pattern sorted).
        """
        documents = []
        for loaded in load(sources, meta, store_full_path=self.store_full_path):
            markdown = decode(loaded, self.encoding)
            if markdown is None:
                continue
            front: dict[str, Any] = {}
            if self.extract_frontmatter:
                markdown, front = _split_frontmatter(markdown, loaded.label)
            try:
                text = markdown_to_text(markdown, table_to_single_line=self.table_to_single_line)
            except Exception as exc:  # a parser bug must not sink a batch of files
                logger.warning("Could not convert %s; skipping it: %s", loaded.label, exc)
                continue
            documents.append(Document(content=text, meta={**front, **loaded.meta}))
        return {"documents": documents}


def _split_frontmatter(markdown: str, label: str) -> tuple[str, dict[str, Any]]:
    """The text after a leading YAML block, and that block's mapping ({} when there is none)."""
    match = _FRONTMATTER.match(markdown)
    if match is None:
        return markdown, {}
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(match.group("yaml"))
    except YAMLError as exc:
        logger.warning("Front matter of %s is not valid YAML; keeping it as text: %s", label, exc)
        return markdown, {}
    if not isinstance(data, dict):
        logger.warning("Front matter of %s is not a mapping; keeping it as text", label)
        return markdown, {}
    return markdown[match.end() :], _json_ready(data)


def _json_ready(value: Any) -> Any:
    # YAML dates and other scalars become strings so the meta stays JSON (and hashes stably).
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
