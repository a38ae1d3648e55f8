"""One URL, fetched in up to `1 + retry_attempts` attempts: what is retried, how long to wait.

Only transient failures are retried: timeouts, connection errors, a connection the server
dropped, HTTP 429 and 5xx. A 404 or a malformed URL fails at once. Between attempts the wait
doubles from `Backoff.initial` up to `Backoff.max_delay`, with jitter (so a thousand URLs
failing together do not come back together); a `Retry-After` header, in seconds or as a date,
is honoured up to `Backoff.max_retry_after`. Each attempt sends the next of the component's
user agents (Haystack's rotation). Each attempt follows redirects hop by hop (`redirects.py`);
a URL or redirect that leads somewhere refused (`addresses.py`) fails at once, unretried.

What is raised when every attempt failed::

    FetchError (RagrunError)          url, status_code, transient, attempts, retry_after
    ├── FetchTimeoutError             also a TimeoutError
    ├── FetchConnectionError          also a ConnectionError
    └── FetchRefusedError             the URL, or a redirect, leads to a refused address

The built-in exception bases and `status_code` let the engine's `retry` policy (and a user's
`except TimeoutError`) recognise transient failures without knowing this module.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import anyio
import httpx

from ragrun import RagrunError

from .addresses import DestinationRefused
from .hosts import AsyncHostLimits, ThreadHostLimits
from .redirects import FETCHED_SCHEMES, Hops
from .userinfo import has_credentials, without_credentials

Headers = Callable[[int], dict[str, str]]
"""The headers of attempt number n (0 for the first)."""


@dataclass(frozen=True)
class Failure:
    """Why one attempt failed, and whether another attempt may do better."""

    reason: str
    transient: bool
    status_code: int | None = None
    retry_after: float | None = None
    cause: BaseException | None = None
    hint: str = ""
    kind: Literal["timeout", "connection", "refused", "other"] = "other"


class FetchError(RagrunError):
    """A URL could not be fetched; raised by LinkContentFetcher for a single URL.

    Attributes:
        url: the URL asked for, without its `user:password@` (never shown, here or in the
            message).
        status_code: the last HTTP status received, None when no response came.
        transient: whether the last failure was of a kind worth retrying later.
        attempts: how many requests were made.
        retry_after: seconds the server asked to wait (`Retry-After`) before trying again.
    """

    def __init__(self, url: str, failure: Failure, attempts: int) -> None:
        url = without_credentials(url)
        self.url = url
        self.status_code = failure.status_code
        self.transient = failure.transient
        self.attempts = attempts
        self.retry_after = failure.retry_after
        tried = f" (after {attempts} attempts)" if attempts > 1 else ""
        hint = f"; {failure.hint}" if failure.hint else ""
        super().__init__(f"LinkContentFetcher could not fetch {url}: {failure.reason}{tried}{hint}")


class FetchTimeoutError(FetchError, TimeoutError):
    """Every attempt at a URL timed out (or the last one did, after other transient failures)."""


class FetchConnectionError(FetchError, ConnectionError):
    """The last attempt at a URL could not connect, or the server dropped the connection."""


class FetchRefusedError(FetchError):
    """The URL, or a redirect from it, leads to an address or scheme that is not fetched.

    Never transient: another attempt would be refused the same way. The message says which
    address and why ("resolves to 127.0.0.1, a loopback address") and how to allow it.
    """


def fetch_error(url: str, failure: Failure, attempts: int) -> FetchError:
    """The FetchError subclass that fits the failure."""
    if failure.kind == "timeout":
        return FetchTimeoutError(url, failure, attempts)
    if failure.kind == "connection":
        return FetchConnectionError(url, failure, attempts)
    if failure.kind == "refused":
        return FetchRefusedError(url, failure, attempts)
    return FetchError(url, failure, attempts)


@dataclass(frozen=True)
class Backoff:
    """How long to wait before retry number n (1 for the first retry)."""

    initial: float = 0.25
    max_delay: float = 4.0
    max_retry_after: float = 10.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """The server's `Retry-After` (capped), else `initial * 2**(retry-1)` capped, jittered."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.initial * 2 ** (retry - 1))
        return ceiling * random.uniform(0.5, 1.0)


def host_of(url: str) -> str:
    """The host a URL's request goes to; raises FetchError for what httpx cannot fetch."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        # httpx's reason may quote the part of the URL it choked on: a password, perhaps
        detail = "" if has_credentials(str(url)) else f" ({exc})"
        raise FetchError(str(url), Failure(f"not a valid URL{detail}", False), 0) from None
    if parsed.scheme not in FETCHED_SCHEMES or not parsed.host:
        found = f"{parsed.scheme}: URLs are never fetched; " if parsed.scheme else ""
        reason = f"{found}only http:// and https:// URLs with a host can be fetched"
        raise FetchError(url, Failure(reason, False), 0)
    return parsed.host.lower()


def failure_of_response(response: httpx.Response) -> Failure:
    """The failure a non-2xx response stands for."""
    status = response.status_code
    reason = f"HTTP {status} {response.reason_phrase}".rstrip()
    if response.is_redirect:
        location = response.headers.get("Location", "?")
        return Failure(
            f"{reason}, a redirect to {location}",
            False,
            status,
            hint="set follow_redirects: true to follow redirects",
        )
    transient = status == 429 or status >= 500
    return Failure(reason, transient, status, _retry_after(response) if transient else None)


def failure_of_exception(exc: Exception) -> Failure:
    """The failure an exception raised by httpx (or by the address check) stands for."""
    if isinstance(exc, DestinationRefused):
        return Failure(_refusal_reason(exc), False, hint=exc.hint, kind="refused")
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        hint = "raise `timeout` (seconds per network operation) if the server is slow"
        return Failure(f"timed out ({name})", True, cause=exc, hint=hint, kind="timeout")
    if isinstance(exc, httpx.TooManyRedirects):
        return Failure(f"too many redirects ({exc})", False, cause=exc)
    if isinstance(exc, httpx.TransportError) and not isinstance(
        exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError
    ):
        # ConnectError, ReadError, WriteError, RemoteProtocolError (a dropped connection)
        return Failure(f"connection failed ({name}: {exc})", True, cause=exc, kind="connection")
    return Failure(f"{name}: {exc}", False, cause=exc)


def _refusal_reason(exc: DestinationRefused) -> str:
    if exc.redirected_to is None:
        return exc.reason
    return f"it redirects to {exc.redirected_to}, and {exc.reason}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - datetime.now(UTC)).total_seconds()


@dataclass(frozen=True)
class Attempts:
    """The retry rules of one component: how many retries, how to wait, which headers."""

    retries: int
    backoff: Backoff
    headers: Headers
    hops: Hops
    """What one attempt is: a GET and its redirects, each hop checked."""

    def check(self, url: str) -> str:
        """The host of `url`, once it is known to be fetchable at all; nothing is sent.

        Raises:
            FetchError: not a URL httpx can fetch.
            FetchRefusedError: its scheme or its (literal) address is refused.
        """
        host = host_of(url)
        try:
            self.hops.check(httpx.URL(url))
        except DestinationRefused as exc:
            raise fetch_error(url, failure_of_exception(exc), 0) from None
        return host

    def get(self, client: httpx.Client, limits: ThreadHostLimits, url: str) -> httpx.Response:
        """GET `url` with retries, on a worker thread; raises FetchError when all failed."""
        host = self.check(url)
        for attempt in range(self.retries + 1):
            try:
                with limits.slot(host):
                    response = self.hops.get(client, url, self.headers(attempt))
            except (httpx.HTTPError, DestinationRefused) as exc:
                time.sleep(self.wait_after(url, attempt, failure_of_exception(exc)))
                continue
            if response.is_success:
                return response
            time.sleep(self.wait_after(url, attempt, failure_of_response(response)))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def get_async(
        self, client: httpx.AsyncClient, limits: AsyncHostLimits, url: str
    ) -> httpx.Response:
        """`get` on the event loop."""
        host = self.check(url)
        for attempt in range(self.retries + 1):
            try:
                async with limits.slot(host):
                    response = await self.hops.get_async(client, url, self.headers(attempt))
            except (httpx.HTTPError, DestinationRefused) as exc:
                await anyio.sleep(self.wait_after(url, attempt, failure_of_exception(exc)))
                continue
            if response.is_success:
                return response
            await anyio.sleep(self.wait_after(url, attempt, failure_of_response(response)))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def wait_after(self, url: str, attempt: int, failure: Failure) -> float:
        """Seconds to wait before retrying after `failure` of attempt `attempt` (from 0).

        Raises:
            FetchError: the failure is not transient, or it was the last attempt.
        """
        if not failure.transient or attempt == self.retries:
            raise fetch_error(url, failure, attempt + 1) from failure.cause
        return self.backoff.delay(attempt + 1, failure.retry_after)
