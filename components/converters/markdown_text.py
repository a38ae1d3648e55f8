"""Markdown to plain text: markdown-it-py parses (CommonMark plus tables), this walks its tokens.

What is kept: the text of headings, paragraphs, list items, block quotes, table cells, code
blocks and inline code, link texts and image alt texts. What goes: markup characters, link
targets, HTML tags, thematic breaks. Top-level blocks are separated by a blank line (so
DocumentSplitter's `passage` unit sees them); lines inside one block (list items, the lines of a
paragraph, table rows) are separated by a newline.
"""

from __future__ import annotations

import re
from typing import Any

_TAG = re.compile(r"<[^>]*>")
_INLINE_TEXT = {"text", "code_inline"}
_BREAKS = {"softbreak", "hardbreak"}


class _Blocks:
    """Collects rendered pieces, grouped by the top-level block they belong to."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.table_rows: list[list[str]] | None = None

    def start_group(self) -> None:
        self.groups.append([])

    def add(self, text: str) -> None:
        if not text.strip():
            return
        if not self.groups:
            self.start_group()
        self.groups[-1].append(text)

    def text(self) -> str:
        return "\n\n".join("\n".join(group) for group in self.groups if group)


def markdown_to_text(source: str, *, table_to_single_line: bool = False) -> str:
    """The plain text of a Markdown document (see the module docstring for what is kept).

    Args:
        source: Markdown text.
        table_to_single_line: write each table on one line (cells separated by spaces) instead
            of one line per row with cells separated by ` | `.
    """
    from markdown_it import MarkdownIt  # imported here: only converting runs need it

    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    blocks = _Blocks()
    for token in parser.parse(source):
        if token.level == 0 and token.nesting >= 0:
            blocks.start_group()
        _visit(token, blocks, table_to_single_line)
    return blocks.text()


def _visit(token: Any, blocks: _Blocks, single_line: bool) -> None:
    kind = token.type
    if kind == "table_open":
        blocks.table_rows = []
    elif kind == "tr_open" and blocks.table_rows is not None:
        blocks.table_rows.append([])
    elif kind == "table_close" and blocks.table_rows is not None:
        rows = [row for row in blocks.table_rows if any(cell.strip() for cell in row)]
        if single_line:
            blocks.add(" ".join(cell for row in rows for cell in row if cell))
        else:
            for row in rows:
                blocks.add(" | ".join(row))
        blocks.table_rows = None
    elif kind == "inline":
        text = _inline_text(token.children or [])
        if blocks.table_rows:
            blocks.table_rows[-1].append(text.replace("\n", " ").strip())
        else:
            blocks.add(text)
    elif kind in ("fence", "code_block"):
        blocks.add(token.content.rstrip("\n"))
    elif kind == "html_block":
        blocks.add(_TAG.sub("", token.content).strip())


def _inline_text(children: list[Any]) -> str:
    parts = []
    for child in children:
        if child.type in _INLINE_TEXT:
            parts.append(child.content)
        elif child.type in _BREAKS:
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
    return "".join(parts)
