"""Small components the CLI tests name by dotted path (`tests.cli.sample_components.Upper`)."""

from __future__ import annotations

import anyio

from ragrun import component
from ragrun.streaming import emit_chunk


@component
class Upper:
    """Upper-case a text and add a suffix."""

    def __init__(self, suffix: str = "!") -> None:
        self.suffix = suffix

    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        return {"text": text.upper() + self.suffix}


@component
class Add:
    """Add two integers (to see `-i` values arrive as JSON numbers)."""

    @component.output_types(total=int)
    def run(self, a: int, b: int = 0) -> dict:
        return {"total": a + b}


@component
class Echo:
    """Pass any value through unchanged (to see how `-i` values are typed)."""

    @component.output_types(value=object)
    def run(self, value: object) -> dict:
        return {"value": value}


@component
class Words:
    """Stream each word of a text as a chunk, then return the word count."""

    @component.output_types(count=int)
    def run(self, text: str) -> dict:
        words = text.split()
        for word in words:
            emit_chunk(word + " ")
        return {"count": len(words)}


@component
class Fail:
    """Always raise, to see a run fail."""

    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        raise ValueError(f"cannot handle {text!r}")


@component
class Hang:
    """Stream one chunk, then wait forever (until the run is interrupted)."""

    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        raise NotImplementedError("awaited through run_async")

    @component.output_types(text=str)
    async def run_async(self, text: str) -> dict:
        emit_chunk("waiting")
        await anyio.sleep_forever()
        return {"text": text}
