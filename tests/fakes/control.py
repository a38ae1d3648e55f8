"""`ServerControl`: what a test changes and reads on a running fake server, from any thread.

A test scripts failures (`fail_next`, `fail_every`), latency and the canned reply, holds
requests at a gate (`pause` / `resume`) to line up concurrent calls without sleeping, and
reads what the server saw: requests per endpoint, requests in flight and their peak, and the
recent requests themselves. Every method takes a lock, so a test on its own event loop and the
server on its thread can both use it. The same settings are reachable over HTTP for a server
running in another process (see `apply` and `snapshot`).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
MODELS = "/v1/models"

FaultKind = Literal["status", "stall", "drop"]


@dataclass(frozen=True)
class Fault:
    """One injected failure: an error status, a stall, or a connection closed without reply."""

    kind: FaultKind
    status: int = 500
    """HTTP status of a `status` fault."""
    retry_after: float | None = None
    """Seconds sent in the `Retry-After` header of a `status` fault."""
    seconds: float = 0.0
    """How long a `stall` holds the request before answering normally (if the client waited)."""
    after_chunks: int = 0
    """For a `drop` on a streamed reply: chunks sent before the connection is closed (a reply
    that is not streamed is dropped whole)."""
    echo_headers: bool = False
    """For a `status` fault: put the request's headers, `Authorization` included, in the error
    message, as a careless proxy or a debugging server does (to test that keys are redacted)."""

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0) -> Fault:
        """HTTP 429, with `Retry-After` unless `retry_after` is None."""
        return cls("status", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, retry_after: float | None = None) -> Fault:
        """An HTTP 5xx error (500 by default; 503 for "unavailable")."""
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def unauthorized(cls, *, echo_headers: bool = False) -> Fault:
        """HTTP 401; with `echo_headers`, the body repeats the request's headers, key and all."""
        return cls("status", status=401, echo_headers=echo_headers)

    @classmethod
    def stall(cls, seconds: float = 30.0) -> Fault:
        """Hold the request for `seconds`, longer than the client's timeout."""
        return cls("stall", seconds=seconds)

    @classmethod
    def drop(cls, after_chunks: int = 0) -> Fault:
        """Close the connection without a reply (or mid-stream, after `after_chunks` chunks)."""
        return cls("drop", after_chunks=after_chunks)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for the control endpoint of a server in another process."""
        return {
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "seconds": self.seconds,
            "after_chunks": self.after_chunks,
            "echo_headers": self.echo_headers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from `to_dict()` output."""
        return cls(**data)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received (the most recent ones are kept)."""

    method: str
    path: str
    body: Any
    """The parsed JSON body, or None."""
    authorization: str | None = field(default=None, repr=False)
    """The `Authorization` header as sent; kept out of `repr` so it never lands in a log."""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """The other headers, names in lower case."""


@dataclass
class _Rule:
    fault: Fault
    endpoint: str | None
    every: int = 0
    seen: int = 0

    def matches(self, path: str) -> bool:
        return self.endpoint is None or self.endpoint == path


class ServerControl:
    """Thread-safe settings and counters of one fake server."""

    def __init__(self, *, history: int = 1000) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._history = history
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gate: asyncio.Event | None = None
        self._loop_thread: int | None = None
        self._in_flight = 0
        self._reset_locked()

    def _reset_locked(self) -> None:
        self.latency = 0.0
        """Seconds every request waits before it is answered (concurrent requests overlap)."""
        self.chunk_delay = 0.0
        """Seconds between two chunks of a streamed reply."""
        self.reply: str | None = None
        """Canned chat reply; None answers `echo: <last user message>`."""
        self._queue: deque[_Rule] = deque()
        self._periodic: list[_Rule] = []
        self._counts: Counter[str] = Counter()
        # Requests in flight are live state, not settings: a reset keeps counting them.
        self._peak = self._in_flight
        self._requests: deque[RecordedRequest] = deque(maxlen=self._history)

    # -- what a test sets -------------------------------------------------------------------

    def reset(self) -> None:
        """Forget faults, counters and recorded requests; zero latency; open the gate."""
        with self._lock:
            self._reset_locked()
        self.resume()

    def fail_next(self, *faults: Fault, endpoint: str | None = None) -> None:
        """Apply `faults` in order to the next requests (to `endpoint` only, if given)."""
        with self._lock:
            self._queue.extend(_Rule(f, endpoint) for f in faults)

    def fail_every(self, k: int, fault: Fault, *, endpoint: str | None = None) -> None:
        """Apply `fault` to every `k`-th request from now on (to `endpoint` only, if given)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        with self._lock:
            self._periodic.append(_Rule(fault, endpoint, every=k))

    def pause(self) -> None:
        """Hold every request at a gate (counted as in flight) until `resume`."""
        self._set_gate(False)

    def resume(self) -> None:
        """Let held and future requests through."""
        self._set_gate(True)

    def _set_gate(self, open_: bool) -> None:
        loop, gate = self._loop, self._gate
        if loop is None or gate is None or loop.is_closed():
            return
        action = gate.set if open_ else gate.clear
        if threading.get_ident() == self._loop_thread:  # from the server itself (over HTTP)
            action()
            return
        # Applied on the server's loop and waited for, so a request sent right after
        # `pause()` returns is certain to find the gate closed.
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (action(), done.set()))
        done.wait(5.0)

    # -- what a test reads ------------------------------------------------------------------

    def count(self, endpoint: str | None = None) -> int:
        """Requests received at `endpoint`, or at all endpoints."""
        with self._lock:
            return self._counts[endpoint] if endpoint else sum(self._counts.values())

    @property
    def in_flight(self) -> int:
        """Requests received and not yet answered."""
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Most requests in flight at once since the last reset."""
        with self._lock:
            return self._peak

    @property
    def requests(self) -> list[RecordedRequest]:
        """The most recent requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def wait_in_flight(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least `n` requests are in flight; False after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._in_flight >= n, timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no request is in flight; False after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._in_flight == 0, timeout)

    async def wait_idle_async(self, timeout: float = 10.0) -> bool:
        """`wait_idle` for async tests."""
        return await anyio.to_thread.run_sync(self.wait_idle, timeout)

    async def wait_in_flight_async(self, n: int, timeout: float = 10.0) -> bool:
        """`wait_in_flight` for async tests: waits in a worker thread, the loop keeps running."""
        return await anyio.to_thread.run_sync(self.wait_in_flight, n, timeout)

    def snapshot(self) -> dict[str, Any]:
        """Counters as JSON (what `GET /_fake/stats` returns)."""
        with self._lock:
            return {
                "counts": dict(self._counts),
                "in_flight": self._in_flight,
                "peak_in_flight": self._peak,
            }

    def apply(self, settings: dict[str, Any]) -> None:
        """Apply JSON settings (what `POST /_fake/control` accepts): `latency`, `chunk_delay`,
        `reply`, `fail_next: [fault, ...]`, `fail_every: {k, fault}`, each with an optional
        `endpoint`, and `reset: true` first."""
        if settings.get("reset"):
            self.reset()
        endpoint = settings.get("endpoint")
        with self._lock:
            for name in ("latency", "chunk_delay", "reply"):
                if name in settings:
                    setattr(self, name, settings[name])
        faults = [Fault.from_dict(f) for f in settings.get("fail_next", [])]
        if faults:
            self.fail_next(*faults, endpoint=endpoint)
        if every := settings.get("fail_every"):
            self.fail_every(every["k"], Fault.from_dict(every["fault"]), endpoint=endpoint)

    # -- what the server calls --------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        """Bind to the server's loop; returns the gate requests wait at."""
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._gate = asyncio.Event()
        self._gate.set()
        return self._gate

    def received(self, request: RecordedRequest) -> Fault | None:
        """Count a request as in flight and pick the fault it meets, if any."""
        with self._changed:
            self._counts[request.path] += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self._requests.append(request)
            self._changed.notify_all()
            return self._pick_fault(request.path)

    def answered(self) -> None:
        """The request is finished (answered, failed, or dropped)."""
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def _pick_fault(self, path: str) -> Fault | None:
        for rule in self._queue:
            if rule.matches(path):
                self._queue.remove(rule)
                return rule.fault
        for rule in self._periodic:
            if rule.matches(path):
                rule.seen += 1
                if rule.seen % rule.every == 0:
                    return rule.fault
        return None
