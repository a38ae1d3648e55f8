"""Components the Ray backend tests name by dotted path; importable in Ray workers.

`DieOnce` kills its worker process the first time it sees its trigger value: the marker file,
created atomically just before, makes it a one-shot across processes, so the batch Ray redoes
on a replacement actor succeeds.
"""

from __future__ import annotations

import os
from typing import Any

from ragrun import Document, Secret, component


@component
class Square:
    """`y = x * x`; a negative `x` is refused, to fail one input on purpose."""

    @component.output_types(y=int)
    def run(self, x: int) -> dict[str, Any]:
        if x < 0:
            raise ValueError(f"negative input: {x}")
        return {"y": x * x}


@component
class DieOnce:
    """Passes `x` on, with the pid of the process that ran it; exits hard once on `trigger`."""

    def __init__(self, marker: str, trigger: int) -> None:
        self.marker = marker
        self.trigger = trigger

    @component.output_types(x=int, pid=int)
    def run(self, x: int) -> dict[str, Any]:
        if x == self.trigger:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass  # the second attempt: the first one already died
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os._exit(17)  # the actor dies mid-batch, its other runs unfinished
        return {"x": x, "pid": os.getpid()}


@component
class Label:
    """`text = prefix + str(y)`: a second step, so runs have a connection to follow."""

    def __init__(self, prefix: str = "y=") -> None:
        self.prefix = prefix

    @component.output_types(text=str)
    def run(self, y: int) -> dict[str, Any]:
        return {"text": f"{self.prefix}{y}"}


@component
class ColdFeet:
    """Refuses to warm up, as a component whose model is missing on the workers would."""

    def warm_up(self) -> None:
        raise RuntimeError("model 'nowhere/nothing' is not on this worker")

    @component.output_types(x=int)
    def run(self, x: int) -> dict[str, Any]:
        return {"x": x}


@component
class ChunksOf:
    """`count` small documents for input `x`, with 4-d embeddings: a stand-in for an embedder."""

    def __init__(self, count: int = 5) -> None:
        self.count = count

    @component.output_types(documents=list[Document])
    def run(self, x: int) -> dict[str, Any]:
        documents = [
            Document(
                content=f"input {x} chunk {i}",
                meta={"x": x, "chunk": i},
                embedding=[float(x), float(i), 1.0, 0.5],
            )
            for i in range(self.count)
        ]
        return {"documents": documents}


@component
class TokenUser:
    """Resolves a key only inside the actor (the driver never sees it) and leaks it: into its
    error for a negative `x`, into its output otherwise."""

    def __init__(self, token: str) -> None:
        self.token = token

    @component.output_types(text=str)
    def run(self, x: int) -> dict[str, Any]:
        key = Secret.from_token(self.token).resolve()
        if x < 0:
            raise PermissionError(f"refused key {key}")
        return {"text": f"{x} signed with {key}"}
