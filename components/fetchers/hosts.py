"""Limits on requests in flight: per host and overall, for async tasks and for threads.

A fetch takes its host's slot first and a slot of the overall limit second, so a request
waiting for a busy host never holds one of the connections another host could use. Requests
therefore never queue inside httpx's connection pool, where waiting counts against the pool
timeout: the pool's size and the overall limit are the same number (`max_connections`).

Hosts are told apart by name, ports aside: `example.com:8080` and `example.com` share a limit,
being (most likely) the same machine to be polite to.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio


class AsyncHostLimits:
    """Slots for async tasks of one event loop (anyio semaphores belong to their loop)."""

    def __init__(self, per_host: int, total: int) -> None:
        self.per_host = per_host
        self._total = anyio.Semaphore(total)
        self._hosts: dict[str, anyio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of `host`'s slots and one overall slot while the block runs."""
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = anyio.Semaphore(self.per_host)
        async with semaphore, self._total:
            yield


class ThreadHostLimits:
    """Slots for threads, shared by every `run` call of one component."""

    def __init__(self, per_host: int, total: int) -> None:
        self.per_host = per_host
        self._total = threading.BoundedSemaphore(total)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of `host`'s slots and one overall slot while the block runs."""
        with self._lock:
            semaphore = self._hosts.get(host)
            if semaphore is None:
                semaphore = self._hosts[host] = threading.BoundedSemaphore(self.per_host)
        with semaphore, self._total:
            yield
