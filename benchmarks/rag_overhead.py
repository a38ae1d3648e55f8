"""rag.yaml's overhead on top of the LLM server's own latency and the embedder's own time.

Run: `python benchmarks/rag_overhead.py [--runs 40] [--latency 0.2]` from the repository root.

`pipelines/rag.yaml` runs as shipped (streaming on, retry/timeout/concurrency policies on the
LLM) against the OpenAI-compatible test server (`tests/fakes/openai_server.py`, in a thread of
this process) answering after `--latency` seconds with a short canned reply, over a store of 50
embedded documents. Three ways of doing the same work are interleaved, one of each per round:

- by hand: the same component instances called one after another in plain Python (embedder,
  `store.embedding_retrieval` through the retriever, prompt builder, `await llm.run_async`),
  the least any framework could cost;
- `run_async`: the pipeline, nobody watching events;
- `stream`: the pipeline with its event stream read; each `component_finished` carries the
  component's duration, so wall - sum(durations) is the time spent outside components (rag.yaml is
  a chain, so every component is on the critical path).

Medians over `--runs` rounds. The LLM's duration minus the server latency is the openai
client's own cost (HTTP, SSE parsing), not ragrun's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes

from ragrun import Document, Pipeline  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

QUESTION = "How do I resume a batch job that was killed?"
REPLY = "Run the same command again with --resume: finished lines are skipped."


def build_store(path: Path) -> None:
    """50 embedded documents at `path`, where rag.yaml's store (RAGRUN_STORE) reads them."""
    from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
    from ragrun.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    files = sorted((ROOT / "docs").rglob("*.md")) or [ROOT / "README.md"]
    pages = [f.read_text(encoding="utf-8") for f in files]
    texts = [page[i * 600 : (i + 1) * 600] for page in pages for i in range(5)]
    docs = [
        Document(content=t, meta={"file_path": f"doc-{n}.md"}) for n, t in enumerate(texts) if t
    ][:50]
    embedder = SentenceTransformersDocumentEmbedder(normalize_embeddings=True)
    embedded = embedder.run(docs)["documents"]
    InMemoryDocumentStore(path=str(path), embedding_similarity_function="cosine").write_documents(
        embedded
    )


async def by_hand(p: Pipeline) -> float:
    embedder, retriever = p.get_component("text_embedder"), p.get_component("retriever")
    builder, llm = p.get_component("prompt_builder"), p.get_component("llm")
    start = time.perf_counter()
    embedding = embedder.run(text=QUESTION)["embedding"]
    documents = retriever.run(query_embedding=embedding)["documents"]
    prompt = builder.run(documents=documents, question=QUESTION)["prompt"]
    replies = (await llm.run_async(messages=prompt))["replies"]
    assert replies[0].text == REPLY
    return time.perf_counter() - start


async def with_run_async(p: Pipeline) -> float:
    start = time.perf_counter()
    out = await p.run_async({"question": QUESTION})
    assert out["answer"][0].text == REPLY and len(out["documents"]) == 5
    return time.perf_counter() - start


async def with_stream(p: Pipeline) -> tuple[float, dict[str, float]]:
    durations: dict[str, float] = {}
    start = time.perf_counter()
    async for event in p.stream({"question": QUESTION}):
        if event.event == "component_finished":
            durations[event.component] = event.duration
        assert event.event != "run_failed", event
    return time.perf_counter() - start, durations


async def measure(runs: int, latency: float) -> list[str]:
    p = Pipeline.load(ROOT / "pipelines" / "rag.yaml")
    await p.warm_up_async()
    for _ in range(3):  # warm-up: connections, first encode, first template render
        await by_hand(p), await with_run_async(p), await with_stream(p)
    hand, plain, streamed, parts = [], [], [], {}
    for _ in range(runs):
        hand.append(await by_hand(p))
        plain.append(await with_run_async(p))
        wall, durations = await with_stream(p)
        streamed.append(wall)
        for name, seconds in durations.items():
            parts.setdefault(name, []).append(seconds)
        parts.setdefault("outside components", []).append(wall - sum(durations.values()))
    await p.aclose()
    ms = lambda s: f"{s * 1e3:.2f} ms"  # noqa: E731
    lines = ["| measure (median) | time |", "|---|---|"]
    lines.append(f"| server latency (configured) | {ms(latency)} |")
    lines.append(f"| by hand: same components, plain Python | {ms(median(hand))} |")
    lines.append(f"| `run_async(rag.yaml)` | {ms(median(plain))} |")
    lines.append(f"| `stream(rag.yaml)` | {ms(median(streamed))} |")
    for name, values in parts.items():
        lines.append(f"| &nbsp;&nbsp;{name} (from events) | {ms(median(values))} |")
    llm_client = ms(median(parts["llm"]) - latency)
    lines += [
        f"| &nbsp;&nbsp;llm - server latency (openai client, HTTP, SSE) | {llm_client} |",
        f"| **`run_async` - by hand (pipeline overhead)** | {ms(median(plain) - median(hand))} |",
        f"| **`stream` - by hand** | {ms(median(streamed) - median(hand))} |",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as server:
        server.control.latency = args.latency
        server.control.reply = REPLY
        os.environ.update(
            OPENAI_API_KEY="test-key",
            OPENAI_BASE_URL=server.base_url,
            RAGRUN_STORE=str(Path(tmp) / "docs.store"),
        )
        build_store(Path(tmp) / "docs.store")
        lines = asyncio.run(measure(args.runs, args.latency))
    print(f"{args.runs} runs of pipelines/rag.yaml, server latency {args.latency * 1e3:.0f} ms")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
