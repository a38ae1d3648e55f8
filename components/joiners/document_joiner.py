"""DocumentJoiner: several ranked lists of documents fused into one (hybrid retrieval)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from typing import Any, Literal

from ragrun import Document, Variadic, component
from ragrun.suggest import did_you_mean

logger = logging.getLogger(__name__)

# Reciprocal rank fusion's constant: the paper's 60, plus 1 because ranks count from 0 here.
RRF_K = 61


class JoinMode(StrEnum):
    """How DocumentJoiner combines its input lists."""

    CONCATENATE = "concatenate"
    MERGE = "merge"
    RECIPROCAL_RANK_FUSION = "reciprocal_rank_fusion"
    DISTRIBUTION_BASED_RANK_FUSION = "distribution_based_rank_fusion"


JoinModeName = Literal[
    "concatenate", "merge", "reciprocal_rank_fusion", "distribution_based_rank_fusion"
]


@component
class DocumentJoiner:
    """Join the document lists several senders deliver into one list, deduplicated by id.

    Same name, init parameters and sockets as Haystack's DocumentJoiner. Input documents are
    never changed: where a mode computes a new score the output holds a copy.

    Join modes:
        concatenate: all documents; of duplicates, the one with the best score.
        merge: duplicates' scores summed, each list's scores times its weight.
        reciprocal_rank_fusion: a document scores `sum(weight * k / (k + rank))` over the lists
            it appears in (k = 61, rank from 0), so a document first in every list scores 1.
        distribution_based_rank_fusion: each list's scores rescaled to mean ± 3 standard
            deviations, then concatenated.

    Args:
        join_mode: one of the modes above.
        weights: one per input list (merge and reciprocal_rank_fusion), normalised to sum to 1;
            equal weights by default.
        top_k: how many documents to return at most.
        sort_by_score: sort by score, best first (documents without a score last).
    """

    ragrun_on_loop = True
    """Runs on the event loop: a call takes microseconds, less than a worker-thread hop."""

    def __init__(
        self,
        join_mode: JoinModeName | JoinMode = "concatenate",
        weights: list[float] | None = None,
        top_k: int | None = None,
        sort_by_score: bool = True,
    ) -> None:
        if top_k is not None and top_k <= 0:
            raise ValueError(f"top_k must be greater than 0, not {top_k}")
        self.join_mode = _join_mode(join_mode)
        self.weights = _normalised(weights)
        self.top_k = top_k
        self.sort_by_score = sort_by_score
        modes: dict[JoinMode, Callable[[list[list[Document]]], list[Document]]] = {
            JoinMode.CONCATENATE: _concatenate,
            JoinMode.MERGE: self._merge,
            JoinMode.RECIPROCAL_RANK_FUSION: self._reciprocal_rank_fusion,
            JoinMode.DISTRIBUTION_BASED_RANK_FUSION: _distribution_based_rank_fusion,
        }
        self._join = modes[self.join_mode]

    @component.output_types(documents=list[Document])
    def run(self, documents: Variadic[list[Document]], top_k: int | None = None) -> dict[str, Any]:
        """Join the lists.

        Args:
            documents: the lists delivered by each sender, in connection order.
            top_k: overrides the init `top_k` for this run (0 returns nothing).

        Returns:
            `{"documents": list[Document]}`.
        """
        lists = [list(docs) for docs in documents]
        if (
            self.weights is not None
            and self.join_mode
            in (
                JoinMode.MERGE,
                JoinMode.RECIPROCAL_RANK_FUSION,
            )
            and len(self.weights) != len(lists)
        ):
            raise ValueError(
                f"DocumentJoiner has {len(self.weights)} weights but received {len(lists)} lists; "
                "give one weight per connected sender"
            )
        joined = self._join(lists)
        if self.sort_by_score:
            joined.sort(key=lambda d: d.score if d.score is not None else -math.inf, reverse=True)
        if top_k is not None and top_k < 0:
            raise ValueError(f"top_k must not be negative, not {top_k}")
        limit = top_k if top_k is not None else self.top_k
        return {"documents": joined if limit is None else joined[:limit]}

    def _weights_for(self, count: int) -> list[float]:
        return self.weights if self.weights is not None else [1 / count] * count

    def _merge(self, lists: list[list[Document]]) -> list[Document]:
        if not lists:
            return []
        scores: dict[str, float] = {}
        latest: dict[str, Document] = {}  # as Haystack: a duplicate's last copy, first position
        for docs, weight in zip(lists, self._weights_for(len(lists)), strict=True):
            for doc in docs:
                scores[doc.id] = scores.get(doc.id, 0.0) + (doc.score or 0.0) * weight
                latest[doc.id] = doc
        return [replace(doc, score=scores[doc_id]) for doc_id, doc in latest.items()]

    def _reciprocal_rank_fusion(self, lists: list[list[Document]]) -> list[Document]:
        if not lists:
            return []
        scores: dict[str, float] = {}
        latest: dict[str, Document] = {}  # as Haystack: a duplicate's last copy, first position
        for docs, weight in zip(lists, self._weights_for(len(lists)), strict=True):
            for rank, doc in enumerate(docs):
                scores[doc.id] = scores.get(doc.id, 0.0) + weight * RRF_K / (RRF_K + rank)
                latest[doc.id] = doc
        return [replace(doc, score=scores[doc_id]) for doc_id, doc in latest.items()]


def _concatenate(lists: list[list[Document]]) -> list[Document]:
    """Every document once; of duplicates, the best-scored (the first on a tie)."""
    best: dict[str, Document] = {}
    for docs in lists:
        for doc in docs:
            kept = best.get(doc.id)
            if kept is None or _score(doc) > _score(kept):
                best[doc.id] = doc
    return list(best.values())


def _distribution_based_rank_fusion(lists: list[list[Document]]) -> list[Document]:
    rescaled = []
    for docs in lists:
        scores = [doc.score or 0.0 for doc in docs]
        if not scores:
            continue
        mean = sum(scores) / len(scores)
        spread = 3 * math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        low, width = mean - spread, 2 * spread
        varied = min(scores) != max(scores) and width != 0.0
        rescaled.append(
            [
                replace(d, score=(s - low) / width if varied else s)
                for d, s in zip(docs, scores, strict=True)
            ]
        )
    return _concatenate(rescaled)


def _score(doc: Document) -> float:
    return doc.score if doc.score is not None else -math.inf


def _join_mode(mode: Any) -> JoinMode:
    if isinstance(mode, JoinMode):
        return mode
    names = [m.value for m in JoinMode]
    if mode not in names:
        raise ValueError(
            f"join_mode must be one of {', '.join(names)}, not {mode!r}."
            + did_you_mean(str(mode), names)
        )
    return JoinMode(mode)


def _normalised(weights: list[float] | None) -> list[float] | None:
    if not weights:
        return None
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must not be negative: {weights}")
    total = sum(weights)
    if total == 0:
        raise ValueError("weights must not all be zero")
    return [float(w) / total for w in weights]
