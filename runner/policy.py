"""Per-component run policies: the engine keys a component may carry beside `init_parameters`.

These pydantic models are both the YAML schema of those keys and the objects the engine
enforces (see `invoke.py`). Each policy lives here once; nothing else redefines them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class RetryPolicy(_Model):
    """Retry a failed call with exponential backoff and jitter."""

    attempts: PositiveInt = 3
    """Total attempts, the first one included."""
    initial_delay: float = Field(0.5, ge=0)
    """Seconds to wait before the second attempt."""
    max_delay: float = Field(30.0, ge=0)
    """Upper bound of any single wait, in seconds."""
    multiplier: float = Field(2.0, ge=1)
    """Each wait is the previous one times this."""
    jitter: float = Field(0.1, ge=0, le=1)
    """Random spread taken off each wait, as a fraction of it: with 0.1 each wait is 90-100% of
    its backoff, so concurrent callers spread out even once they reach `max_delay`. A server's
    `Retry-After` is always waited in full."""
    retry_on: list[str] | None = None
    """Exception class names to retry (an error matches when its class or any base class has
    that name, plain or module-qualified); by default only transient errors (timeouts,
    connection errors, HTTP 429 and 5xx)."""


class RateLimit(_Model):
    """Calls (or LLM tokens) allowed per second or minute, shared by every run of the pipeline."""

    per_second: PositiveFloat | None = None
    """Calls per second."""
    per_minute: PositiveFloat | None = None
    """Calls per minute."""
    tokens_per_minute: PositiveFloat | None = None
    """LLM tokens per minute, counted after each call from the usage a generator reports in
    its outputs' `meta` (`usage.total_tokens`); a call starts while the budget is not spent."""


class CircuitBreaker(_Model):
    """Fail fast after repeated failures, then probe again after a cooldown."""

    failures: PositiveInt = 5
    """Consecutive failures that open the breaker."""
    cooldown: PositiveFloat = 30.0
    """Seconds the breaker stays open before letting one call through."""


class MicroBatch(_Model):
    """Gather concurrent calls from different runs into one batch call."""

    max_batch_size: PositiveInt = 32
    """Most calls in one batch."""
    max_wait_ms: float = Field(5.0, ge=0)
    """Longest a call waits for others to join its batch."""


class ComponentPolicy(_Model):
    """How the engine calls one component; every field is optional."""

    retry: RetryPolicy | None = None
    """Retry failed attempts with exponential backoff."""
    timeout: PositiveFloat | None = None
    """Seconds allowed per attempt."""
    concurrency: PositiveInt | None = None
    """Calls of this component in flight at once, across all runs."""
    rate_limit: RateLimit | None = None
    """Calls allowed per second or minute, across all runs."""
    circuit_breaker: CircuitBreaker | None = None
    """Open after repeated failures; fail fast while open."""
    executor: Literal["auto", "thread", "loop", "process"] = "auto"
    """Where a sync `run` executes: `thread` a worker thread; `loop` without a thread hop: on the
    event loop, or in the worker thread of the sync chain it follows (for components that take
    microseconds, since on the loop it holds up every other run);
    `process` a pool of worker processes that each build and warm the component once; `auto`
    the loop for components that declare `ragrun_on_loop = True`, else a thread."""
    processes: PositiveInt | None = None
    """Worker processes for `executor: process` (default: the number of CPUs)."""
    batch: MicroBatch | None = None
    """Micro-batch concurrent calls (components that offer `run_batch`)."""

    @model_validator(mode="after")
    def _loop_has_no_timeout(self) -> ComponentPolicy:
        if self.executor == "loop" and self.timeout is not None:
            raise ValueError(
                "executor: loop cannot be combined with timeout: a call on the event loop cannot "
                "be interrupted; use executor: thread (or auto) with a timeout"
            )
        return self

    def is_default(self) -> bool:
        """True when no key was set, so `dumps` can leave the policy out."""
        return not self.model_fields_set
