"""The retry loop: transient-error rules, Retry-After, backoff bounds and attempt counts."""

from __future__ import annotations

import errno
import random
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import anyio
import pytest

from ragrun.clock import FakeClock
from ragrun.policy import RetryPolicy
from ragrun.retry import (
    AttemptFailure,
    backoff,
    is_transient,
    retry_after,
    retry_call,
    should_retry,
)


class TransportError(Exception):
    """Stands in for httpx.TransportError (matched by name, not imported)."""


class ConnectError(TransportError):
    pass


class RateLimitError(Exception):
    pass


class _Response:
    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.headers = headers or {}


class HTTPError(Exception):
    """An error carrying a response, like httpx.HTTPStatusError and openai.APIStatusError."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.response = _Response(status_code, headers)


class StatusError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"status {status_code}")
        self.status_code = status_code


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(TimeoutError("slow"), True, id="timeout"),
        pytest.param(ConnectionResetError(), True, id="connection-reset"),
        pytest.param(OSError(errno.ECONNREFUSED, "refused"), True, id="oserror-refused"),
        pytest.param(FileNotFoundError(errno.ENOENT, "missing"), False, id="file-not-found"),
        pytest.param(ConnectError("dns"), True, id="transport-subclass-by-name"),
        pytest.param(RateLimitError("slow down"), True, id="rate-limit-by-name"),
        pytest.param(StatusError(429), True, id="status-429"),
        pytest.param(StatusError(503), True, id="status-503"),
        pytest.param(StatusError(400), False, id="status-400"),
        pytest.param(HTTPError(502), True, id="response-502"),
        pytest.param(HTTPError(404), False, id="response-404"),
        pytest.param(ValueError("bad"), False, id="value-error"),
    ],
)
def test_default_rules_retry_only_transient_errors(exc: Exception, expected: bool) -> None:
    assert is_transient(exc) is expected
    assert should_retry(exc, None) is expected


def test_retry_on_matches_the_class_or_a_base_class_by_plain_or_qualified_name() -> None:
    assert should_retry(ConnectError(), ["TransportError"])
    assert should_retry(ConnectError(), [f"{__name__}.ConnectError"])
    assert should_retry(KeyError("k"), ["LookupError"])
    assert not should_retry(TimeoutError(), ["ValueError"])  # retry_on replaces the defaults


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="seconds"),
        pytest.param({"retry-after": "1.5"}, 1.5, id="lowercase"),
        pytest.param({"retry-after-ms": "250", "retry-after": "9"}, 0.25, id="milliseconds-first"),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_retry_after_reads_the_response_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after(HTTPError(429, headers)) == expected


def test_retry_after_accepts_an_http_date() -> None:
    when = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    exc = HTTPError(503, {"Retry-After": format_datetime(when, usegmt=True)})
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after(exc, now=lambda: now) == 30.0


def test_retry_after_without_a_response_is_none() -> None:
    assert retry_after(ValueError()) is None


@pytest.mark.parametrize("seed", range(20))
def test_backoff_grows_exponentially_within_its_jitter_and_cap(seed: int) -> None:
    policy = RetryPolicy(attempts=6, initial_delay=1, multiplier=2, max_delay=5, jitter=0.25)
    rand = random.Random(seed).random
    for retry, base in enumerate([1, 2, 4, 5, 5], start=1):
        delay = backoff(policy, retry, rand())
        assert 0.75 * base <= delay <= base


def _flaky(failures: list[Exception], calls: list[int]) -> Any:
    async def attempt(number: int) -> str:
        calls.append(number)
        if failures:
            raise failures.pop(0)
        return f"ok after {number}"

    return attempt


@pytest.mark.anyio
async def test_transient_failures_are_retried_with_the_backoff_delays() -> None:
    clock = FakeClock(auto_advance=True)
    reports: list[AttemptFailure] = []
    calls: list[int] = []
    policy = RetryPolicy(attempts=4, initial_delay=0.5, multiplier=3, max_delay=10, jitter=0)
    attempt = _flaky([TimeoutError(), ConnectionError(), StatusError(502)], calls)

    result = await retry_call(attempt, policy, on_failure=reports.append, clock=clock)

    assert result == "ok after 4"
    assert calls == [1, 2, 3, 4]
    assert clock.sleeps == [0.5, 1.5, 4.5]
    assert [(r.attempt, r.will_retry, r.delay) for r in reports] == [
        (1, True, 0.5),
        (2, True, 1.5),
        (3, True, 4.5),
    ]


@pytest.mark.anyio
async def test_gives_up_after_the_last_attempt_and_raises_its_error() -> None:
    clock = FakeClock(auto_advance=True)
    reports: list[AttemptFailure] = []
    calls: list[int] = []
    errors = [TimeoutError("first"), TimeoutError("second"), TimeoutError("third")]
    with pytest.raises(TimeoutError, match="third"):
        await retry_call(
            _flaky(errors, calls), RetryPolicy(attempts=3), on_failure=reports.append, clock=clock
        )
    assert calls == [1, 2, 3]
    assert [r.will_retry for r in reports] == [True, True, False]
    assert reports[-1].delay == 0
    assert len(clock.sleeps) == 2


@pytest.mark.anyio
async def test_a_non_transient_error_is_not_retried() -> None:
    reports: list[AttemptFailure] = []
    calls: list[int] = []
    with pytest.raises(ValueError):
        await retry_call(
            _flaky([ValueError("bad input")], calls),
            RetryPolicy(attempts=5),
            on_failure=reports.append,
            clock=FakeClock(auto_advance=True),
        )
    assert calls == [1]
    assert [(r.attempt, r.will_retry) for r in reports] == [(1, False)]


@pytest.mark.anyio
async def test_without_a_policy_there_is_one_attempt() -> None:
    calls: list[int] = []
    with pytest.raises(TimeoutError):
        await retry_call(_flaky([TimeoutError()], calls), None, clock=FakeClock())
    assert calls == [1]


@pytest.mark.anyio
async def test_retry_after_is_the_shortest_wait() -> None:
    clock = FakeClock(auto_advance=True)
    policy = RetryPolicy(attempts=3, initial_delay=0.5, jitter=0)
    errors: list[Exception] = [HTTPError(429, {"Retry-After": "7"}), HTTPError(429, {})]
    await retry_call(_flaky(errors, []), policy, clock=clock)
    assert clock.sleeps == [7.0, 1.0]  # the server's 7 s, then the plain backoff


@pytest.mark.anyio
async def test_waits_on_the_clock_until_the_test_advances_it() -> None:
    clock = FakeClock()
    calls: list[int] = []
    policy = RetryPolicy(attempts=3, initial_delay=2, jitter=0)
    result: list[str] = []

    async def run() -> None:
        result.append(await retry_call(_flaky([TimeoutError()] * 2, calls), policy, clock=clock))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await clock.wait_for_sleepers(1)
        assert calls == [1]
        clock.advance(1.9)  # not yet
        await anyio.wait_all_tasks_blocked()
        assert calls == [1]
        clock.advance(0.1)
        await clock.wait_for_sleepers(1)
        assert calls == [1, 2]
        assert clock.advance_to_next() == 4
    assert calls == [1, 2, 3]
    assert result == ["ok after 3"]


@pytest.mark.anyio
async def test_an_async_failure_callback_is_awaited_before_the_wait() -> None:
    clock = FakeClock(auto_advance=True)
    seen: list[tuple[int, float]] = []

    async def on_failure(failure: AttemptFailure) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append((failure.attempt, clock.now()))

    policy = RetryPolicy(attempts=2, initial_delay=1, jitter=0)
    await retry_call(_flaky([TimeoutError()], []), policy, on_failure=on_failure, clock=clock)
    assert seen == [(1, 0.0)]


@pytest.mark.anyio
async def test_cancellation_is_never_retried() -> None:
    calls: list[int] = []
    started = anyio.Event()

    async def attempt(number: int) -> None:
        calls.append(number)
        started.set()
        await anyio.Event().wait()  # never set: only cancellation ends it

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: retry_call(attempt, RetryPolicy(attempts=5), clock=FakeClock(auto_advance=True))
        )
        await started.wait()
        tg.cancel_scope.cancel()
    assert calls == [1]
