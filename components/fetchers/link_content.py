"""LinkContentFetcher: web pages and files fetched over HTTP into ByteStreams.

Built for ingesting thousands of URLs: `run_async` fetches them all at once over one pooled
httpx client, never more than `per_host_concurrency` requests in flight to one host nor
`max_connections` in all. The retry rules are in `attempts.py`, the limits in `hosts.py`,
what may be fetched in `addresses.py` (checked before each request, `redirects.py`, and at
each connection, `backends.py` and `transports.py`), the credentials' hiding in `userinfo.py`.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
import httpx

from ragrun import ByteStream, component

from .addresses import AddressPolicy
from .attempts import (
    Attempts,
    Backoff,
    FetchConnectionError,
    FetchError,
    FetchRefusedError,
    FetchTimeoutError,
)
from .hosts import AsyncHostLimits, ThreadHostLimits
from .redirects import Hops
from .transports import routing
from .userinfo import without_credentials

logger = logging.getLogger(__name__)

__all__ = [
    "FetchConnectionError",
    "FetchError",
    "FetchRefusedError",
    "FetchTimeoutError",
    "LinkContentFetcher",
]


def _default_user_agent() -> str:
    try:
        return f"ragrun/LinkContentFetcher/{version('ragrun')}"
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "ragrun/LinkContentFetcher"


DEFAULT_USER_AGENT = _default_user_agent()
"""Sent when no `user_agents` are given."""


@component
class LinkContentFetcher:
    """Fetch URLs into ByteStreams, one per URL fetched, with `meta["url"]` and the content type.

    Same name, init parameters and sockets as Haystack's LinkContentFetcher, plus ragrun's
    connection limits. Each stream holds the body's bytes as received; its `mime_type` and
    `meta["content_type"]` are the response's Content-Type without parameters (guessed from
    the URL's extension when the server sends none, else `application/octet-stream`). A
    charset in the Content-Type goes to `meta["encoding"]`, which the converters use to
    decode the text; after redirects, `meta["final_url"]` says where the content came from.

    What is fetched: http and https URLs of public addresses. A URL or redirect to a loopback,
    private, link-local (cloud metadata), unspecified, multicast or reserved address, given
    literally in any spelling or reached through a name that resolves there, fails with
    `FetchRefusedError` before anything is sent to it, unless `allowed_hosts` lists it or
    `allow_private_hosts` is set. The connection goes to the very address that was checked.
    `user:password@` in a URL is sent as Basic authentication to that URL's origin only, and
    never shown: `meta["url"]`, `meta["final_url"]` and every message leave it out.

    Failures, as in Haystack: with one URL and `raise_on_failure`, a failed fetch raises
    `FetchError` (which names the URL, the reason and the attempts made; a timeout raises
    `FetchTimeoutError`, also a `TimeoutError`, and a connection failure
    `FetchConnectionError`, also a `ConnectionError`, and a refused destination
    `FetchRefusedError`); with several URLs,
    failed ones are logged and left out. With `raise_on_failure=False`, a failed URL gives an
    empty ByteStream whose `meta["fetch_error"]` says why.

    Args:
        raise_on_failure: raise when the only URL given cannot be fetched (see above).
        user_agents: User-Agent headers; each retry of a URL sends the next one.
        retry_attempts: retries after a transient failure (timeout, connection error, HTTP
            429 or 5xx), waiting 0.25 s, 0.5 s, ... (jittered, at most 4 s) or the server's
            `Retry-After` (at most 10 s). A 404 is not retried.
        timeout: seconds allowed for each network operation (connecting, sending, each read),
            httpx's meaning; a slow download that keeps sending is not cut off (use the
            component's `timeout` policy for a deadline on the whole call).
        http2: use HTTP/2 where servers offer it; needs `pip install httpx[http2]`, else a
            warning and HTTP/1.1.
        client_kwargs: more arguments for the httpx clients (`verify`, `proxy`, `headers`,
            `max_redirects`, ...); they win over the settings derived from the parameters.
            `follow_redirects` is this component's own parameter; `transport` and `mounts`
            would bypass the address check, so they need `allow_private_hosts`. Through a
            `proxy` the proxy connects: only literal addresses are checked.
        request_headers: headers sent with every request (the rotating User-Agent wins).
        max_connections: connections open at once over all hosts (the pool's size).
        per_host_concurrency: requests in flight at once to one host, shared by every call
            of this component.
        follow_redirects: follow redirects (each target checked, at most `max_redirects`
            of them, 20 by default); when False a redirect is a failure.
        allow_private_hosts: fetch any address, private ones included (for a trusted list
            of URLs on your own network); off by default.
        allowed_hosts: hosts fetched although private: names (`intranet.example`, or
            `*.corp.example` for its subdomains; fetched whatever they resolve to),
            addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`).
    """

    def __init__(
        self,
        raise_on_failure: bool = True,
        user_agents: list[str] | None = None,
        retry_attempts: int = 2,
        timeout: float = 3,
        http2: bool = False,
        client_kwargs: dict[str, Any] | None = None,
        request_headers: dict[str, str] | None = None,
        max_connections: int = 100,
        per_host_concurrency: int = 8,
        follow_redirects: bool = True,
        allow_private_hosts: bool = False,
        allowed_hosts: list[str] | None = None,
    ) -> None:
        _check_positive(
            timeout=timeout,
            max_connections=max_connections,
            per_host_concurrency=per_host_concurrency,
        )
        if retry_attempts < 0:
            raise ValueError(f"retry_attempts must be 0 or more, got {retry_attempts}")
        if user_agents is not None and not user_agents:
            raise ValueError("user_agents must name at least one user agent, or be left out")
        _check_client_kwargs(client_kwargs or {}, allow_private_hosts)
        self.raise_on_failure = raise_on_failure
        self.user_agents = list(user_agents or [DEFAULT_USER_AGENT])
        self.retry_attempts = retry_attempts
        self.timeout = timeout
        self.http2 = http2
        self.client_kwargs = dict(client_kwargs or {})
        self.request_headers = dict(request_headers or {})
        self.max_connections = max_connections
        self.per_host_concurrency = per_host_concurrency
        self.follow_redirects = follow_redirects
        self.allow_private_hosts = allow_private_hosts
        self.allowed_hosts = list(allowed_hosts or [])
        self._policy = AddressPolicy.of(allow_private_hosts, self.allowed_hosts)
        hops = Hops(follow_redirects, self._policy)
        self._attempts = Attempts(retry_attempts, Backoff(), self._headers, hops)
        self._lock = threading.Lock()  # worker threads may make the first call together
        self._client: httpx.Client | None = None
        self._limits = ThreadHostLimits(per_host_concurrency, max_connections)
        self._async: _LoopClient | None = None

    # -- clients ---------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Build the sync client (cheap; `run` does it on first use too)."""
        self._sync_client()

    async def warm_up_async(self) -> None:
        """Build the async client of the running event loop."""
        self._loop_client()

    def close(self) -> None:
        """Close the sync client's connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the async client's connections (call it on the loop that used them)."""
        state, self._async = self._async, None
        if state is not None and state.loop is asyncio.get_running_loop():
            await state.client.aclose()

    close_async = aclose
    """Haystack's name for `aclose`."""

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(**self._client_settings(asynchronous=False))
            return self._client

    def _loop_client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async.loop is not loop:
            # A client left by an earlier loop is dropped, not closed: its loop is gone.
            client = httpx.AsyncClient(**self._client_settings(asynchronous=True))
            limits = AsyncHostLimits(self.per_host_concurrency, self.max_connections)
            self._async = _LoopClient(loop, client, limits)
        return self._async

    def _client_settings(self, asynchronous: bool) -> dict[str, Any]:
        """httpx client arguments: those derived from the init parameters, then client_kwargs.

        The client never follows redirects itself (`Hops` does, checking each), and connects
        through the checked transport unless client_kwargs bring their own.
        """
        settings: dict[str, Any] = {
            "timeout": httpx.Timeout(self.timeout, pool=None),
            "limits": httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            ),
            "http2": self.http2 and _has_h2(),
        }
        extra = dict(self.client_kwargs)
        headers = {"Accept": "*/*", **dict(extra.pop("headers", None) or {})}
        merged = {**settings, **extra, "headers": headers, "follow_redirects": False}
        if "transport" not in extra and "mounts" not in extra:
            merged.update(routing(self._policy, merged, asynchronous))
        return merged

    def _headers(self, attempt: int) -> dict[str, str]:
        user_agent = self.user_agents[attempt % len(self.user_agents)]
        return {**self.request_headers, "User-Agent": user_agent}

    # -- runs ------------------------------------------------------------------------------

    @component.output_types(streams=list[ByteStream])
    def run(self, urls: list[str]) -> dict[str, Any]:
        """Fetch `urls` on worker threads (at most `max_connections` of them).

        Returns:
            `{"streams": list[ByteStream]}` in the order of `urls` (failed URLs left out, or
            empty streams with `raise_on_failure=False`).

        Raises:
            FetchError: `raise_on_failure` is set and the only URL given failed.
        """
        _check_urls(urls)
        if not urls:
            return {"streams": []}
        client = self._sync_client()

        def fetch(url: str) -> ByteStream | FetchError:
            try:
                return _to_stream(url, self._attempts.get(client, self._limits, url))
            except FetchError as exc:
                return exc

        if len(urls) == 1:
            return {"streams": self._gather(urls, [fetch(urls[0])])}
        with ThreadPoolExecutor(min(len(urls), self.max_connections), "fetch") as pool:
            return {"streams": self._gather(urls, list(pool.map(fetch, urls)))}

    @component.output_types(streams=list[ByteStream])
    async def run_async(self, urls: list[str]) -> dict[str, Any]:
        """`run` on the event loop: every URL at once, within the connection limits."""
        _check_urls(urls)
        if not urls:
            return {"streams": []}
        state = self._loop_client()
        results: list[ByteStream | FetchError | None] = [None] * len(urls)

        async def fetch(index: int, url: str) -> None:
            try:
                response = await self._attempts.get_async(state.client, state.limits, url)
                results[index] = _to_stream(url, response)
            except FetchError as exc:
                results[index] = exc

        async with anyio.create_task_group() as group:
            for index, url in enumerate(urls):
                group.start_soon(fetch, index, url)
        return {"streams": self._gather(urls, results)}

    def _gather(
        self, urls: list[str], results: Sequence[ByteStream | FetchError | None]
    ) -> list[ByteStream]:
        """The streams to return; failures raised, logged and dropped, or kept as empty streams."""
        streams = []
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, ByteStream):
                streams.append(result)
            elif result is None:  # pragma: no cover - every task stores its result
                raise AssertionError(f"no result for {url}")
            elif self.raise_on_failure and len(urls) == 1:
                raise result
            elif self.raise_on_failure:
                logger.warning("%s; skipping it", result)
            else:
                logger.warning("%s; returning an empty stream", result)
                meta = {"url": without_credentials(url), "fetch_error": str(result)}
                streams.append(ByteStream(data=b"", meta=meta))
        return streams


class _LoopClient:
    """The async client and host limits of one event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, limits: AsyncHostLimits
    ) -> None:
        self.loop = loop
        self.client = client
        self.limits = limits


def _to_stream(url: str, response: httpx.Response) -> ByteStream:
    """The response's body and content type, as a ByteStream for the converters."""
    header = response.headers.get("Content-Type", "")
    mime = header.partition(";")[0]
    mime = mime.strip().lower() or _guess_type(url)
    meta: dict[str, Any] = {"url": without_credentials(url), "content_type": mime}
    charset = response.charset_encoding
    if charset:
        meta["encoding"] = charset
    if response.history:
        meta["final_url"] = without_credentials(str(response.url))
    return ByteStream(data=response.content, meta=meta, mime_type=mime)


def _guess_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(httpx.URL(url).path)
    return guessed or "application/octet-stream"


def _has_h2() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        logger.warning(
            "LinkContentFetcher: http2 is on but the 'h2' package is missing; using HTTP/1.1. "
            "Install it with: pip install 'httpx[http2]'"
        )
        return False
    return True


def _check_urls(urls: Any) -> None:
    if isinstance(urls, str | bytes) or not isinstance(urls, list | tuple):
        raise TypeError(
            f"LinkContentFetcher.run takes a list of URLs, got {type(urls).__name__}; "
            "wrap a single URL in a list: urls=[url]"
        )


def _check_client_kwargs(client_kwargs: dict[str, Any], allow_private_hosts: bool) -> None:
    """Refuse client arguments that would let the client go where the checks cannot see."""
    if "follow_redirects" in client_kwargs:
        raise ValueError(
            "LinkContentFetcher: set follow_redirects as the component's own init parameter, "
            "not in client_kwargs (the component follows redirects itself, checking each)"
        )
    bypass = sorted({"transport", "mounts"} & set(client_kwargs))
    if bypass and not allow_private_hosts:
        raise ValueError(
            f"LinkContentFetcher: client_kwargs {' and '.join(bypass)} replace the transport "
            "that checks each address the fetcher connects to; set allow_private_hosts: true "
            "to take that check on yourself"
        )


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"LinkContentFetcher: {name} must be above 0, got {value}")
