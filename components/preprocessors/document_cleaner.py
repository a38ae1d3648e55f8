"""DocumentCleaner: whitespace, empty lines, unwanted strings and page headers removed from text."""

from __future__ import annotations

import logging
import re
import unicodedata
from copy import deepcopy
from typing import Any, Literal

from ragrun import Document, component

from .page_furniture import remove_headers_and_footers

logger = logging.getLogger(__name__)

_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
_RUNS_OF_WHITESPACE = re.compile(r"\s\s+")


@component
class DocumentCleaner:
    """Clean the text of documents, page by page (pages are separated by form feeds, `\\f`).

    Same name, init parameters and sockets as Haystack's DocumentCleaner, applying its steps in
    the same order: unicode normalization, ASCII folding, extra whitespace, empty lines,
    substrings, regex removal, regex replacement, repeated headers and footers, stripping; then
    documents shorter than `min_content_length` are dropped.

    Args:
        remove_empty_lines: drop lines that are empty or only whitespace.
        remove_extra_whitespaces: collapse runs of whitespace to one space, strip each page.
        remove_repeated_substrings: remove headers and footers repeated on every page.
        keep_id: keep each document's id (by default a cleaned document gets a new id, computed
            from its new content).
        remove_substrings: strings to delete.
        remove_regex: a regex whose matches are deleted (each page is then stripped).
        unicode_normalization: `NFC`, `NFKC`, `NFD` or `NFKD`, applied first.
        ascii_only: drop accents and every other non-ASCII character.
        strip_whitespaces: strip the whole text's leading and trailing whitespace.
        replace_regexes: regex -> replacement, applied in order.
        min_content_length: drop documents whose stripped text is shorter than this.

    Example:
        >>> cleaner = DocumentCleaner(remove_substrings=["DRAFT "])
        >>> cleaner.run([Document(content="This   is\\n\\n DRAFT text")])["documents"][0].content
        'This is text'
    """

    def __init__(
        self,
        remove_empty_lines: bool = True,
        remove_extra_whitespaces: bool = True,
        remove_repeated_substrings: bool = False,
        keep_id: bool = False,
        remove_substrings: list[str] | None = None,
        remove_regex: str | None = None,
        unicode_normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = None,
        ascii_only: bool = False,
        strip_whitespaces: bool = False,
        replace_regexes: dict[str, str] | None = None,
        min_content_length: int = 0,
    ) -> None:
        if unicode_normalization and unicode_normalization not in _FORMS:
            raise ValueError(
                f"unicode_normalization must be one of {', '.join(_FORMS)}, "
                f"not {unicode_normalization!r}"
            )
        if min_content_length < 0:
            raise ValueError(f"min_content_length must be 0 or more, not {min_content_length}")
        self.remove_empty_lines = remove_empty_lines
        self.remove_extra_whitespaces = remove_extra_whitespaces
        self.remove_repeated_substrings = remove_repeated_substrings
        self.keep_id = keep_id
        self.remove_substrings = remove_substrings
        self.remove_regex = remove_regex
        self.unicode_normalization = unicode_normalization
        self.ascii_only = ascii_only
        self.strip_whitespaces = strip_whitespaces
        self.replace_regexes = replace_regexes
        self.min_content_length = min_content_length
        # Compiled once here so a bad pattern fails when the pipeline loads, not mid-run.
        self._remove = re.compile(remove_regex) if remove_regex else None
        self._replace = [(re.compile(p), r) for p, r in (replace_regexes or {}).items()]

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Clean every document; the inputs are left unchanged, cleaned copies are returned.

        Returns:
            `{"documents": list[Document]}`; documents without text pass through as they are.
        """
        cleaned = []
        for doc in documents:
            if doc.content is None:
                logger.warning(
                    "DocumentCleaner: document %s has no text content; kept as is", doc.id
                )
                cleaned.append(doc)
                continue
            text = self.clean(doc.content)
            if len(text.strip()) < self.min_content_length:
                logger.debug(
                    "DocumentCleaner: document %s is too short once cleaned; dropped", doc.id
                )
                continue
            cleaned.append(
                Document(
                    content=text,
                    meta=deepcopy(doc.meta),
                    id=doc.id if self.keep_id else "",
                    embedding=doc.embedding,
                    score=doc.score,
                    blob=doc.blob,
                )
            )
        return {"documents": cleaned}

    def clean(self, text: str) -> str:
        """The cleaned text, every enabled step applied in order."""
        if self.unicode_normalization:
            text = unicodedata.normalize(self.unicode_normalization, text)
        if self.ascii_only:
            text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        if self.remove_extra_whitespaces:
            text = _per_page(text, lambda page: _RUNS_OF_WHITESPACE.sub(" ", page).strip())
        if self.remove_empty_lines:
            text = _per_page(
                text, lambda page: "\n".join(ln for ln in page.split("\n") if ln.strip())
            )
        for substring in self.remove_substrings or []:
            text = text.replace(substring, "")
        if self._remove is not None:
            pattern = self._remove
            text = _per_page(text, lambda page: pattern.sub("", page).strip())
        for pattern, replacement in self._replace:
            text = _per_page(text, lambda page, p=pattern, r=replacement: p.sub(r, page))
        if self.remove_repeated_substrings:
            text = remove_headers_and_footers(text)
        if self.strip_whitespaces:
            text = text.strip()
        return text


def _per_page(text: str, clean: Any) -> str:
    return "\f".join(clean(page) for page in text.split("\f"))
