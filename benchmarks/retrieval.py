"""Retrieval latency: ragrun's InMemoryDocumentStore vs Haystack's, 10k and 100k documents.

Run: `python benchmarks/retrieval.py [--sizes 10000 100000] [--seconds 20]` (needs the
`bench` extra for haystack-ai).

Both stores hold the same documents: random 384-d unit vectors (as all-MiniLM-L6-v2 makes
with `normalize_embeddings`) and 30 words of text each, written in one call. Each query is a
fresh random unit vector (top_k=10, no filters, dot product, Haystack's default). The first
queries are a warm-up (they also build ragrun's cached matrix and BM25 index), then each side
answers queries until it has done `--queries` or spent `--seconds`, whichever comes first;
the figure is the median latency. BM25 (3-word queries) at the smallest size is extra
information: no target.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from statistics import median

import numpy as np

from ragrun import Document

DIM = 384
TOP_K = 10


def corpus(count: int) -> tuple[list[str], list[list[float]], list[str]]:
    """Texts, unit embeddings (as lists, what Document holds) and the vocabulary used."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(5000)]
    picks = rng.integers(0, len(words), size=(count, 30))
    texts = [" ".join(words[j] for j in row) for row in picks]
    return texts, vectors.tolist(), words


def ragrun_store(texts: list[str], embeddings: list[list[float]]):
    from ragrun.components.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    store.write_documents(
        [Document(content=t, embedding=e) for t, e in zip(texts, embeddings, strict=True)]
    )
    return store


def haystack_store(texts: list[str], embeddings: list[list[float]]):
    from haystack import Document as HDocument
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    store.write_documents(
        [HDocument(content=t, embedding=e) for t, e in zip(texts, embeddings, strict=True)]
    )
    return store


def latency(search: Callable[[object], list], queries: list, limit: int, seconds: float) -> float:
    """Median seconds per query after 3 warm-up queries, within `limit` queries / `seconds`."""
    for query in queries[:3]:
        assert len(search(query)) > 0
    times = []
    deadline = time.perf_counter() + seconds
    for query in queries[3 : 3 + limit]:
        start = time.perf_counter()
        search(query)
        times.append(time.perf_counter() - start)
        if start > deadline and len(times) >= 5:
            break
    return median(times)


def query_vectors(count: int) -> list[list[float]]:
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.tolist()


def same_top(ours: list, theirs: list) -> bool:
    """Both stores found the same documents (by content: the libraries hash ids differently)."""
    return [d.content for d in ours] == [d.content for d in theirs]


def row(name: str, ours: float, theirs: float) -> str:
    return f"| {name} | {ours * 1e3:.3f} ms | {theirs * 1e3:.3f} ms | {theirs / ours:.1f}x |"


def measure(size: int, args: argparse.Namespace, lines: list[str], bm25: bool) -> None:
    texts, embeddings, words = corpus(size)
    started = time.perf_counter()
    ours = ragrun_store(texts, embeddings)
    ours_write = time.perf_counter() - started
    started = time.perf_counter()
    theirs = haystack_store(texts, embeddings)
    theirs_write = time.perf_counter() - started
    del embeddings
    queries = query_vectors(args.queries + 3)
    assert same_top(
        ours.embedding_retrieval(queries[0], top_k=TOP_K),
        theirs.embedding_retrieval(queries[0], top_k=TOP_K),
    )
    r = latency(
        lambda q: ours.embedding_retrieval(q, top_k=TOP_K), queries, args.queries, args.seconds
    )
    h = latency(
        lambda q: theirs.embedding_retrieval(q, top_k=TOP_K), queries, args.queries, args.seconds
    )
    lines.append(row(f"embedding retrieval, {size:,} docs, top_k={TOP_K} (median)", r, h))
    lines.append(row(f"write {size:,} docs with embeddings (one call)", ours_write, theirs_write))
    if bm25:
        rng = random.Random(5)
        texts_q = [" ".join(rng.sample(words, 3)) for _ in range(args.queries + 3)]
        r = latency(lambda q: ours.bm25_retrieval(q, top_k=TOP_K), texts_q, 200, args.seconds)
        h = latency(lambda q: theirs.bm25_retrieval(q, top_k=TOP_K), texts_q, 200, args.seconds)
        lines.append(row(f"BM25 retrieval, {size:,} docs, 3-word query (median)", r, h))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300, help="most queries per side")
    parser.add_argument("--seconds", type=float, default=20.0, help="most time per side")
    args = parser.parse_args()
    lines = ["| measure | ragrun | Haystack 3.4 | ragrun faster by |", "|---|---|---|---|"]
    for size in args.sizes:
        measure(size, args, lines, bm25=size == min(args.sizes))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
