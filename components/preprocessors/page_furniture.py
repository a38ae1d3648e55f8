"""Page headers and footers: text repeated at the top or bottom of every page, found and removed.

The heuristic is Haystack's: look at the first (for headers) or last (for footers) 300
characters of every page but the first and the last (title pages and back matter often differ),
find the longest run of 3 to 29 words they all share, and delete it from every page. It finds
fixed furniture ("ACME Corp - Confidential") but not text that changes per page ("Page 3 of 9").
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce

_WINDOW = 300
_MIN_WORDS, _MAX_WORDS = 3, 30


def remove_headers_and_footers(text: str) -> str:
    """`text` (pages separated by form feeds) without the header and footer every page repeats."""
    pages = text.split("\f")
    header = longest_common_ngram([page[:_WINDOW] for page in pages[1:-1]])
    if header:
        pages = [page.replace(header, "") for page in pages]
    footer = longest_common_ngram([page[-_WINDOW:] for page in pages[1:-1]])
    if footer:
        pages = [page.replace(footer, "") for page in pages]
    return "\f".join(pages)


def longest_common_ngram(texts: list[str]) -> str:
    """The longest run of words present in every non-empty text ("" when fewer than two)."""
    texts = [t for t in texts if t]
    if len(texts) < 2:
        return ""  # one text has nothing "in common"; its own words are not furniture
    shared = reduce(set.intersection, (set(_ngrams(t)) for t in texts))
    # Longest first; ties broken by the text itself so the result never depends on set order.
    best = max(shared, key=lambda s: (len(s), s), default="")
    return best if best.strip() else ""


def _ngrams(text: str) -> Iterator[str]:
    # A newline or tab starts a new word but stays in the text, so a match keeps the layout.
    words = text.replace("\n", " \n").replace("\t", " \t").split(" ")
    for n in range(_MIN_WORDS, _MAX_WORDS):
        for i in range(len(words) - n + 1):
            yield " ".join(words[i : i + n]).replace(" \n", "\n").replace(" \t", "\t")
