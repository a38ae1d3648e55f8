"""`HttpSite`: a small real web site on 127.0.0.1 for testing fetchers.

It is the standard library's `ThreadingHTTPServer` (HTTP/1.1 with keep-alive, one thread per
connection) on an ephemeral port, serving from a background thread:

- `/html`, `/text` (Latin-1 with its charset), `/json`, `/pdf` (bytes), `/bytes` (no
  Content-Type header);
- `/redirect/N`: a chain of N redirects ending at `/html`;
- `/goto/QUOTED`: a 302 to the percent-decoded QUOTED, any URL (`goto(url)` builds the path);
- `/status/CODE`: that status (`/status/429` says `Retry-After: 0`);
- `/flaky/KEY/N`: 503 for the first N requests of KEY, then a text page;
- `/slow` and `/slow/ANYTHING`: held at the site's gate until the test calls `release()`;
- `/page/ANYTHING`: a text page naming its path (for many distinct URLs).

The site listens on 127.0.0.1 unless told another address (`HttpSite("::1")` for IPv6), over
HTTPS when given a server-side `ssl.SSLContext` (`tls=`).
It records each request's headers and counts requests per path, connections opened, and
requests in flight per host (the `Host` header without its port, so `127.0.0.1` and `localhost`
are two hosts) with the peak of each and of their sum. A request stops counting as in flight
just before its response is written, so a client that starts a new request after reading a
response never sees the old one still counted.
Nothing here sleeps: a test waits for requests to reach the gate with `wait_parked`.

In a test::

    with HttpSite() as site:
        fetch(site.url("/slow"), ...)         # in another thread or task
        site.wait_parked(1)
        site.release()
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

HTML = b"<html><head><title>ragrun</title></head><body><p>Hello from the site.</p></body></html>"
TEXT = "café au lait\n".encode("latin-1")
JSON = b'{"name": "ragrun", "ok": true}'
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
BYTES = bytes(range(256))

_Reply = tuple[int, dict[str, str], bytes]

_PAGES: dict[str, _Reply] = {
    "/html": (200, {"Content-Type": "text/html; charset=utf-8"}, HTML),
    "/text": (200, {"Content-Type": "text/plain; charset=ISO-8859-1"}, TEXT),
    "/json": (200, {"Content-Type": "application/json"}, JSON),
    "/pdf": (200, {"Content-Type": "application/pdf"}, PDF),
    "/bytes": (200, {}, BYTES),
}


class HttpSite:
    """The site and its counters; a context manager that starts and stops the server."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.tls = tls
        self.port = port
        """The bound port (an ephemeral one unless given, known once started)."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._gate = threading.Event()
        self._generation = 0
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> HttpSite:
        """Bind and serve on a daemon thread; returns once the port accepts connections."""
        if self._server is None:
            kind = _Server6 if ":" in self.host else _Server
            server = kind((self.host, self.port), _Handler)
            if self.tls is not None:
                server.socket = self.tls.wrap_socket(server.socket, server_side=True)
            server.site = self
            self._server, self.port = server, server.server_address[1]
            self._thread = threading.Thread(
                target=server.serve_forever, name="http-site", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Open the gate (so held requests finish), stop serving and close the listener."""
        self._gate.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(10.0)
            self._thread = None

    def __enter__(self) -> HttpSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, path: str, host: str | None = None) -> str:
        """The absolute URL of `path`, on `host` (default: the address the site listens on)."""
        name = host or self.host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{name}:{self.port}{path}"

    def goto(self, target: str, host: str | None = None) -> str:
        """The URL of a page on this site that redirects to `target`."""
        return self.url(f"/goto/{quote(target, safe='')}", host)

    # -- what a test steers and reads ------------------------------------------------------

    def reset(self) -> None:
        """Zero every counter and close the gate again (requests still held are let go)."""
        with self._lock:
            # Requests from before the reset finish uncounted: they belong to an older test.
            self._generation += 1
            self._gate.set()
            self._gate = threading.Event()
            self.requests: Counter[str] = Counter()
            """Requests received, per path."""
            self.connections = 0
            """TCP connections accepted."""
            self.in_flight: Counter[str] = Counter()
            """Requests being answered now, per host."""
            self.peak: Counter[str] = Counter()
            """The most requests ever in flight at once, per host."""
            self.peak_total = 0
            """The most requests ever in flight at once, all hosts together."""
            self.parked = 0
            """Requests waiting at the gate now."""
            self.headers: list[dict[str, str]] = []
            """The headers of every request (names in lower case), in arrival order."""
            self._flaky: Counter[str] = Counter()

    def release(self) -> None:
        """Open the gate: every held `/slow` request, and any later one, is answered."""
        self._gate.set()

    def wait_parked(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least `count` requests wait at the gate; False if `timeout` passed."""
        with self._lock:
            return self._lock.wait_for(lambda: self.parked >= count, timeout)

    # -- serving (on the server's threads) -------------------------------------------------

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    @property
    def user_agents(self) -> list[str]:
        """The User-Agent of every request, in arrival order."""
        with self._lock:
            return [headers.get("user-agent", "") for headers in self.headers]

    def _enter(self, host: str, path: str, headers: dict[str, str]) -> int:
        with self._lock:
            self.requests[path] += 1
            self.headers.append(headers)
            self.in_flight[host] += 1
            self.peak[host] = max(self.peak[host], self.in_flight[host])
            self.peak_total = max(self.peak_total, sum(self.in_flight.values()))
            return self._generation

    def _leave(self, host: str, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self.in_flight[host] -= 1

    def answer(self, host: str, path: str, headers: dict[str, str]) -> _Reply:
        """The reply to one GET; counted in flight until it returns."""
        generation = self._enter(host, path, headers)
        try:
            return self._route(path)
        finally:
            self._leave(host, generation)

    def _route(self, path: str) -> _Reply:
        if path in _PAGES:
            return _PAGES[path]
        head, _, rest = path.strip("/").partition("/")
        if head == "goto":
            return 302, {"Location": unquote(rest)}, b""
        if head == "redirect" and rest.isdigit():
            step = int(rest)
            target = "/html" if step <= 1 else f"/redirect/{step - 1}"
            return 302, {"Location": target}, b""
        if head == "status" and rest.isdigit():
            extra = {"Retry-After": "0"} if rest == "429" else {}
            return int(rest), {"Content-Type": "text/plain", **extra}, f"status {rest}".encode()
        if head == "flaky":
            return self._flaky_reply(rest)
        if head == "slow":
            self._park()
            return 200, {"Content-Type": "text/plain"}, b"slow page"
        if head == "page":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, path.encode()
        return 404, {"Content-Type": "text/plain"}, b"no such page"

    def _flaky_reply(self, rest: str) -> _Reply:
        key, _, failures = rest.partition("/")
        with self._lock:
            self._flaky[key] += 1
            seen = self._flaky[key]
        if seen <= int(failures or 0):
            return 503, {"Content-Type": "text/plain"}, b"try again"
        return 200, {"Content-Type": "text/plain"}, f"flaky {key} ok".encode()

    def _park(self) -> None:
        with self._lock:
            gate, generation = self._gate, self._generation
            self.parked += 1
            self._lock.notify_all()
        try:
            gate.wait()
        finally:
            with self._lock:
                if generation == self._generation:
                    self.parked -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    site: HttpSite

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet: clients that time out and hang up are part of the tests."""


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.site._connected()

    def do_GET(self) -> None:
        host = self.headers.get("Host", "").rsplit(":", 1)[0]
        path = urlsplit(self.path).path
        received = {name.lower(): value for name, value in self.headers.items()}
        status, headers, body = self.server.site.answer(host, path, received)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """No access log on stderr."""
