"""`FakeOpenAIServer`: an OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It answers `POST /v1/chat/completions` (JSON, or server-sent events with `stream: true`),
`POST /v1/embeddings` (`encoding_format` float or base64) and `GET /v1/models` in the shapes
the real `openai` client parses; the bodies come from `openai_replies`. The server is a small
asyncio HTTP/1.1 server built on h11 (already installed with httpx, so no web framework is
needed) running on its own thread and event loop: waits (latency, stalls, the pause gate) are
`await`s, so thousands of concurrent connections overlap instead of queueing.

A test steers it through `server.control` (a `ServerControl`): failures, latency, canned
reply, counters. In a test::

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key")
        server.control.fail_next(Fault.rate_limit(retry_after=2))

In pytest, use the `fake_openai` fixture from `tests.fakes.fixtures`. A benchmark that wants
the server off its own process (so the server's work does not share the client's GIL) runs
`python -m tests.fakes.openai_server --port 0 --latency 0.05` from the repository root, or
`tests.fakes.process.spawn_server()`: the first line printed is the base URL, and
`POST /_fake/control` / `GET /_fake/stats` reach the control from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import uuid
from typing import Any

import h11
import orjson

from . import openai_replies as replies
from .control import CHAT, EMBEDDINGS, MODELS, Fault, RecordedRequest, ServerControl

_READ_SIZE = 65536
_STATUS_TYPES = {
    401: "invalid_api_key",
    429: "rate_limit_exceeded",
    503: "service_unavailable",
}


class _Dropped(Exception):
    """The connection was closed on purpose (a `drop` fault) or by the client."""


class FakeOpenAIServer:
    """An OpenAI-compatible server on a background thread; a context manager."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, control: ServerControl | None = None
    ):
        self.host = host
        self.port = port
        """The bound port (the ephemeral one chosen by the OS once started with port 0)."""
        self.control = control or ServerControl()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._gate: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, the server's root."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the openai client's `base_url` (or `OPENAI_BASE_URL`)."""
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAIServer:
        """Bind and serve on a daemon thread; returns once the port accepts connections."""
        if self._thread is not None:
            return self
        started = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(started)), name="fake-openai", daemon=True
        )
        self._thread.start()
        if not started.wait(10.0) or self._error is not None:
            raise RuntimeError(f"the fake OpenAI server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then join the thread."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            thread.join(10.0)
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._gate = self.control.attach(self._loop)
        try:
            server = await asyncio.start_server(
                self._connection, self.host, self.port, backlog=4096
            )
        except OSError as exc:
            self._error = exc
            started.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await self._stopping.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one connection ---------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                received = await _read_request(conn, reader)
                if received is None:
                    break
                await self._exchange(conn, reader, writer, *received)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (_Dropped, ConnectionError, h11.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _exchange(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytes,
    ) -> None:
        method = request.method.decode()
        path = request.target.decode().split("?", 1)[0]
        if path.startswith("/_fake/"):
            await _send_json(conn, writer, *self._control_request(method, path, body))
            return
        parsed = _parse_json(body)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
        auth = headers.pop("authorization", None)
        recorded = RecordedRequest(method, path, parsed, auth, headers)
        fault = self.control.received(recorded)
        try:
            await self._answer(conn, reader, writer, recorded, fault)
        except (_Dropped, ConnectionError, h11.ProtocolError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang the client
            if conn.our_state is not h11.SEND_RESPONSE:
                raise
            body = replies.error_body(f"fake server error: {exc!r}", kind="server_error")
            await _send_json(conn, writer, 500, body)
        finally:
            self.control.answered()

    async def _answer(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: RecordedRequest,
        fault: Fault | None,
    ) -> None:
        assert self._gate is not None
        await self._gate.wait()
        if self.control.latency > 0:
            await asyncio.sleep(self.control.latency)
        if fault is not None and fault.kind == "stall":
            await _stall(fault.seconds, reader, conn)
        elif fault is not None and fault.kind == "status":
            await _send_fault(conn, writer, fault, request)
            return
        drop_after = fault.after_chunks if fault is not None and fault.kind == "drop" else None
        if drop_after == 0:
            raise _Dropped
        try:
            status, payload, stream = self._route(request)
        except replies.RequestError as exc:
            kind = "invalid_request_error" if exc.status < 500 else "server_error"
            await _send_json(
                conn, writer, exc.status, replies.error_body(str(exc), kind=kind, param=exc.param)
            )
            return
        if stream is not None:
            await _send_events(conn, writer, stream, self.control.chunk_delay, drop_after)
        elif drop_after is None:
            await _send_json(conn, writer, status, payload)
        else:  # a mid-stream drop met a reply that is not streamed: drop it whole
            raise _Dropped

    def _route(self, request: RecordedRequest) -> tuple[int, Any, Any]:
        """Status, JSON payload, and for a streamed chat reply the chunks instead."""
        body = request.body if isinstance(request.body, dict) else None
        endpoint = (request.method, request.path)
        if endpoint == ("GET", MODELS):
            return 200, replies.models(), None
        if endpoint in {("POST", CHAT), ("POST", EMBEDDINGS)} and body is None:
            raise replies.RequestError("the body must be a JSON object")
        if endpoint == ("POST", EMBEDDINGS):
            assert body is not None
            return 200, replies.embeddings(body), None
        if endpoint == ("POST", CHAT):
            assert body is not None
            text = replies.reply_text(body, self.control.reply)
            if body.get("stream"):
                return 200, None, replies.chat_chunks(body, text)
            return 200, replies.chat_completion(body, text), None
        raise replies.RequestError(f"no route {request.method} {request.path}", status=404)

    def _control_request(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if (method, path) == ("GET", "/_fake/stats"):
            return 200, self.control.snapshot()
        if (method, path) == ("POST", "/_fake/control"):
            settings = _parse_json(body)
            if not isinstance(settings, dict):
                return 400, replies.error_body(
                    "expected a JSON object", kind="invalid_request_error"
                )
            self.control.apply(settings)
            return 200, self.control.snapshot()
        return 404, replies.error_body(f"no route {method} {path}", kind="invalid_request_error")


# -- HTTP plumbing --------------------------------------------------------------------------


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes] | None:
    """The next request and its body, or None when the client closed the connection."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(_READ_SIZE))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


async def _stall(seconds: float, reader: asyncio.StreamReader, conn: h11.Connection) -> None:
    """Wait `seconds`, but give up at once when the client hangs up (it timed out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(reader.read(_READ_SIZE), left)
        except TimeoutError:
            return
        if not data:
            raise _Dropped
        conn.receive_data(data)  # an early next request: h11 keeps it for the next cycle


def _headers(
    content_type: str, extra: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    return [
        ("content-type", content_type),
        ("x-request-id", f"req_{uuid.uuid4().hex}"),
        *(extra or []),
    ]


async def _send_json(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    payload: Any,
    extra_headers: list[tuple[str, str]] | None = None,
) -> None:
    data = orjson.dumps(payload)
    headers = [*_headers("application/json", extra_headers), ("content-length", str(len(data)))]
    writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
    writer.write(conn.send(h11.Data(data=data)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


async def _send_fault(
    conn: h11.Connection, writer: asyncio.StreamWriter, fault: Fault, request: RecordedRequest
) -> None:
    extra = []
    if fault.retry_after is not None:
        value = fault.retry_after
        extra.append(("retry-after", str(int(value)) if value == int(value) else str(value)))
    kind = _STATUS_TYPES.get(fault.status, "server_error")
    message = f"injected HTTP {fault.status}"
    if fault.echo_headers:
        sent = {"authorization": request.authorization, **request.headers}
        message += "; the request's headers were: " + ", ".join(
            f"{name}: {value}" for name, value in sent.items()
        )
    body = replies.error_body(message, kind=kind, code=kind)
    if fault.echo_headers:
        body["error"]["request_headers"] = sent  # a second copy, beside the message
    await _send_json(conn, writer, fault.status, body, extra)


async def _send_events(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    chunks: Any,
    delay: float,
    drop_after: int | None,
) -> None:
    """Stream `chunks` as server-sent events ending with `data: [DONE]` (chunked encoding)."""
    headers = _headers("text/event-stream; charset=utf-8", [("cache-control", "no-cache")])
    writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
    for sent, chunk in enumerate(chunks):
        if drop_after is not None and sent >= drop_after:
            await writer.drain()
            raise _Dropped
        if delay > 0 and sent > 0:
            await asyncio.sleep(delay)
        writer.write(conn.send(h11.Data(data=b"data: " + orjson.dumps(chunk) + b"\n\n")))
        await writer.drain()
    writer.write(conn.send(h11.Data(data=b"data: [DONE]\n\n")))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


# -- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; print the base URL as the first line of stdout."""
    parser = argparse.ArgumentParser(description="An OpenAI-compatible fake server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--reply", default=None, help="canned chat reply (default: echo)")
    args = parser.parse_args(argv)
    control = ServerControl()
    control.apply({"latency": args.latency, "chunk_delay": args.chunk_delay, "reply": args.reply})
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with FakeOpenAIServer(args.host, args.port, control=control) as server:
        print(server.base_url, flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    sys.stdout.flush()


if __name__ == "__main__":
    main()
