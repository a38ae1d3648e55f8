"""Closing what a pipeline's components hold open: HTTP clients, database pools.

A component may offer `close()` (sync resources) and `aclose()` (resources of the running
event loop: an async HTTP client, an async connection pool). `Pipeline.close()` calls every
`close()`; `Pipeline.aclose()` awaits every `aclose()` and then calls every `close()` in a
worker thread. A component's `document_store` is closed with it, once even when several
components share it. Neither Haystack nor DESIGN.md has these hooks; without them a client's
connections were only released when its event loop shut down or the process ended.

A failing hook does not stop the others: each is logged, and the first error is raised once
all ran. Clients are built again on next use, so the pipeline can run again after closing.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Pipeline

logger = logging.getLogger(__name__)


def _holders(p: Pipeline) -> Iterator[tuple[str, Any]]:
    """(name, object) for each component and each distinct document store they hold."""
    seen: set[int] = set()
    for name, node in p.nodes.items():
        for label, target in ((name, node.instance), (f"{name}.document_store", None)):
            if target is None:
                target = getattr(node.instance, "document_store", None)
            if target is None or id(target) in seen:
                continue
            seen.add(id(target))
            yield label, target


def _hook(target: Any, name: str) -> Callable[[], Any] | None:
    found = getattr(target, name, None)
    return found if callable(found) else None


def close_components(p: Pipeline) -> None:
    """Call `close()` on every component (and document store) that has one."""
    first: Exception | None = None
    for label, target in _holders(p):
        hook = _hook(target, "close")
        if hook is None or inspect.iscoroutinefunction(hook):
            continue
        try:
            hook()
        except Exception as exc:
            logger.warning("closing %s failed: %s: %s", label, type(exc).__name__, exc)
            first = first or exc
    if first is not None:
        raise first


async def aclose_components(p: Pipeline) -> None:
    """Await `aclose()` on every component (and document store) that has one, on this loop."""
    first: Exception | None = None
    for label, target in _holders(p):
        hook = _hook(target, "aclose")
        if hook is None:
            continue
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.warning("closing %s failed: %s: %s", label, type(exc).__name__, exc)
            first = first or exc
    if first is not None:
        raise first


@dataclass
class Closing:
    """What `closing_after` found when it closed the pipeline."""

    error: Exception | None = None
    """The first close hook's error, when one failed (each is also logged)."""

    def message(self) -> str:
        """`closing the pipeline failed: Type: message`, for stderr."""
        return f"closing the pipeline failed: {type(self.error).__name__}: {self.error}"


@asynccontextmanager
async def closing_after(p: Pipeline) -> AsyncIterator[Closing]:
    """`await p.aclose()` once the block has ended normally; a close error is kept, not raised.

    The CLI's runs end this way, and it tells a close error (an HNSW index that could not be
    built) after its summary. When the block raises (an error, Ctrl-C, a cancel), nothing is
    closed: a component may still be busy in an abandoned worker thread, the process is about
    to end, and a close error must not hide the one that ended the block.
    """
    closing = Closing()
    yield closing
    try:
        await p.aclose()
    except Exception as exc:
        closing.error = exc
