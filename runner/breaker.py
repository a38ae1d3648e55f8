"""The circuit breaker: stop calling a component that keeps failing, then probe it again.

States, per component and shared by every run of the pipeline:

- **closed**: calls go through; `failures` consecutive failed attempts open the breaker.
- **open**: calls fail at once with `CircuitOpenError`, for `cooldown` seconds.
- **half-open**: after the cooldown one call (the probe) goes through while the others still
  fail fast; its success closes the breaker, its failure opens it for another cooldown.

Every failed attempt counts, whatever the error (a retry is a new attempt and counts again);
a success resets the count. A cancelled call counts as neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from .clock import SYSTEM_CLOCK, Clock
from .errors import PipelineRuntimeError
from .policy import CircuitBreaker

State = Literal["closed", "open", "half-open"]


class CircuitOpenError(PipelineRuntimeError):
    """A call was refused because the component's circuit breaker is open."""

    def __init__(self, component: str, failures: int, retry_in: float, last_error: str) -> None:
        self.retry_in = retry_in
        when = (
            f"lets a probe call through in {retry_in:.1f}s"
            if retry_in > 0
            else "is waiting for its probe call to finish"
        )
        super().__init__(
            f"component '{component}' was not called: its circuit breaker opened after "
            f"{failures} consecutive failures (last: {last_error}) and {when}; fix the cause, "
            "or tune circuit_breaker.failures and circuit_breaker.cooldown",
            component=component,
        )


class Breaker:
    """The breaker of one component.

    Args:
        policy: failures that open it and the cooldown before a probe.
        component: the component's name, for messages.
        clock: where time is read.
    """

    def __init__(self, policy: CircuitBreaker, component: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self.policy = policy
        self.component = component
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._last_error = ""

    @property
    def state(self) -> State:
        """`closed`, `open` or `half-open` (cooldown over: the next call is a probe)."""
        if self._opened_at is None:
            return "closed"
        if self._clock.now() - self._opened_at >= self.policy.cooldown:
            return "half-open"
        return "open"

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Wrap one attempt: refuse it while open, then record how it ended.

        Raises:
            CircuitOpenError: the breaker is open, or half-open with a probe already in flight.
        """
        self._admit()
        try:
            yield
        except Exception as exc:
            self._record_failure(exc)
            raise
        except BaseException:  # cancelled: no verdict on the component
            self._probing = False
            raise
        self._record_success()

    def _admit(self) -> None:
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._probing:
            self._probing = True
            return
        assert self._opened_at is not None
        retry_in = max(0.0, self._opened_at + self.policy.cooldown - self._clock.now())
        raise CircuitOpenError(self.component, self._failures, retry_in, self._last_error)

    def _record_failure(self, exc: Exception) -> None:
        self._failures += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._probing or self._failures >= self.policy.failures:
            self._opened_at = self._clock.now()
        self._probing = False

    def _record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False
