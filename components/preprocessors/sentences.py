"""A regex sentence splitter: no NLTK, no model download, good enough for English and German prose.

A sentence ends at `.`, `!`, `?` or `…` (possibly repeated, possibly followed by closing quotes
or brackets) followed by whitespace, unless:
- the word before a `.` is a known abbreviation (`Dr.`, `e.g.`, `etc.`, `z.B.`), a single
  letter (an initial: `J. R. R. Tolkien`) or a number followed by a lowercase word;
- the next word starts with a lowercase letter (after `.` only: `approx. three`).
With `paragraph_breaks`, a blank line also ends a sentence (a heading without a full stop).

Limits, compared with NLTK's Punkt used by Haystack: no statistics learned from text, so an
unknown abbreviation followed by a capitalised name (`Acme Corp. Smith said`) splits, and a
sentence ending in an abbreviation (`... and so on etc. Next`) does not. The pieces always
concatenate back to the input exactly (whitespace stays with the sentence before it), which is
what DocumentSplitter needs to report `split_idx_start`.
"""

from __future__ import annotations

import re
from itertools import pairwise

_ENGLISH = """
mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al approx dept est fig figs eq eqs no nos
vol vols pp p ch sec inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec
mon tue wed thu fri sat sun gen col lt sgt capt rev hon ave blvd rd
"""
_ENGLISH_EXTENDED = """
a.m p.m u.s u.k u.n ph.d b.a m.a b.sc m.sc ed eds trans repr ca c ibid op cit viz
misc min max dist govt intl natl assn bros esp incl nb ps
"""
_GERMAN = """
z.b d.h u.a usw bzw ca evtl ggf inkl vgl nr abs str bzw. dr prof hr fr
s u.u z.t o.ä sog geb gest jh mio mrd
"""
_GERMAN_EXTENDED = "bspw d.i i.a u.ä m.e s.o s.u u.v.m zzgl abb anm aufl bd hrsg"

_ABBREVIATIONS = {
    ("en", False): _ENGLISH,
    ("en", True): _ENGLISH + _ENGLISH_EXTENDED,
    ("de", False): _GERMAN,
    ("de", True): _GERMAN + _GERMAN_EXTENDED,
}

# A candidate end: terminators, closing quotes/brackets, then the whitespace after them.
_END = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)(\s+)")  # \u2026 is an ellipsis
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")


class SentenceSplitter:
    """Split text into sentences that concatenate back to the text.

    Args:
        language: `"en"` or `"de"` chooses the abbreviation list (others use English's).
        extend_abbreviations: add a longer list of abbreviations.
        paragraph_breaks: treat a blank line as the end of a sentence.
    """

    def __init__(
        self,
        language: str = "en",
        *,
        extend_abbreviations: bool = True,
        paragraph_breaks: bool = True,
    ) -> None:
        words = (
            _ABBREVIATIONS.get((language, extend_abbreviations))
            or _ABBREVIATIONS[("en", extend_abbreviations)]
        )
        self.abbreviations = frozenset(w.rstrip(".") for w in words.split())
        self.paragraph_breaks = paragraph_breaks

    def split(self, text: str) -> list[str]:
        """The sentences of `text`; `"".join(result) == text`."""
        cuts = {m.end() for m in _END.finditer(text) if self._ends_sentence(text, m)}
        if self.paragraph_breaks:
            cuts |= {m.end() for m in _PARAGRAPH.finditer(text)}
        cuts.discard(len(text))
        bounds = [0, *sorted(cuts), len(text)]
        return [text[a:b] for a, b in pairwise(bounds) if b > a]

    def _ends_sentence(self, text: str, match: re.Match[str]) -> bool:
        if match.end() >= len(text):
            return True
        if match.group(1) != ".":
            return True  # `!`, `?`, `...` end a sentence whatever follows
        following = text[match.end()]
        start = match.start()
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        before = text[start : match.start()].lower().lstrip("\"'\u201c\u2018([")
        if before in self.abbreviations:
            return False
        if len(before) == 1 and before.isalpha():
            return False  # an initial
        return not following.islower()
