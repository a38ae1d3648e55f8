"""The retry loop: attempts, exponential backoff with jitter, transient-error rules, Retry-After.

A small anyio-native loop rather than tenacity or stamina: it reports every failed attempt to a
callback (so the engine can emit a `component_failed` event with `attempt` and `will_retry`),
honours a server's `Retry-After` as the shortest wait, sleeps on a `Clock` tests can drive, and
lets anyio cancellation through untouched (only `Exception`s are retried).

Which errors are retried by default (`retry_on` unset): the transient ones, recognised by class
name anywhere in the exception's class hierarchy, so neither httpx nor openai is imported:

- `TimeoutError` (also what `anyio.fail_after` raises), `ConnectionError`, and `OSError`s whose
  errno says the network failed (reset, refused, unreachable, timed out);
- httpx's `TimeoutException` and `TransportError`; openai's `APITimeoutError`,
  `APIConnectionError`, `RateLimitError` and `InternalServerError`;
- any exception with a `status_code` (or `response.status_code`) of 429 or 5xx.
"""

from __future__ import annotations

import errno
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from .clock import SYSTEM_CLOCK, Clock
from .policy import RetryPolicy

T = TypeVar("T")

TRANSIENT_CLASS_NAMES = frozenset(
    {
        "TimeoutError",
        "ConnectionError",
        "BrokenResourceError",  # anyio: the peer went away mid-stream
        "BrokenProcessPool",  # a worker process died; the pool is rebuilt on the next call
        "TimeoutException",  # httpx
        "TransportError",  # httpx
        "APITimeoutError",  # openai
        "APIConnectionError",  # openai
        "RateLimitError",  # openai
        "InternalServerError",  # openai
    }
)
"""Class names (matched against the whole class hierarchy) that are retried by default."""

_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EPIPE,
    }
)


@dataclass(frozen=True)
class AttemptFailure:
    """One failed attempt, as reported to the `on_failure` callback."""

    attempt: int
    """1 for the first attempt."""
    error: Exception
    """What the attempt raised."""
    will_retry: bool
    """Whether another attempt follows."""
    delay: float
    """Seconds the loop waits before the next attempt (0 when it will not retry)."""


OnFailure = Callable[[AttemptFailure], Awaitable[None] | None]


def class_names(exc: BaseException) -> set[str]:
    """The names of the exception's class and all its bases, plain and module-qualified."""
    names = set()
    for cls in type(exc).__mro__:
        names.add(cls.__name__)
        names.add(f"{cls.__module__}.{cls.__qualname__}")
    return names


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (`status_code` or `response.status_code`)."""
    for holder in (exc, getattr(exc, "response", None)):
        code = getattr(holder, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying by default: timeouts, network failures, HTTP 429 and 5xx."""
    if class_names(exc) & TRANSIENT_CLASS_NAMES:
        return True
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    code = status_code(exc)
    return code is not None and (code == 429 or 500 <= code <= 599)


def should_retry(exc: BaseException, retry_on: Iterable[str] | None) -> bool:
    """Whether `exc` is retried: its class (or a base) is named in `retry_on`, else if transient."""
    if retry_on is None:
        return is_transient(exc)
    return bool(class_names(exc) & set(retry_on))


def retry_after(exc: BaseException, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait (`Retry-After`, `retry-after-ms`), if it said so.

    Reads `exc.response.headers` (httpx and openai errors carry the response) or a numeric
    `exc.retry_after`. `Retry-After` may be seconds or an HTTP date.
    """
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - now())
    except (TypeError, ValueError, IndexError):
        return None


def backoff(policy: RetryPolicy, retry: int, rand: float) -> float:
    """The wait before retry number `retry` (1 = before the second attempt).

    `initial_delay * multiplier**(retry-1)`, capped at `max_delay`, then reduced by up to
    `jitter` of itself (`rand` in [0, 1)) so concurrent callers spread out even at the cap.
    """
    base = min(policy.initial_delay * policy.multiplier ** (retry - 1), policy.max_delay)
    return base * (1 - policy.jitter * rand)


async def retry_call(
    attempt: Callable[[int], Awaitable[T]],
    policy: RetryPolicy | None,
    *,
    on_failure: OnFailure | None = None,
    clock: Clock = SYSTEM_CLOCK,
    rand: Callable[[], float] = random.random,
) -> T:
    """Await `attempt(n)` for n = 1, 2, ... until it succeeds or the policy gives up.

    Args:
        attempt: makes one attempt; receives its number, 1 first.
        policy: the retry policy; None means a single attempt.
        on_failure: called (and awaited, if it returns an awaitable) after each failure.
        clock: where backoff waits happen.
        rand: the jitter source, uniform in [0, 1).

    Returns:
        The first successful attempt's result.

    Raises:
        Exception: the last attempt's error, once no retry is left or it is not retryable.
    """
    attempts = policy.attempts if policy is not None else 1
    retry_on = policy.retry_on if policy is not None else None
    number = 1
    while True:
        try:
            return await attempt(number)
        except Exception as exc:
            will_retry = number < attempts and should_retry(exc, retry_on)
            delay = 0.0
            if will_retry and policy is not None:
                delay = max(backoff(policy, number, rand()), retry_after(exc) or 0.0)
            await _report(on_failure, AttemptFailure(number, exc, will_retry, delay))
            if not will_retry:
                raise
        await clock.sleep(delay)
        number += 1


async def _report(on_failure: OnFailure | None, failure: AttemptFailure) -> None:
    if on_failure is None:
        return
    result: Any = on_failure(failure)
    if inspect.isawaitable(result):
        await result
