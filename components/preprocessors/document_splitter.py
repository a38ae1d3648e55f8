"""DocumentSplitter: long documents cut into overlapping chunks of words, sentences, lines, ..."""

from __future__ import annotations

import logging
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, Literal

from ragrun import Document, component
from ragrun.allowlist import current
from ragrun.registry import UnknownTypeError, import_callable

from .sentences import SentenceSplitter

logger = logging.getLogger(__name__)

SplitBy = Literal["word", "sentence", "passage", "page", "line", "period", "function"]
# The delimiter each unit ends with; it stays attached to the unit it ends.
_DELIMITERS = {"word": " ", "passage": "\n\n", "page": "\f", "line": "\n", "period": "."}


@dataclass
class _Chunks:
    """Chunk texts with where each starts: its character offset and its page in the source."""

    texts: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)

    def add(self, text: str, start: int, page: int) -> None:
        self.texts.append(text)
        self.starts.append(start)
        self.pages.append(page)


@component
class DocumentSplitter:
    """Split documents into chunks of `split_length` units, each remembering where it came from.

    Same name, init parameters, sockets and chunk metadata as Haystack's DocumentSplitter: each
    chunk's meta is its document's meta plus `source_id` (the document's id), `page_number`
    (counting form feeds), `split_id` (its position) and `split_idx_start` (its character
    offset); with an overlap, `_split_overlap` lists `{doc_id, range}` of the neighbours it
    shares text with.

    Sentences are found by ragrun's regex splitter instead of NLTK (see `sentences.py` for what
    it does and its limits); `split_by="token"` (tiktoken) is not available.

    Args:
        split_by: the unit: `word` (spaces), `sentence`, `passage` (blank lines), `page` (form
            feeds), `line`, `period` (`.`), or `function` (`splitting_function`).
        split_length: units per chunk.
        split_overlap: units each chunk repeats from the previous one.
        split_threshold: a last chunk with fewer units is appended to the one before.
        splitting_function: for `function`: a callable, or a dotted import path to one, that
            cuts a text into a list of texts.
        respect_sentence_boundary: with `word`, make chunks of whole sentences of at most
            `split_length` words.
        language: `en` or `de` abbreviations for the sentence splitter.
        use_split_rules: let a blank line end a sentence.
        extend_abbreviations: use the longer abbreviation lists.
        skip_empty_documents: leave out documents and chunks with no text.

    Example:
        >>> splitter = DocumentSplitter(split_by="word", split_length=3)
        >>> chunks = splitter.run([Document(content="one two three four five")])["documents"]
        >>> [c.content for c in chunks]
        ['one two three ', 'four five']
    """

    def __init__(
        self,
        split_by: SplitBy = "word",
        split_length: int = 200,
        split_overlap: int = 0,
        split_threshold: int = 0,
        splitting_function: Callable[[str], list[str]] | str | None = None,
        respect_sentence_boundary: bool = False,
        language: str = "en",
        use_split_rules: bool = True,
        extend_abbreviations: bool = True,
        *,
        skip_empty_documents: bool = True,
    ) -> None:
        _check(split_by, split_length, split_overlap, splitting_function)
        if respect_sentence_boundary and split_by != "word":
            logger.warning("respect_sentence_boundary only applies to split_by='word'; ignoring it")
            respect_sentence_boundary = False
        self.split_by = split_by
        self.split_length = split_length
        self.split_overlap = split_overlap
        self.split_threshold = split_threshold
        self.splitting_function = splitting_function
        self.respect_sentence_boundary = respect_sentence_boundary
        self.language = language
        self.use_split_rules = use_split_rules
        self.extend_abbreviations = extend_abbreviations
        self.skip_empty_documents = skip_empty_documents
        self._sentences = SentenceSplitter(
            language, extend_abbreviations=extend_abbreviations, paragraph_breaks=use_split_rules
        )
        self._function: Callable[[str], list[str]] | None = None
        # A dotted path is imported at warm_up, under the module allowlist of the load that
        # declared it (a pipeline file may only name functions of allowed modules).
        self._allowlist = current()

    def warm_up(self) -> None:
        """Import a `splitting_function` given as a dotted path."""
        if self.split_by == "function" and self._function is None:
            self._function = _resolve_function(self.splitting_function, self._allowlist)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Split every document; the input documents are left unchanged.

        Returns:
            `{"documents": list[Document]}`: the chunks of all documents, in order.

        Raises:
            ValueError: a document has no text content.
        """
        self.warm_up()
        chunks: list[Document] = []
        for doc in documents:
            if doc.content is None:
                raise ValueError(
                    f"DocumentSplitter splits text, but document {doc.id} has no content"
                )
            if doc.content == "" and self.skip_empty_documents:
                logger.warning("Document %s has empty content; skipping it", doc.id)
                continue
            chunks += self._documents(doc, self._split(doc.content))
        return {"documents": chunks}

    def _split(self, text: str) -> _Chunks:
        if self.split_by == "function":
            assert self._function is not None
            return self._locate(text, self._function(text))
        if self.split_by == "sentence":
            return self._windows(self._sentences.split(text))
        if self.respect_sentence_boundary:
            return self._sentence_groups(self._sentences.split(text))
        delimiter = _DELIMITERS[self.split_by]
        units = text.split(delimiter)
        units = [unit + delimiter for unit in units[:-1]] + units[-1:]
        return self._windows(units)

    def _windows(self, units: list[str]) -> _Chunks:
        """Slide a window of `split_length` units forward by `split_length - split_overlap`."""
        length, overlap = self.split_length, self.split_overlap
        step = length - overlap
        chunks = _Chunks()
        offset, page, start = 0, 1, 0
        while True:
            window = units[start : start + length]
            text = "".join(window)
            fresh = window[overlap:] if start else window
            if overlap and chunks.texts and not "".join(fresh):
                pass  # nothing new beyond the overlap (e.g. a trailing delimiter's empty unit)
            elif len(window) < self.split_threshold and chunks.texts:
                chunks.texts[-1] += "".join(window[overlap:])
            elif text or not self.skip_empty_documents:
                chunks.add(text, offset, page)
            passed = window[:step]
            offset += sum(len(unit) for unit in passed)
            page += len(passed) if self.split_by == "page" else sum(u.count("\f") for u in passed)
            if start + length >= len(units):
                return chunks
            start += step

    def _sentence_groups(self, sentences: list[str]) -> _Chunks:
        """Whole sentences per chunk, at most `split_length` words, overlapping by sentences."""
        chunks = _Chunks()
        current: list[str] = []
        offset, page = 0, 1
        for index, sentence in enumerate(sentences):
            current.append(sentence)
            words = sum(len(s.split()) for s in current)
            upcoming = len(sentences[index + 1].split()) if index + 1 < len(sentences) else 0
            if words + upcoming <= self.split_length and index + 1 < len(sentences):
                continue
            text = "".join(current)
            if text:
                chunks.add(text, offset, page)
            keep = _sentences_to_keep(current, self.split_length, self.split_overlap)
            passed = current[: len(current) - keep]
            offset += sum(len(s) for s in passed)
            page += sum(s.count("\f") for s in passed)
            current = current[len(current) - keep :]
        return chunks

    def _locate(self, text: str, pieces: list[str]) -> _Chunks:
        """Find where each piece a splitting function returned starts in the text, if it does."""
        chunks = _Chunks()
        cursor, previous = 0, 0
        for piece in pieces:
            if self.skip_empty_documents and not piece:
                continue
            found = text.find(piece, cursor)
            if found == -1 and chunks.texts:
                found = text.find(piece, previous + 1)  # a window overlapping the previous one
            start = found if found != -1 else cursor
            chunks.add(piece, start, 1 + text.count("\f", 0, start))
            previous, cursor = start, start + len(piece)
        return chunks

    def _documents(self, doc: Document, chunks: _Chunks) -> list[Document]:
        out: list[Document] = []
        for index, (text, start, page) in enumerate(
            zip(chunks.texts, chunks.starts, chunks.pages, strict=True)
        ):
            meta = deepcopy(doc.meta)
            meta.update(
                source_id=doc.id,
                page_number=page + _leading_page_breaks(text),
                split_id=index,
                split_idx_start=start,
            )
            chunk = Document(content=text, meta=meta)
            out.append(chunk)
            if self.split_overlap > 0:
                chunk.meta["_split_overlap"] = []  # added after the id, as Haystack does
                if index > 0:
                    _record_overlap(out[index - 1], chunks.starts[index - 1], chunk, start)
        return out


def _record_overlap(previous: Document, previous_start: int, current: Document, start: int) -> None:
    """Note in both chunks' meta the character range they share, if the current starts inside."""
    assert previous.content is not None and current.content is not None
    begin, end = start - previous_start, len(previous.content)
    if begin >= end:
        return
    shared = previous.content[begin:end]
    if current.content.startswith(shared):
        current.meta["_split_overlap"].append({"doc_id": previous.id, "range": (begin, end)})
        previous.meta["_split_overlap"].append({"doc_id": current.id, "range": (0, end - begin)})


def _sentences_to_keep(sentences: list[str], length: int, overlap: int) -> int:
    """How many trailing sentences the next chunk repeats to overlap by about `overlap` words."""
    if overlap == 0:
        return 0
    keep, words = 0, 0
    for sentence in reversed(sentences[1:]):  # never repeat the whole chunk
        words += len(sentence.split())
        if words > length:
            break
        keep += 1
        if words > overlap:
            break
    return keep


def _leading_page_breaks(text: str) -> int:
    """Pages a chunk starts past its first character: the form feeds it opens with.

    A chunk of nothing but form feeds is an empty page and stays on the page it starts on.
    """
    stripped = text.lstrip("\f")
    return 0 if not stripped else len(text) - len(stripped)


def _check(split_by: str, length: int, overlap: int, function: Any) -> None:
    allowed = ("word", "sentence", "passage", "page", "line", "period", "function")
    if split_by == "token":
        raise ValueError("split_by='token' (tiktoken) is not available in ragrun; use 'word'")
    if split_by not in allowed:
        raise ValueError(f"split_by must be one of {', '.join(allowed)}, not {split_by!r}")
    if split_by == "function" and function is None:
        raise ValueError("split_by='function' needs a splitting_function")
    if length <= 0:
        raise ValueError(f"split_length must be greater than 0, not {length}")
    if overlap < 0:
        raise ValueError(f"split_overlap must be 0 or more, not {overlap}")
    if overlap >= length:
        raise ValueError(f"split_overlap ({overlap}) must be less than split_length ({length})")


def _resolve_function(function: Any, allowlist: Any) -> Callable[[str], list[str]]:
    if callable(function):
        return function
    try:
        return import_callable(str(function), "splitting_function", allowlist)  # type: ignore[no-any-return]
    except UnknownTypeError as exc:
        raise ValueError(f"{exc}; give 'package.module.function'") from None
