"""1000 runs of prompt → LLM (100 ms per call) at concurrency 100: wall time vs the 1.0 s ideal.

Run: `python benchmarks/concurrency.py [--runs 1000] [--concurrency 100] [--rounds 3]` from the
repository root (needs the `bench` extra for haystack-ai).

The LLM is the OpenAI-compatible test server in a child process (so it does not share this
process's GIL), answering every chat completion after `--latency` seconds. With 100 calls in
flight, 1000 calls cannot take less than 1000 / 100 * 0.1 s = 1.0 s. Sides, interleaved per
round, best round kept:

- server alone: 100 keep-alive sockets sending raw HTTP/1.1 requests (no client library): what
  the server itself can do;
- floor: the raw `openai.AsyncOpenAI` client, 1000 calls under a semaphore of 100, no pipeline,
  on openai's default httpx transport and on its aiohttp transport (which ragrun's
  OpenAIChatGenerator uses when aiohttp is installed, as the `openai` extra does);
- ragrun `run_batch`: ChatPromptBuilder → OpenAIChatGenerator (non-streaming) loaded from YAML,
  `Pipeline.run_batch(items, concurrency=100)`;
- ragrun CLI: the same YAML, `python -m ragrun FILE --inputs LINES --concurrency 100`, events to
  /dev/null; the runs' time is read from the summary line on stderr (which times the warm-up,
  here `import openai`, apart), and the whole process (start-up, imports, load, warm-up, first
  connections) is shown beside it;
- Haystack 3.4: the same two components, `Pipeline.run_async` under `asyncio.gather` with a
  semaphore of 100, against the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes

from ragrun import Pipeline  # noqa: E402
from tests.fakes.process import spawn_server, stats  # noqa: E402

TEMPLATE = "Answer in one word: {{ question }}"
PIPELINE = """
inputs:
  question: [prompt.question]
outputs:
  replies: llm.replies
components:
  prompt:
    type: ChatPromptBuilder
    init_parameters: {template: "Answer in one word: {{ question }}"}
  llm:
    type: OpenAIChatGenerator
    init_parameters:
      model: gpt-4o-mini
      api_key: {type: env_var, env_vars: [OPENAI_API_KEY], strict: true}
connections:
  - {sender: prompt.prompt, receiver: llm.messages}
"""


def questions_in(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def questions(count: int) -> list[dict[str, str]]:
    return [{"question": f"question {i}?"} for i in range(count)]


async def floor(base_url: str, items: list[dict], limit: int, *, aiohttp: bool = False) -> float:
    """The raw openai client: no pipeline at all."""
    from openai import AsyncOpenAI, DefaultAioHttpClient

    http = DefaultAioHttpClient() if aiohttp else None
    client = AsyncOpenAI(base_url=base_url, api_key="test-key", http_client=http)
    slots = asyncio.Semaphore(limit)

    async def one(item: dict) -> None:
        async with slots:
            messages = [{"role": "user", "content": f"Answer in one word: {item['question']}"}]
            reply = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            assert reply.choices[0].message.content

    await asyncio.gather(*(one(item) for item in items[:limit]))  # warm the connection pool
    start = time.perf_counter()
    await asyncio.gather(*(one(item) for item in items))
    seconds = time.perf_counter() - start
    await client.close()
    return seconds


async def server_alone(base_url: str, runs: int, limit: int) -> float:
    """The server's own floor: `limit` keep-alive sockets sending raw HTTP/1.1, no client."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer k\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def connection(count: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
            assert head.startswith(b"HTTP/1.1 200") and length, head
            await reader.readexactly(int(length.group(1)))
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection(runs // limit) for _ in range(limit)))
    return time.perf_counter() - start


async def ragrun_batch(p: Pipeline, items: list[dict], limit: int) -> float:
    start = time.perf_counter()
    done = 0
    async for result in p.run_batch(items, concurrency=limit):
        assert result.ok, result.error
        done += 1
    assert done == len(items)
    return time.perf_counter() - start


def ragrun_cli(yaml_path: Path, lines_path: Path, limit: int) -> tuple[float, float]:
    """(batch seconds from the stderr summary, whole process seconds)."""
    command = [sys.executable, "-m", "ragrun", str(yaml_path), "--inputs", str(lines_path)]
    command += ["--concurrency", str(limit)]
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True, check=True)
    whole = time.perf_counter() - start
    summary = done.stderr.strip().splitlines()[-1]  # "... N ok, 0 failed, ...; 2.69 s, ..."
    assert f"{len(questions_in(lines_path))} ok, 0 failed" in summary, done.stderr
    found = re.search(r"failed\D*?(?:\d+ retried\D*?)?([\d.]+) s\b", summary)
    assert found, summary
    return float(found.group(1)), whole


def haystack_pipeline(base_url: str):
    from haystack import Pipeline as HPipeline
    from haystack.components.builders import ChatPromptBuilder
    from haystack.components.generators.chat import OpenAIChatGenerator
    from haystack.dataclasses import ChatMessage
    from haystack.utils import Secret

    p = HPipeline()
    p.add_component("prompt", ChatPromptBuilder(template=[ChatMessage.from_user(TEMPLATE)]))
    llm = OpenAIChatGenerator(
        api_key=Secret.from_token("test-key"), model="gpt-4o-mini", api_base_url=base_url
    )
    p.add_component("llm", llm)
    p.connect("prompt.prompt", "llm.messages")
    p.warm_up()
    return p


async def haystack_gather(p, items: list[dict], limit: int) -> float:
    slots = asyncio.Semaphore(limit)

    async def one(item: dict) -> None:
        async with slots:
            out = await p.run_async({"prompt": {"question": item["question"]}})
            assert out["llm"]["replies"]

    start = time.perf_counter()
    await asyncio.gather(*(one(item) for item in items))
    return time.perf_counter() - start


async def measure(args: argparse.Namespace, base_url: str, folder: Path) -> dict[str, float]:
    items = questions(args.runs)
    os.environ.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=base_url)
    yaml_path, lines_path = folder / "ask.yaml", folder / "questions.jsonl"
    yaml_path.write_text(PIPELINE, encoding="utf-8")
    lines_path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    ours = Pipeline.loads(PIPELINE)
    theirs = haystack_pipeline(base_url)
    await ragrun_batch(ours, items[: args.concurrency], args.concurrency)  # warm-up
    await haystack_gather(theirs, items[: args.concurrency], args.concurrency)
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    for _ in range(args.rounds):
        server = await server_alone(base_url, args.runs, args.concurrency)
        keep("server alone: raw HTTP/1.1 on 100 keep-alive sockets", server)
        client = await floor(base_url, items, args.concurrency)
        keep("client floor: raw `openai.AsyncOpenAI` (httpx), semaphore", client)
        client = await floor(base_url, items, args.concurrency, aiohttp=True)
        keep("client floor: raw `openai.AsyncOpenAI` on aiohttp, semaphore", client)
        keep("ragrun `Pipeline.run_batch`", await ragrun_batch(ours, items, args.concurrency))
        batch, whole = ragrun_cli(yaml_path, lines_path, args.concurrency)
        keep("ragrun CLI `--inputs FILE --concurrency 100` (runs, per its summary)", batch)
        keep("ragrun CLI, whole process (start-up + load + batch)", whole)
        keep(
            "Haystack 3.4 `run_async` under `asyncio.gather`",
            await haystack_gather(theirs, items, args.concurrency),
        )
    await ours.aclose()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ideal = args.runs / args.concurrency * args.latency
    with tempfile.TemporaryDirectory() as tmp, spawn_server(latency=args.latency) as url:
        best = asyncio.run(measure(args, url, Path(tmp)))
        peak = stats(url)["peak_in_flight"]
    print(
        f"{args.runs} runs, {args.concurrency} in flight, LLM latency {args.latency * 1e3:.0f} ms"
        f" (ideal {ideal:.2f} s); best of {args.rounds}; server's peak in flight: {peak}"
    )
    print()
    print("| side | wall | runs/s | vs ideal |")
    print("|---|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.3f} s | {args.runs / seconds:.0f} | {seconds / ideal:.2f}x |")


if __name__ == "__main__":
    main()
