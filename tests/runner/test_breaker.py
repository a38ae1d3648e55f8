"""The circuit breaker opens after consecutive failures, fails fast, probes, and recovers."""

from __future__ import annotations

import anyio
import pytest

from ragrun.breaker import Breaker, CircuitOpenError
from ragrun.clock import FakeClock
from ragrun.errors import PipelineRuntimeError, RagrunError
from ragrun.policy import CircuitBreaker


def _fail(breaker: Breaker, exc: Exception | None = None) -> None:
    with pytest.raises(type(exc) if exc else ConnectionError), breaker.guard():
        raise exc or ConnectionError("refused")


def _succeed(breaker: Breaker) -> None:
    with breaker.guard():
        pass


def test_opens_after_n_consecutive_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker = Breaker(CircuitBreaker(failures=3, cooldown=10), "llm", clock)
    for _ in range(2):
        _fail(breaker)
    assert breaker.state == "closed"
    _fail(breaker)
    assert breaker.state == "open"

    clock.advance(4)
    ran = False
    with pytest.raises(CircuitOpenError) as info, breaker.guard():
        ran = True
    assert not ran
    error = info.value
    assert isinstance(error, PipelineRuntimeError)
    assert isinstance(error, RagrunError)
    assert error.component == "llm"
    assert error.retry_in == pytest.approx(6)
    assert str(error) == (
        "component 'llm' was not called: its circuit breaker opened after 3 consecutive "
        "failures (last: ConnectionError: refused) and lets a probe call through in 6.0s; "
        "fix the cause, or tune circuit_breaker.failures and circuit_breaker.cooldown"
    )


def test_a_success_resets_the_count() -> None:
    breaker = Breaker(CircuitBreaker(failures=2), "c", FakeClock())
    _fail(breaker)
    _succeed(breaker)
    _fail(breaker)
    assert breaker.state == "closed"


def test_after_the_cooldown_a_successful_probe_closes_it() -> None:
    clock = FakeClock()
    breaker = Breaker(CircuitBreaker(failures=1, cooldown=5), "c", clock)
    _fail(breaker)
    clock.advance(5)
    assert breaker.state == "half-open"
    _succeed(breaker)
    assert breaker.state == "closed"
    _succeed(breaker)


def test_a_failed_probe_opens_it_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = Breaker(CircuitBreaker(failures=3, cooldown=5), "c", clock)
    for _ in range(3):
        _fail(breaker)
    clock.advance(5)
    _fail(breaker, TimeoutError("still down"))  # one failure reopens it from half-open
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError, match=r"last: TimeoutError: still down.*in 5\.0s"):
        _succeed(breaker)
    clock.advance(5)
    _succeed(breaker)
    assert breaker.state == "closed"


@pytest.mark.anyio
async def test_only_one_probe_goes_through_while_half_open() -> None:
    clock = FakeClock()
    breaker = Breaker(CircuitBreaker(failures=1, cooldown=1), "c", clock)
    _fail(breaker)
    clock.advance(1)
    probe_started, release = anyio.Event(), anyio.Event()

    async def probe() -> None:
        with breaker.guard():
            probe_started.set()
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        await probe_started.wait()
        with pytest.raises(CircuitOpenError, match="waiting for its probe call to finish"):
            _succeed(breaker)
        release.set()
    assert breaker.state == "closed"


@pytest.mark.anyio
async def test_a_cancelled_probe_gives_no_verdict_and_frees_the_probe_slot() -> None:
    clock = FakeClock()
    breaker = Breaker(CircuitBreaker(failures=1, cooldown=1), "c", clock)
    _fail(breaker)
    clock.advance(1)
    started = anyio.Event()

    async def probe() -> None:
        with breaker.guard():
            started.set()
            await anyio.Event().wait()  # only cancellation ends it

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        await started.wait()
        tg.cancel_scope.cancel()
    assert breaker.state == "half-open"
    _succeed(breaker)  # the next call may probe
    assert breaker.state == "closed"
