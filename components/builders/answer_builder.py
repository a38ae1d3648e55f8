"""AnswerBuilder and GeneratedAnswer: a generator's replies turned into answers citing documents."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ragrun import ChatMessage, Document, component

logger = logging.getLogger(__name__)

DEFAULT_REFERENCE_PATTERN = r"\[(\d+)\]"
# With expand_reference_ranges, the default pattern also reads `[2,4]` and `[6-10]`.
EXPANDED_REFERENCE_PATTERN = r"\[(\d+(?:[,-]\d+)*)\]"


@dataclass
class GeneratedAnswer:
    """An answer produced by a generator: its text, the query, the documents it cites, metadata."""

    data: str
    query: str
    documents: list[Document] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; documents and chat messages in meta become dicts too."""
        meta = dict(self.meta)
        if "all_messages" in meta:
            meta["all_messages"] = [
                m.to_dict() if isinstance(m, ChatMessage) else m for m in meta["all_messages"]
            ]
        return {
            "data": self.data,
            "query": self.query,
            "documents": [d.to_dict() for d in self.documents],
            "meta": meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratedAnswer:
        """Inverse of `to_dict`."""
        return cls(
            data=data["data"],
            query=data["query"],
            documents=[Document.from_dict(d) for d in data.get("documents") or []],
            meta=dict(data.get("meta") or {}),
        )


@component
class AnswerBuilder:
    """Turn generator replies into `GeneratedAnswer`s, optionally cutting them with regexes.

    Same name, init parameters and sockets as Haystack's AnswerBuilder.

    Args:
        pattern: a regex picking the answer out of a reply (its one capture group, or the whole
            match); without it the whole reply is the answer; no match gives `""`.
        reference_pattern: a regex finding the 1-based document numbers a reply cites, e.g.
            `\\[(\\d+)\\]`; cited documents get `meta["referenced"]`.
        last_message_only: answer from the last reply only.
        return_only_referenced_documents: with `reference_pattern`, keep only cited documents.
        expand_reference_ranges: read `[6-10]` and `[2,4]` as several citations.

    Example:
        >>> builder = AnswerBuilder(pattern=r"Answer: (.*)")
        >>> builder.run(query="q", replies=["Thinking... Answer: 42"])["answers"][0].data
        '42'
    """

    ragrun_on_loop = True
    """Runs on the event loop: a call takes microseconds, less than a worker-thread hop."""

    def __init__(
        self,
        pattern: str | None = None,
        reference_pattern: str | None = None,
        last_message_only: bool = False,
        *,
        return_only_referenced_documents: bool = True,
        expand_reference_ranges: bool = False,
    ) -> None:
        if pattern:
            _check_groups(pattern)
        self.pattern = pattern
        self.reference_pattern = reference_pattern
        self.last_message_only = last_message_only
        self.return_only_referenced_documents = return_only_referenced_documents
        self.expand_reference_ranges = expand_reference_ranges

    @component.output_types(answers=list[GeneratedAnswer])
    def run(
        self,
        query: str,
        replies: list[str] | list[ChatMessage],
        meta: list[dict[str, Any]] | None = None,
        documents: list[Document] | None = None,
        pattern: str | None = None,
        reference_pattern: str | None = None,
        expand_reference_ranges: bool | None = None,
    ) -> dict[str, Any]:
        """Build one answer per reply.

        Args:
            query: the question the replies answer.
            replies: the generator's replies, as strings or chat messages.
            meta: one metadata dict per reply, merged over a chat message's own meta.
            documents: the documents the prompt showed; answers carry copies with
                `meta["source_index"]` (1-based); the inputs are left unchanged.
            pattern: overrides the init `pattern` for this run.
            reference_pattern: overrides the init `reference_pattern` for this run.
            expand_reference_ranges: overrides the init value for this run.

        Returns:
            `{"answers": list[GeneratedAnswer]}`.
        """
        if meta and len(meta) != len(replies):
            raise ValueError(
                f"AnswerBuilder: {len(replies)} replies but {len(meta)} meta dicts; "
                "give one per reply"
            )
        if pattern:
            _check_groups(pattern)
        pattern = pattern or self.pattern
        expand = (
            self.expand_reference_ranges
            if expand_reference_ranges is None
            else expand_reference_ranges
        )
        references = reference_pattern or self.reference_pattern
        if references == DEFAULT_REFERENCE_PATTERN and expand:
            references = EXPANDED_REFERENCE_PATTERN
        metas = list(meta) if meta else [{} for _ in replies]
        pairs = list(zip(replies, metas, strict=True))
        if self.last_message_only:
            pairs = pairs[-1:]
        answers = []
        for reply, given in pairs:
            text = (reply.text or "") if isinstance(reply, ChatMessage) else str(reply)
            own = reply.meta if isinstance(reply, ChatMessage) else {}
            answer_meta = {**own, **given, "all_messages": list(replies)}
            cited = self._documents_for(text, documents or [], references, expand)
            answers.append(GeneratedAnswer(_extract(text, pattern), query, cited, answer_meta))
        return {"answers": answers}

    def _documents_for(
        self, text: str, documents: list[Document], references: str | None, expand: bool
    ) -> list[Document]:
        if not documents:
            return []
        cited = _cited_indexes(text, references, expand, len(documents)) if references else set()
        keep = (
            cited if references and self.return_only_referenced_documents else range(len(documents))
        )
        out = []
        for index in sorted(keep):
            if not 0 <= index < len(documents):
                logger.warning(
                    "AnswerBuilder: the reply cites document %d, which was not given", index + 1
                )
                continue
            doc = documents[index]
            doc_meta = {**doc.meta, "source_index": index + 1}
            if references:
                doc_meta["referenced"] = index in cited
            out.append(replace(doc, meta=doc_meta))
        return out


def _extract(text: str, pattern: str | None) -> str:
    if pattern is None:
        return text
    match = re.search(pattern, text)
    if match is None:
        return ""
    return match.group(1) if match.lastindex else match.group(0)


def _cited_indexes(text: str, pattern: str, expand: bool, count: int) -> set[int]:
    """0-based indexes of the documents a reply cites (`[1]` is the first document)."""
    indexes: set[int] = set()
    for found in re.findall(pattern, text):
        parts = found.split(",") if expand else [found]
        for part in (p.strip() for p in parts):
            if expand and "-" in part:
                start, _, end = part.partition("-")
                if int(start) <= int(end):
                    indexes.update(range(int(start) - 1, min(int(end), count)))
            elif part:
                indexes.add(int(part) - 1)
    return indexes


def _check_groups(pattern: str) -> None:
    if re.compile(pattern).groups > 1:
        raise ValueError(
            f"AnswerBuilder pattern {pattern!r} has {re.compile(pattern).groups} capture groups; "
            "use at most one (its text becomes the answer)"
        )
