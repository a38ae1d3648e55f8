"""`emit_chunk`: how a component streams a piece of its output (an LLM token) to the run's events.

A component calls `ragrun.streaming.emit_chunk(chunk)` from `run` (in a worker thread) or from
`run_async` (on the event loop); the engine turns it into a `chunk` event of the current run,
named after the calling component. Outside a run, or when nobody listens to the run's events
(`run()` rather than `stream()`), it does nothing, so components can call it unconditionally.

From a worker thread the chunk is handed to the event loop and the thread waits until it is
queued, so chunks keep their order and a fast producer cannot outrun the consumer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import anyio.from_thread
import anyio.lowlevel

from .chat import StreamingChunk

Deliver = Callable[[StreamingChunk], None]


@dataclass(frozen=True)
class _Sink:
    """Where the chunks of the component being called go."""

    component: str
    deliver: Deliver
    """Called on the event loop's thread with each chunk."""
    loop_thread: int
    token: anyio.lowlevel.EventLoopToken


_SINK: ContextVar[_Sink | None] = ContextVar("ragrun_chunk_sink", default=None)


def emit_chunk(chunk: StreamingChunk | str) -> None:
    """Send `chunk` to the current run's event stream as a `chunk` event; thread-safe.

    Args:
        chunk: the piece of output; a plain string is taken as its content.
    """
    sink = _SINK.get()
    if sink is None:
        return
    if isinstance(chunk, str):
        chunk = StreamingChunk(content=chunk)
    if chunk.component is None:
        chunk.component = sink.component
    if threading.get_ident() == sink.loop_thread:
        sink.deliver(chunk)
        return
    try:
        anyio.from_thread.run_sync(sink.deliver, chunk, token=sink.token)
    except RuntimeError:
        pass  # the run's event loop is gone (a thread that outlived its run): drop the chunk


@contextmanager
def streaming_to(component: str, deliver: Deliver) -> Iterator[None]:
    """Send chunks emitted inside this block (and in worker threads it awaits) to `deliver`.

    Must be entered on the event loop's thread; the engine wraps each component call in it.
    """
    sink = _Sink(component, deliver, threading.get_ident(), anyio.lowlevel.current_token())
    reset = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(reset)
