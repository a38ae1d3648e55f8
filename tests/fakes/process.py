"""Run the fake OpenAI server in a child process and steer it over HTTP (for benchmarks).

A benchmark that measures a client should not share its GIL with the server it calls, so it
starts the server as `python -m tests.fakes.openai_server` and reaches the control through
`POST /_fake/control` and `GET /_fake/stats`::

    with spawn_server(latency=0.05) as base_url:
        configure(base_url, fail_every={"k": 10, "fault": Fault.rate_limit(1).to_dict()})
        ...
        print(stats(base_url)["counts"])
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def spawn_server(
    *, latency: float = 0.0, chunk_delay: float = 0.0, reply: str | None = None, port: int = 0
) -> Iterator[str]:
    """Start the server in a child process; yields its base URL; stops it on exit."""
    command = [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port)]
    command += ["--latency", str(latency), "--chunk-delay", str(chunk_delay)]
    if reply is not None:
        command += ["--reply", reply]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        if not base_url:
            raise RuntimeError(f"the fake OpenAI server exited with code {proc.wait()}")
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _root(base_url: str) -> str:
    return base_url.rstrip("/").removesuffix("/v1")


def configure(base_url: str, **settings: Any) -> dict[str, Any]:
    """Apply `ServerControl.apply` settings to a server in another process; returns its stats."""
    response = httpx.post(f"{_root(base_url)}/_fake/control", json=settings)
    response.raise_for_status()
    return response.json()


def stats(base_url: str) -> dict[str, Any]:
    """Counters of a server in another process: `counts`, `in_flight`, `peak_in_flight`."""
    response = httpx.get(f"{_root(base_url)}/_fake/stats")
    response.raise_for_status()
    return response.json()
