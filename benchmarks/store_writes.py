"""Writes to a persisted InMemoryDocumentStore cost what they write: 100 docs into a 50k store.

Run: `python benchmarks/store_writes.py [--docs 50000] [--batch 100] [--rounds 15]
[--synchronous NORMAL|FULL]` (the store's default is NORMAL; FULL fsyncs every commit).

Two stores hold the same `--docs` documents (384-d unit embeddings, 30 words of text, a little
meta): one with `path` (the SQLite store file), one without (memory only). Each round adds
`--batch` new documents to each, interleaved, and the figure is the median over `--rounds`
(after one warm-up write each, which also builds the in-memory matrix's spare rows). The target
(issue 17, goal 2) is the persisted write at most 10x the in-memory one.

Load time is a fresh process opening the 50k-document file and counting its documents (the
store reads everything into its search matrix at first use), median of `--loads` processes,
next to a fresh process that imports the same modules and stops there; and, once, the first
open of the same documents in the previous file format (an `.npz` archive, written by the old
writer kept in tests/components/legacy_store.py), which migrates the file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

from ragrun import Document

DIM = 384

LOAD = """
import sys, time
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
start = time.perf_counter()
count = InMemoryDocumentStore(path=sys.argv[1]).count_documents() if len(sys.argv) > 1 else 0
print(time.perf_counter() - start, count)
"""


def documents(count: int, seed: int, tag: str) -> list[Document]:
    """`count` documents with unit 384-d embeddings, ~30 words of text and a little meta."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = rng.integers(0, 5000, size=(count, 30))
    return [
        Document(
            content=" ".join(f"w{w}" for w in row),
            meta={"file_path": f"{tag}/{i // 20}.md", "chunk": i % 20},
            embedding=vector.tolist(),
        )
        for i, (row, vector) in enumerate(zip(words, vectors, strict=True))
    ]


def timed_write(store: object, docs: list[Document]) -> float:
    start = time.perf_counter()
    written = store.write_documents(docs)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    assert written == len(docs)
    return elapsed


def load_seconds(path: Path | None, repeat: int) -> tuple[float, float]:
    """Median in-process seconds of the first count_documents, and median whole-process wall."""
    inner, outer = [], []
    for _ in range(repeat):
        args = [sys.executable, "-c", LOAD] + ([str(path)] if path else [])
        start = time.perf_counter()
        done = subprocess.run(args, check=True, capture_output=True, text=True)
        outer.append(time.perf_counter() - start)
        inner.append(float(done.stdout.split()[0]))
    return median(inner), median(outer)


def migration_seconds(folder: Path, store: object) -> float | None:
    """Seconds a fresh process takes to open (and so migrate) the store in format 1."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "tests" / "components"))
    try:
        from legacy_store import write_v1
    except ImportError:  # run from an installed package without the tests
        return None
    old = folder / "old" / "docs.store"
    old.parent.mkdir()
    write_v1(old, store.filter_documents())  # type: ignore[attr-defined]
    close = getattr(store, "close", None)  # the store before issue 9 had none
    if close is not None:
        close()
    seconds, _ = load_seconds(old, 1)
    shutil.rmtree(old.parent)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--synchronous", choices=["NORMAL", "FULL"], default=None)
    args = parser.parse_args()

    from ragrun.components.document_stores.in_memory import InMemoryDocumentStore

    if args.synchronous:
        from ragrun.components.document_stores import sqlite_schema

        sqlite_schema.SYNCHRONOUS = args.synchronous

    base = documents(args.docs, seed=1, tag="base")
    batches = [documents(args.batch, seed=100 + r, tag=f"b{r}") for r in range(args.rounds + 1)]
    with tempfile.TemporaryDirectory(prefix="ragrun-store-bench-") as folder:
        path = Path(folder) / "docs.store"
        persisted = InMemoryDocumentStore(path=str(path))
        memory = InMemoryDocumentStore(shared=False)
        fill = [timed_write(persisted, base), timed_write(memory, base)]
        del base
        timed_write(persisted, batches[0])  # warm-up (the matrix grows its spare rows)
        timed_write(memory, batches[0])
        on_disk, in_memory = [], []
        for batch in batches[1:]:
            on_disk.append(timed_write(persisted, batch))
            in_memory.append(timed_write(memory, batch))
        close = getattr(persisted, "close", None)
        if close is not None:
            close()
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        count = args.docs + args.batch * (args.rounds + 1)
        load, load_wall = load_seconds(path, args.loads)
        _, import_wall = load_seconds(None, args.loads)
        migration = migration_seconds(Path(folder), persisted)

    ratio = median(on_disk) / median(in_memory)
    synchronous = args.synchronous or "the store's default"
    print(
        f"{args.batch} docs into a {args.docs}-doc store, {DIM}-d, median of {args.rounds} "
        f"rounds, synchronous {synchronous}; store file {size / 2**20:.1f} MiB, {count} docs"
    )
    print()
    print("| measure | persisted (`path`) | in memory | ratio |")
    print("|---|---|---|---|")
    print(
        f"| add {args.batch} docs (median) | {median(on_disk) * 1e3:.2f} ms | "
        f"{median(in_memory) * 1e3:.2f} ms | {ratio:.1f}x |"
    )
    print(
        f"| add {args.batch} docs (slowest) | {max(on_disk) * 1e3:.2f} ms | "
        f"{max(in_memory) * 1e3:.2f} ms | |"
    )
    print(
        f"| first write of {args.docs} docs (one call) | {fill[0]:.2f} s | {fill[1]:.2f} s | "
        f"{fill[0] / fill[1]:.1f}x |"
    )
    print()
    print(f"| load a {count}-doc store in a fresh process (median of {args.loads}) | time |")
    print("|---|---|")
    print(f"| first `count_documents()` (reads the file, builds the matrix) | {load:.3f} s |")
    print(f"| whole process (interpreter, imports, load) | {load_wall:.3f} s |")
    print(f"| whole process without opening a store | {import_wall:.3f} s |")
    if migration is not None:
        print(f"| first open of the same store in format 1 (migrates it) | {migration:.3f} s |")


if __name__ == "__main__":
    main()
