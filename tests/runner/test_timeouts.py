"""Per-attempt timeouts: async work is cancelled, a worker thread abandoned, both reported."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import pytest

from ragrun.errors import PipelineRuntimeError
from ragrun.retry import is_transient
from ragrun.timeouts import ComponentTimeoutError, within


@pytest.mark.anyio
async def test_an_async_attempt_that_never_finishes_is_cancelled() -> None:
    cancelled = False

    async def hang() -> None:
        nonlocal cancelled
        try:
            await anyio.Event().wait()  # never set
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise

    with pytest.raises(ComponentTimeoutError) as info:
        await within(0.05, hang, component="llm")
    assert cancelled
    assert "component 'llm' did not finish within its timeout of 0.05s" in str(info.value)
    assert "it was cancelled" in str(info.value)
    assert info.value.component == "llm"
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, PipelineRuntimeError)
    assert is_transient(info.value)  # so the default retry rules retry it


@pytest.mark.anyio
async def test_a_sync_call_in_a_thread_is_abandoned_then_released_by_the_test() -> None:
    release = threading.Event()
    finished = threading.Event()

    def block() -> str:
        release.wait()
        finished.set()
        return "too late"

    async def attempt() -> str:
        return await anyio.to_thread.run_sync(block, abandon_on_cancel=True)

    with pytest.raises(ComponentTimeoutError, match="worker thread was abandoned"):
        await within(0.05, attempt, component="slow", in_thread=True)
    assert not finished.is_set()  # the thread still runs after the run moved on
    release.set()
    assert await anyio.to_thread.run_sync(finished.wait, 5)


@pytest.mark.anyio
async def test_without_a_timeout_the_attempt_runs_to_the_end() -> None:
    async def answer() -> int:
        await anyio.lowlevel.checkpoint()
        return 42

    assert await within(None, answer, component="c") == 42
    assert await within(60, answer, component="c") == 42


@pytest.mark.anyio
async def test_a_timeout_error_raised_by_the_component_itself_passes_through() -> None:
    async def fail() -> None:
        raise TimeoutError("upstream said so")

    with pytest.raises(TimeoutError, match="upstream said so") as info:
        await within(60, fail, component="c")
    assert not isinstance(info.value, ComponentTimeoutError)
