"""What the bounds on untrusted input lines, the redaction of secrets and the template bounds cost.

Run: `python benchmarks/untrusted_inputs.py` from the repository root. Prints Markdown tables;
the figures in benchmarks/README.md come from it.

- Parsing one input line: plain `orjson.loads` (what a batch did before) against
  `inputs_json.parse_object` (size, depth, UTF-8, long-integer checks), for three shapes of line.
- Encoding one event: `jsonl.dumps_line` with no secret registered, with one registered that the
  event does not hold (the fast check), and with one it does hold (the redacting re-encode).
- A PromptBuilder run: its own template (rendered on the loop) and a template given at run time
  (a worker thread and the deadline), per `run_async` call.
- A batch of 5000 prompt-builder lines through `run_batch`, runs per second.

Best of 5 rounds; each figure is per call.
"""

from __future__ import annotations

import asyncio
import random
import time

import orjson
from timing import best_of, best_of_async

from ragrun import Pipeline, redaction
from ragrun.components.builders.prompt_builder import PromptBuilder
from ragrun.events import ComponentFinished
from ragrun.inputs_json import parse_object
from ragrun.jsonl import dumps_line

LINES = {
    "a question (80 B)": orjson.dumps({"question": "How do I resume a batch job that was killed?"}),
    "384 floats (7 KB)": orjson.dumps({"query_embedding": [random.random() for _ in range(384)]}),
    "50 documents (30 KB)": orjson.dumps(
        {"documents": [{"content": "text " * 100, "meta": {"n": n}} for n in range(50)]}
    ),
}
SECRET = "sk-bench-" + "0123456789abcdef" * 2


def parsing() -> list[str]:
    rows = ["| line | orjson.loads | parse_object | added |", "|---|---|---|---|"]
    for name, line in LINES.items():
        plain = best_of(lambda line=line: orjson.loads(line), number=2000)
        bounded = best_of(lambda line=line: parse_object(line, "line 1"), number=2000)
        rows.append(
            f"| {name} | {plain * 1e6:.2f} µs | {bounded * 1e6:.2f} µs | "
            f"{(bounded - plain) * 1e6:.2f} µs |"
        )
    return rows


def encoding() -> list[str]:
    outputs = {"documents": orjson.loads(LINES["50 documents (30 KB)"])["documents"]}
    plain = ComponentFinished(run="r", t=0.0, component="c", duration=0.1, outputs=outputs)
    holding = ComponentFinished(
        run="r", t=0.0, component="c", duration=0.1, outputs={**outputs, "echo": SECRET}
    )
    rows = ["| event (30 KB) | dumps_line |", "|---|---|"]
    rows.append(
        f"| no secret registered | {best_of(lambda: dumps_line(plain), number=500) * 1e6:.1f} µs |"
    )
    redaction.register(SECRET)
    rows.append(
        f"| a secret registered, not in the event | "
        f"{best_of(lambda: dumps_line(plain), number=500) * 1e6:.1f} µs |"
    )
    rows.append(
        f"| a secret registered, in the event (re-encoded, redacted) | "
        f"{best_of(lambda: dumps_line(holding), number=500) * 1e6:.1f} µs |"
    )
    return rows


async def builder() -> list[str]:
    p = Pipeline()
    p.add_component("prompt", PromptBuilder(template="Answer {{ question }} from {{ n }}"))
    own = await best_of_async(lambda: p.run_async({"question": "q", "n": 1}), number=500)
    given = await best_of_async(
        lambda: p.run_async({"question": "q", "n": 1, "prompt": {"template": "Q {{ question }}"}}),
        number=500,
    )
    return [
        "| PromptBuilder run (`run_async`, one-component pipeline) | per run |",
        "|---|---|",
        f"| its own template, on the loop | {own * 1e6:.1f} µs |",
        f"| a template given at run time (thread + deadline) | {given * 1e6:.1f} µs |",
    ]


async def batch() -> list[str]:
    p = Pipeline()
    p.add_component("prompt", PromptBuilder(template="Answer {{ question }}"))
    lines = [b'{"question": "q%d"}' % n for n in range(5000)]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        async for _result in p.run_batch(lines, concurrency=8):
            pass
        best = min(best, time.perf_counter() - started)
    return [f"5000 prompt-builder lines through `run_batch`: {len(lines) / best:,.0f} runs/s"]


def main() -> None:
    print("\n".join(parsing()), end="\n\n")
    print("\n".join(encoding()), end="\n\n")
    print("\n".join(asyncio.run(builder())), end="\n\n")
    print("\n".join(asyncio.run(batch())))


if __name__ == "__main__":
    main()
