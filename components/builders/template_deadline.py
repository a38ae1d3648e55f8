"""A time limit for rendering a template that came from run data, in the thread rendering it.

`template_limits.py` keeps every single operation small; a loop can still run for long
(`{% for a in items %}{% for b in items %}...`). Python cannot kill a thread, so the limit is
enforced from inside it: one watchdog thread keeps the deadlines, and when one passes while
its call still runs, it raises `TemplateTimeoutError` in that thread
(`PyThreadState_SetAsyncExc`), which Python delivers between two bytecodes. Every operation a
template performs in C is bounded by `template_limits.py`, so one comes soon.

The exception is raised only while the call runs: the watchdog and the call's end take one
lock, and a call that ends clears an exception set a moment too late, so nothing leaks into
the code that follows. It derives from `BaseException` inside the call, so no
`except Exception` in Jinja2 or a filter swallows it; the caller sees `TemplateTimeoutError`.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TemplateTimeoutError(TimeoutError):
    """A template took longer to render than its time limit."""


class _Expired(BaseException):
    """Raised inside the rendering thread; turned into `TemplateTimeoutError` by `within`."""


class _Call:
    """One call under a deadline; `state` changes only under `_lock`."""

    def __init__(self, thread: int, at: float) -> None:
        self.thread = thread
        self.at = at
        self.state = "running"  # then "done", or "expired" once the watchdog raised in it


_lock = threading.Lock()
_wake = threading.Condition(_lock)
_pending: list[tuple[float, int, _Call]] = []
_order = itertools.count()
_watchdog: threading.Thread | None = None


def within(seconds: float, fn: Callable[[], T]) -> T:
    """`fn()`, run in this thread, stopped with `TemplateTimeoutError` after `seconds`."""
    call = _start(seconds)
    try:
        try:
            return fn()
        finally:
            _end(call)
    except _Expired:
        raise TemplateTimeoutError(
            f"the template took longer than {seconds:g} s to render and was stopped"
        ) from None


def _start(seconds: float) -> _Call:
    global _watchdog
    call = _Call(threading.get_ident(), time.monotonic() + seconds)
    with _wake:
        first = not _pending or call.at < _pending[0][0]
        heapq.heappush(_pending, (call.at, next(_order), call))
        if _watchdog is None:
            _watchdog = threading.Thread(target=_watch, name="ragrun-template-deadline")
            _watchdog.daemon = True
            _watchdog.start()
        elif first:
            _wake.notify()
    return call


def _end(call: _Call) -> None:
    with _lock:
        expired = call.state == "expired"
        call.state = "done"
        if expired:  # raised after `fn` returned, not yet delivered: take it back
            _set_async_exc(call.thread, None)


def _watch() -> None:
    with _wake:
        while True:
            while _pending and _pending[0][2].state != "running":
                heapq.heappop(_pending)  # ended in time
            if not _pending:
                _wake.wait()
                continue
            at, _, call = _pending[0]
            left = at - time.monotonic()
            if left > 0:
                _wake.wait(left)
                continue
            heapq.heappop(_pending)
            call.state = "expired"
            _set_async_exc(call.thread, _Expired)


def _set_async_exc(thread: int, exc: type[BaseException] | None) -> None:
    target = ctypes.py_object(exc) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), target)
