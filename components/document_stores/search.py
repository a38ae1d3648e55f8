"""Ranking arithmetic shared by the store's searches: scores in, best (row, score) pairs out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .bm25 import scaled as bm25_scaled
from .errors import DocumentStoreError

DOT_PRODUCT_SCALING_FACTOR = 100.0


def query_vector(query_embedding: Any) -> np.ndarray:
    """The query as a float32 vector; a ValueError when it is empty or not finite numbers."""
    try:
        vector = np.asarray(query_embedding, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"query_embedding must be a list of floats: {exc}") from exc
    if vector.ndim != 1 or vector.size == 0 or not np.isfinite(vector).all():
        raise ValueError("query_embedding must be a non-empty flat list of finite floats")
    return vector


def check_top_k(top_k: Any) -> None:
    """top_k is a whole number, 0 or more."""
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 0:
        raise ValueError(f"top_k must be an integer of at least 0, not {top_k!r}")


def best(scores: np.ndarray, top_k: int) -> np.ndarray:
    """Indices of the `top_k` highest scores, best first; ties keep the lower index first."""
    count = min(int(top_k), scores.size)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    if count < scores.size:
        # argpartition picks arbitrarily among scores tied with the last place; take the
        # earliest rows instead, so results are stable and equal Haystack's.
        threshold = scores[np.argpartition(-scores, count - 1)[count - 1]]
        above = np.flatnonzero(scores > threshold)
        tied = np.flatnonzero(scores == threshold)[: count - above.size]
        chosen = np.concatenate((above, tied))
    else:
        chosen = np.arange(scores.size)
    return chosen[np.lexsort((chosen, -scores[chosen]))]


def embedding_top(
    matrix: np.ndarray,
    norms: np.ndarray,
    candidates: np.ndarray,
    query: np.ndarray,
    top_k: int,
    *,
    cosine: bool,
    scale: bool,
) -> list[tuple[int, float]]:
    """The best candidate rows of `matrix` for `query` with their (scaled) scores."""
    if query.shape[0] != matrix.shape[1]:
        raise DocumentStoreError(
            f"the query embedding has size {query.shape[0]} but the stored embeddings have size "
            f"{matrix.shape[1]}: embed the query with the model that embedded the documents"
        )
    rows = None if candidates.all() else np.flatnonzero(candidates)
    if rows is None:
        scores = matrix @ query
    elif rows.size * 8 < len(matrix):  # few candidates: gathering their rows is cheaper
        scores = matrix[rows] @ query
    else:  # many: one product over the contiguous matrix beats copying their rows out
        scores = (matrix @ query)[rows]
    if cosine:
        lengths = (norms if rows is None else norms[rows]) * np.linalg.norm(query)
        scores = scores / np.where(lengths == 0.0, 1.0, lengths)
    order = best(scores, top_k)
    picked = order if rows is None else rows[order]
    out = []
    for row, score in zip(picked.tolist(), scores[order].tolist(), strict=True):
        if scale:
            score = (score + 1.0) / 2.0 if cosine else _expit(score / DOT_PRODUCT_SCALING_FACTOR)
        out.append((row, score))
    return out


def bm25_top(
    scores: np.ndarray, candidates: np.ndarray, top_k: int, *, keep_non_positive: bool, scale: bool
) -> list[tuple[int, float]]:
    """The best candidate rows by BM25 score; rows scoring <= 0 dropped unless kept (Okapi)."""
    keep = candidates if keep_non_positive else candidates & (scores > 0.0)
    rows = np.flatnonzero(keep)
    order = best(scores[rows], top_k)
    return [
        (row, bm25_scaled(score) if scale else score)
        for row, score in zip(rows[order].tolist(), scores[rows][order].tolist(), strict=True)
    ]


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
