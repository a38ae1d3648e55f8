"""Rate limits: token buckets for calls per second/minute and LLM tokens per minute.

One `RateLimiter` per component, shared by every run of the pipeline. Each bucket holds up to
one window's worth (`per_second` calls, `per_minute` calls, `tokens_per_minute` tokens) and
refills continuously, so a window never admits more than its limit after a full bucket.

Callers wait in arrival order (a fair lock): the head of the queue sleeps until every bucket
can serve it; the others wait behind it. Tokens per minute are charged after the call, from
the usage the component reports, so a call starts while the budget is not spent and a large
reply puts the bucket into debt that later calls wait out. A 429 answer with `Retry-After`
pauses the whole limiter until then: every waiting call is pushed back, not only the one
that was refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import anyio

from .clock import SYSTEM_CLOCK, Clock
from .loopbound import PerLoop
from .policy import RateLimit


class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; the balance may go negative (debt).

    Args:
        rate: tokens added per second.
        capacity: the most tokens the bucket holds (the burst a full bucket allows).
        clock: where time is read.
    """

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock.now()

    def balance(self) -> float:
        """Tokens available now (negative while in debt)."""
        now = self._clock.now()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        return self._tokens

    def wait_time(self, need: float = 1.0) -> float:
        """Seconds until the balance reaches `need` (0 when it already has)."""
        missing = need - self.balance()
        return max(0.0, missing / self.rate)

    def take(self, amount: float) -> None:
        """Spend `amount` tokens (may overdraw)."""
        self.balance()
        self._tokens -= amount


class RateLimiter:
    """Admits calls of one component within its `RateLimit`, across every run.

    Args:
        policy: the limits; unset ones do not apply.
        clock: where time is read and waits happen.
    """

    def __init__(self, policy: RateLimit, clock: Clock = SYSTEM_CLOCK) -> None:
        self.policy = policy
        self._clock = clock
        self._call_buckets = [
            TokenBucket(rate, capacity, clock)
            for rate, capacity in (
                (policy.per_second, policy.per_second),
                (policy.per_minute and policy.per_minute / 60, policy.per_minute),
            )
            if rate is not None and capacity is not None
        ]
        self._token_bucket = (
            TokenBucket(policy.tokens_per_minute / 60, policy.tokens_per_minute, clock)
            if policy.tokens_per_minute is not None
            else None
        )
        self._paused_until = -math.inf
        self._queue: PerLoop[anyio.Lock] = PerLoop(anyio.Lock)

    def wait_time(self) -> float:
        """Seconds until the next call may start (0 when it may start now)."""
        waits = [self._paused_until - self._clock.now()]
        waits += [bucket.wait_time() for bucket in self._call_buckets]
        if self._token_bucket is not None:
            waits.append(self._token_bucket.wait_time())
        return max(0.0, *waits)

    async def acquire(self) -> None:
        """Wait (in arrival order) until a call may start, then count it."""
        async with self._queue.get():
            while (wait := self.wait_time()) > 0:
                await self._clock.sleep(wait)
            for bucket in self._call_buckets:
                bucket.take(1)

    def charge_tokens(self, tokens: float) -> None:
        """Spend LLM tokens a finished call reported (ignored without `tokens_per_minute`)."""
        if self._token_bucket is not None and tokens > 0:
            self._token_bucket.take(tokens)

    def charge_outputs(self, outputs: Mapping[str, Any]) -> None:
        """Spend the tokens a component's outputs report (see `reported_tokens`)."""
        if self._token_bucket is not None:
            self.charge_tokens(reported_tokens(outputs))

    def pause(self, seconds: float) -> None:
        """Admit nothing for `seconds` from now (a 429's `Retry-After`); never shortens a pause."""
        self._paused_until = max(self._paused_until, self._clock.now() + seconds)


def reported_tokens(outputs: Mapping[str, Any]) -> int:
    """Total LLM tokens a component's outputs report in their `meta["usage"]`.

    Looks at each output value and, for lists, each item: a `meta` attribute or key (a
    `ChatMessage`, a Haystack reply) or the item itself when it is a dict with `usage` (the
    `meta` list Haystack's generators return). Uses `total_tokens`, else prompt + completion.
    """
    total = 0
    for value in outputs.values():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            total += _usage_tokens(_meta_of(item))
    return total


def _meta_of(item: Any) -> Any:
    meta = getattr(item, "meta", None)
    if meta is None and isinstance(item, Mapping):
        meta = item.get("meta", item)
    return meta


def _usage_tokens(meta: Any) -> int:
    if not isinstance(meta, Mapping):
        return 0
    usage = meta.get("usage")
    if not isinstance(usage, Mapping):
        return 0
    total = usage.get("total_tokens")
    if isinstance(total, int | float):
        return int(total)
    parts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    return int(sum(p for p in parts if isinstance(p, int | float)))
