"""BM25 keyword scoring with numpy: postings arrays, no Python loop over documents.

Scores are Haystack's InMemoryDocumentStore scores (BM25Okapi, BM25L and BM25Plus with the same
parameters, tokenizer and corner cases), so a pipeline keeps its ranking when it moves here. The
index is built from all documents that have content (they are N and the average length) and
rebuilt when the documents changed; each document's tokens are cached by content, so a rebuild
after a write only tokenizes the new texts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from ragrun import Document
from ragrun.suggest import did_you_mean

# Haystack's default: word tokens, plus one token per CJK character (scripts written without
# spaces), after lowercasing and NFC normalisation.
_CJK = (
    r"\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u3130-\u318f\uac00-\ud7af\u3041-\u3096"
    r"\u30a1-\u30fa\u30fc\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    r"\uffa0-\uffdc"
)
DEFAULT_TOKENIZATION_REGEX = rf"[^\W{_CJK}]+|[{_CJK}]"
ALGORITHMS = ("BM25Okapi", "BM25L", "BM25Plus")
_DEFAULTS: dict[str, dict[str, float]] = {
    "BM25Okapi": {"k1": 1.5, "b": 0.75, "epsilon": 0.25},
    "BM25L": {"k1": 1.5, "b": 0.75, "delta": 0.5},
    "BM25Plus": {"k1": 1.5, "b": 0.75, "delta": 1.0},
}


def check_algorithm(algorithm: str) -> str:
    """The algorithm's name, or a ValueError listing the ones there are."""
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"bm25_algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}."
            + did_you_mean(str(algorithm), ALGORITHMS)
        )
    return algorithm


class BM25Index:
    """Term postings of the stored documents and the scores of a query against them."""

    def __init__(self, regex: str, algorithm: str, parameters: dict[str, Any] | None) -> None:
        self._findall = re.compile(regex).findall
        self.algorithm = check_algorithm(algorithm)
        params = {**_DEFAULTS[algorithm], **(parameters or {})}
        self._k1, self._b = float(params["k1"]), float(params["b"])
        self._delta = float(params.get("delta", 0.0))
        self._epsilon = float(params.get("epsilon", 0.0))
        self._vocab: dict[str, int] = {}
        self._token_cache: dict[str, np.ndarray] = {}
        self._clear(0)

    def tokenize(self, text: str) -> list[str]:
        """Lowercase, NFC-normalise and split `text` with the tokenization regex."""
        return self._findall(unicodedata.normalize("NFC", text.lower()))

    def _clear(self, rows: int) -> None:
        self._rows = rows
        self._ptr = np.zeros(1, dtype=np.int64)
        self._post_rows = np.zeros(0, dtype=np.int64)
        self._post_tf = np.zeros(0, dtype=np.float64)
        self._doc_len = np.zeros(rows, dtype=np.float64)
        self._idf = np.zeros(0, dtype=np.float64)
        self._avg_len = 0.0

    def rebuild(self, documents: Sequence[Document]) -> None:
        """Index `documents` (row i of the scores is documents[i])."""
        cache: dict[str, np.ndarray] = {}
        per_row = []
        for doc in documents:
            if doc.content is None:
                per_row.append(np.zeros(0, dtype=np.int64))
                continue
            ids = cache.get(doc.content)
            if ids is None:
                ids = self._token_cache.get(doc.content)
                if ids is None:
                    ids = self._term_ids(doc.content)
                cache[doc.content] = ids
            per_row.append(ids)
        self._token_cache = cache  # forget the texts no stored document has any more
        has_content = np.fromiter((d.content is not None for d in documents), bool, len(documents))
        self._build(per_row, has_content)

    def _term_ids(self, text: str) -> np.ndarray:
        vocab = self._vocab
        return np.fromiter(
            (vocab.setdefault(token, len(vocab)) for token in self.tokenize(text)), dtype=np.int64
        )

    def _build(self, per_row: list[np.ndarray], has_content: np.ndarray) -> None:
        rows, terms = len(per_row), len(self._vocab)
        self._clear(rows)
        lengths = np.fromiter((len(ids) for ids in per_row), dtype=np.int64, count=rows)
        self._doc_len = lengths.astype(np.float64)
        corpus = int(has_content.sum())
        self._avg_len = float(lengths[has_content].mean()) if corpus else 0.0
        df = np.zeros(terms, dtype=np.int64)
        if lengths.sum():
            row_of = np.repeat(np.arange(rows, dtype=np.int64), lengths)
            keys, tf = np.unique(np.concatenate(per_row) * rows + row_of, return_counts=True)
            post_terms = keys // rows
            df = np.bincount(post_terms, minlength=terms)
            self._ptr = np.concatenate(([0], np.cumsum(df)))
            self._post_rows = keys % rows
            self._post_tf = tf.astype(np.float64)
        self._idf = self._inverse_document_frequency(df, corpus)

    def _inverse_document_frequency(self, df: np.ndarray, corpus: int) -> np.ndarray:
        present = df > 0
        n = df.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.algorithm == "BM25L":
                idf = np.log((corpus + 1.0) / (n + 0.5))
            elif self.algorithm == "BM25Plus":
                idf = np.log(1.0 + (corpus - n + 0.5) / (n + 0.5))
            else:
                idf = np.log((corpus - n + 0.5) / (n + 0.5))
                if present.any():
                    # Okapi: a negative idf (a term in most documents) becomes epsilon times
                    # the mean idf over the vocabulary, as rank_bm25 and Haystack do.
                    floor = self._epsilon * float(idf[present].mean())
                    idf = np.where(present & (idf < 0), floor, idf)
        return np.where(present, idf, 0.0)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every row for `query` (each distinct query token counted once)."""
        scores = np.zeros(self._rows, dtype=np.float64)
        if self._avg_len == 0.0:  # no tokens anywhere: every score is 0, as in Haystack
            return scores
        k1, b = self._k1, self._b
        for token in dict.fromkeys(self.tokenize(query)):
            term = self._vocab.get(token)
            if term is None or term >= len(self._idf) or self._idf[term] == 0.0:
                continue
            start, end = self._ptr[term], self._ptr[term + 1]
            rows, tf = self._post_rows[start:end], self._post_tf[start:end]
            norm = 1.0 - b + b * self._doc_len[rows] / self._avg_len
            if self.algorithm == "BM25L":
                ctd = tf / norm
                part = (1.0 + k1) * (ctd + self._delta) / (k1 + ctd + self._delta)
            else:
                part = tf * (1.0 + k1) / (tf + k1 * norm)
                if self.algorithm == "BM25Plus":
                    part = part + self._delta
            scores[rows] += self._idf[term] * part
        return scores


def scaled(score: float) -> float:
    """Haystack's BM25 scaling to (0, 1): expit(score / 8)."""
    return 1.0 / (1.0 + math.exp(-score / 8.0))
