"""Rate limits held on a controlled clock: N calls per window, token budgets, 429 pauses."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from ragrun.chat import ChatMessage
from ragrun.clock import FakeClock
from ragrun.policy import RateLimit
from ragrun.ratelimit import RateLimiter, reported_tokens


async def _start_callers(
    tg: anyio.abc.TaskGroup, limiter: RateLimiter, count: int, admitted: list[int]
) -> None:
    async def caller(i: int) -> None:
        await limiter.acquire()
        admitted.append(i)

    for i in range(count):
        tg.start_soon(caller, i)
    await anyio.wait_all_tasks_blocked()


@pytest.mark.anyio
async def test_per_second_admits_n_calls_per_window_in_arrival_order() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=3), clock)
    admitted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _start_callers(tg, limiter, 10, admitted)
        assert len(admitted) == 3
        for expected in (6, 9, 10):
            clock.advance(1.0)
            await anyio.wait_all_tasks_blocked()
            assert len(admitted) == expected
    assert admitted == list(range(10))


@pytest.mark.anyio
async def test_per_minute_refills_continuously() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_minute=2), clock)
    admitted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _start_callers(tg, limiter, 4, admitted)
        assert len(admitted) == 2
        clock.advance(29.9)
        await anyio.wait_all_tasks_blocked()
        assert len(admitted) == 2
        clock.advance(0.1)  # one call's worth of a 2-per-minute bucket
        await anyio.wait_all_tasks_blocked()
        assert len(admitted) == 3
        clock.advance(30)
    assert len(admitted) == 4


@pytest.mark.anyio
async def test_the_strictest_limit_wins() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=10, per_minute=12), clock)
    admitted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _start_callers(tg, limiter, 13, admitted)
        assert len(admitted) == 10
        clock.advance(1)
        await anyio.wait_all_tasks_blocked()
        assert len(admitted) == 12  # the minute budget is spent
        clock.advance(5)
    assert len(admitted) == 13


@pytest.mark.anyio
async def test_a_pause_pushes_back_every_waiting_call() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=100), clock)
    limiter.pause(5)
    admitted: list[int] = []
    async with anyio.create_task_group() as tg:
        await _start_callers(tg, limiter, 3, admitted)
        assert admitted == []
        clock.advance(4.9)
        await anyio.wait_all_tasks_blocked()
        assert admitted == []
        limiter.pause(2)  # a second 429 while waiting extends the pause to t=6.9
        clock.advance(0.1)
        await anyio.wait_all_tasks_blocked()
        assert admitted == []
        clock.advance(1.9)
    assert admitted == [0, 1, 2]


@pytest.mark.anyio
async def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(), clock)
    limiter.pause(10)
    limiter.pause(1)
    assert limiter.wait_time() == 10


def test_tokens_per_minute_are_charged_after_the_call_and_delay_later_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(tokens_per_minute=60), clock)
    assert limiter.wait_time() == 0
    limiter.charge_tokens(120)  # a big reply: 60 tokens of debt
    assert limiter.wait_time() == pytest.approx(61)  # back to one token at 1 token/s
    clock.advance(61)
    assert limiter.wait_time() == 0


def test_call_limits_ignore_token_charges() -> None:
    limiter = RateLimiter(RateLimit(per_second=1), FakeClock())
    limiter.charge_tokens(1_000_000)
    assert limiter.wait_time() == 0


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        pytest.param(
            {"replies": [ChatMessage.from_assistant("a", meta={"usage": {"total_tokens": 30}})]},
            30,
            id="chat-message-meta",
        ),
        pytest.param(
            {
                "replies": ["a", "b"],
                "meta": [{"usage": {"prompt_tokens": 5, "completion_tokens": 7}}],
            },
            12,
            id="haystack-meta-list",
        ),
        pytest.param(
            {"embedding": [0.1, 0.2], "meta": {"usage": {"total_tokens": 4}}},
            4,
            id="meta-dict-output",
        ),
        pytest.param({"documents": [], "text": "x"}, 0, id="no-usage"),
    ],
)
def test_reported_tokens_reads_the_usage_in_output_meta(
    outputs: dict[str, Any], expected: int
) -> None:
    assert reported_tokens(outputs) == expected


def test_charge_outputs_spends_the_reported_usage() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(tokens_per_minute=600), clock)
    reply = ChatMessage.from_assistant("hi", meta={"usage": {"total_tokens": 660}})
    limiter.charge_outputs({"replies": [reply]})
    assert limiter.wait_time() == pytest.approx(6.1)  # 61 tokens short at 10 tokens/s


@pytest.mark.anyio
async def test_limits_hold_across_event_loops() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_minute=2), clock)
    await limiter.acquire()

    async def second_loop() -> None:
        await limiter.acquire()

    await anyio.to_thread.run_sync(lambda: anyio.run(second_loop))
    assert limiter.wait_time() == pytest.approx(30)  # both loops drew from one bucket
