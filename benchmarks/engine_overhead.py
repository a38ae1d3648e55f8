"""Engine overhead, ragrun vs Haystack in the same process: chains, documents, fan-out.

Run: `python benchmarks/engine_overhead.py` (needs the `bench` extra for haystack-ai).
Prints a Markdown table; the figures in benchmarks/README.md come from it.
"""

from __future__ import annotations

import asyncio
import random
import time

from haystack import Document as HDocument
from haystack import Pipeline as HPipeline
from haystack import component as hcomponent
from timing import best_of_async, row

from ragrun import Document, Pipeline, Variadic, component

# -- ragrun components ------------------------------------------------------------------------


@component
class Step:
    """Adds one: the least work a component can do."""

    @component.output_types(value=int)
    def run(self, value: int) -> dict:
        return {"value": value + 1}


@component
class AsyncStep:
    """Adds one, as a coroutine."""

    @component.output_types(value=int)
    def run(self, value: int) -> dict:
        return {"value": value + 1}

    @component.output_types(value=int)
    async def run_async(self, value: int) -> dict:
        return {"value": value + 1}


@component
class PassDocuments:
    """Hands its documents on untouched."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict:
        return {"documents": documents}


@component
class Wait:
    """Waits 50 ms without blocking the loop (a stand-in for an I/O call)."""

    @component.output_types(value=int)
    def run(self, value: int) -> dict:
        time.sleep(0.05)
        return {"value": value}

    @component.output_types(value=int)
    async def run_async(self, value: int) -> dict:
        await asyncio.sleep(0.05)
        return {"value": value}


@component
class Join:
    """Sums whatever arrived."""

    @component.output_types(total=int)
    def run(self, values: Variadic[int]) -> dict:
        return {"total": sum(values)}


# -- Haystack twins ---------------------------------------------------------------------------


@hcomponent
class HStep:
    @hcomponent.output_types(value=int)
    def run(self, value: int) -> dict:
        return {"value": value + 1}


@hcomponent
class HAsyncStep:
    @hcomponent.output_types(value=int)
    def run(self, value: int) -> dict:
        return {"value": value + 1}

    @hcomponent.output_types(value=int)
    async def run_async(self, value: int) -> dict:
        return {"value": value + 1}


@hcomponent
class HPassDocuments:
    @hcomponent.output_types(documents=list[HDocument])
    def run(self, documents: list[HDocument]) -> dict:
        return {"documents": documents}


@hcomponent
class HWait:
    @hcomponent.output_types(value=int)
    def run(self, value: int) -> dict:
        time.sleep(0.05)
        return {"value": value}

    @hcomponent.output_types(value=int)
    async def run_async(self, value: int) -> dict:
        await asyncio.sleep(0.05)
        return {"value": value}


@hcomponent
class HJoin:
    # Haystack 3 makes a `list[T]` socket with several senders variadic on its own.
    @hcomponent.output_types(total=int)
    def run(self, values: list[int]) -> dict:
        return {"total": sum(values)}


# -- shapes -----------------------------------------------------------------------------------


def chain(pipeline_cls, make, n: int, socket: str = "value"):
    """`n` components in a line, each feeding the next."""
    p = pipeline_cls()
    for i in range(n):
        p.add_component(f"c{i}", make())
    for i in range(n - 1):
        p.connect(f"c{i}.{socket}", f"c{i + 1}.{socket}")
    return p


def fan_out(pipeline_cls, wait, join, width: int = 8):
    """`width` waiting branches fed by one input, joined by a Variadic socket."""
    p = pipeline_cls()
    for i in range(width):
        p.add_component(f"w{i}", wait())
    p.add_component("join", join())
    for i in range(width):
        p.connect(f"w{i}.value", "join.values")
    return p


async def per_component(p, data: dict, n: int) -> float:
    """Seconds of engine overhead per component, best of several batches of runs."""
    await p.run_async(data)  # warm-up run: pipelines compile and warm up once
    return await best_of_async(lambda: p.run_async(data), repeat=5, number=20) / n


def documents(cls, count: int = 1000, dim: int = 384):
    """`count` documents with `dim`-wide embeddings, as both libraries build them."""
    rng = random.Random(7)
    return [
        cls(content=f"document {i}", embedding=[rng.random() for _ in range(dim)])
        for i in range(count)
    ]


async def main() -> None:
    lines = ["| measure | ragrun | Haystack 3.x | ragrun faster by |", "|---|---|---|---|"]
    for n in (10, 100):
        for kind, ours, theirs in (("sync", Step, HStep), ("async", AsyncStep, HAsyncStep)):
            r = await per_component(chain(Pipeline, ours, n), {"c0": {"value": 0}}, n)
            h = await per_component(chain(HPipeline, theirs, n), {"c0": {"value": 0}}, n)
            lines.append(row(f"per-component overhead, {n}-chain, {kind}", r, h, "µs", 1e6))

    ours_docs, their_docs = documents(Document), documents(HDocument)
    r_chain = chain(Pipeline, PassDocuments, 5, "documents")
    h_chain = chain(HPipeline, HPassDocuments, 5, "documents")
    await r_chain.run_async({"c0": {"documents": ours_docs}})
    await h_chain.run_async({"c0": {"documents": their_docs}})
    r = await best_of_async(lambda: r_chain.run_async({"c0": {"documents": ours_docs}}), 5)
    h = await best_of_async(lambda: h_chain.run_async({"c0": {"documents": their_docs}}), 3)
    lines.append(row("1000 docs x 384-d through a 5-chain", r, h))

    data = {f"w{i}": {"value": i} for i in range(8)}
    r_fan, h_fan = fan_out(Pipeline, Wait, Join), fan_out(HPipeline, HWait, HJoin)
    await r_fan.run_async(data)
    await h_fan.run_async(data)
    r = await best_of_async(lambda: r_fan.run_async(data), 5)
    h = await best_of_async(
        lambda: h_fan.run_async(data, concurrency_limit=8), 5
    )  # Haystack's default limit is 4: give it 8 so the comparison is fair
    lines.append(row("fan-out 8 x 50 ms async into a Variadic join (wall)", r, h))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
