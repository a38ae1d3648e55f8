"""A store writer in its own process, driven line by line, for the multi-process store tests.

`writer(path)` starts one and gives a `Writer` to talk to it.

`python -m tests.components.store_writer PATH [--pause POINT]` reads commands from stdin and
answers on stdout, one line each, flushed, so a test knows exactly where the writer is without
sleeping:

- `write TAG COUNT [DIM] [POLICY]`: write COUNT documents tagged TAG (`meta.tag`, `meta.i`,
  DIM-sized embeddings, 0 for none); prints `start TAG`, then `wrote TAG N` once committed, or
  `error TAG ClassName` when the write raised.
- `loop TAG COUNT DIM`: write batches TAG-0, TAG-1, ... forever, printing `start TAG-k` before
  and `wrote TAG-k N` after each (a test kills it somewhere in between).
- `count`: prints `count N` (the store's count, read as a reader would).
- `quit`: closes the store and exits.

With `--pause POINT` the writer stops at that point of each write (or migration), prints
`paused POINT`, and waits for a line on stdin: a test kills it there. Points: `before-rows`
(write lock held, nothing written), `before-commit` (rows written, not committed),
`migration-before-swap` (the new file built, the old one not replaced yet). With `--mark POINT`
it prints `at POINT` there and goes on: a kill sent then races the commit.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np

from ragrun import Document
from ragrun.components.document_stores import npz_format, persistence
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds: only catches a hang


class Writer:
    """A store_writer process: send a command line, read the answer lines."""

    def __init__(self, path: Path, pause: str | None = None, mark: str | None = None) -> None:
        args = [sys.executable, "-m", "tests.components.store_writer", str(path)]
        args += ["--pause", pause] if pause else []
        args += ["--mark", mark] if mark else []
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, bufsize=1,
        )  # fmt: skip
        assert self.expect("ready") == "ready"

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, prefix: str) -> str:
        """The next line printed (it must start with `prefix`)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith(prefix), f"expected {prefix!r}, the writer said {line!r}"
        return line

    def kill(self) -> None:
        """SIGKILL: no handler, no atexit, no flush runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)
        assert self.process.returncode == -signal.SIGKILL

    def quit(self) -> None:
        self.send("quit")
        self.expect("bye")
        self.process.wait(timeout=TIMEOUT)


@contextmanager
def writer(path: Path, pause: str | None = None, mark: str | None = None) -> Iterator[Writer]:
    started = Writer(path, pause, mark)
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait(timeout=TIMEOUT)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pause_at(point: str) -> None:
    """Print `paused POINT` and block until stdin gives a line (or the process is killed)."""
    say(f"paused {point}")
    sys.stdin.readline()


def documents(tag: str, size: int, dimension: int) -> list[Document]:
    rng = np.random.default_rng(zlib.crc32(tag.encode()))
    vectors = rng.standard_normal((size, dimension)).astype(np.float32) if dimension else None
    return [
        Document(
            content=f"{tag} document {i}",
            meta={"tag": tag, "i": i},
            embedding=None if vectors is None else vectors[i].tolist(),
        )
        for i in range(size)
    ]


def install_pause(point: str, *, block: bool = True) -> None:
    """Wrap the step of a write (or migration) named by `point` with a pause (or a mark)."""
    target: Any
    if point == "before-rows":
        target, name = persistence.Transaction, "upsert"
    elif point == "before-commit":
        target, name = persistence.Transaction, "finish"
    elif point == "migration-before-swap":
        target, name = npz_format, "_link_or_copy"
    else:
        raise SystemExit(f"unknown pause point {point!r}")
    original: Callable[..., Any] = getattr(target, name)
    stop = pause_at if block else (lambda where: say(f"at {where}"))
    if point == "before-commit":

        def paused(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            stop(point)
            return result
    else:

        def paused(*args: Any, **kwargs: Any) -> Any:
            stop(point)
            return original(*args, **kwargs)

    setattr(target, name, paused)


def write(store: InMemoryDocumentStore, tag: str, size: int, dimension: int, policy: str) -> None:
    say(f"start {tag}")
    try:
        written = store.write_documents(documents(tag, size, dimension), policy=policy)
    except Exception as exc:  # reported to the test, which decides what was expected
        say(f"error {tag} {type(exc).__name__}")
        return
    say(f"wrote {tag} {written}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--pause", default=None)
    parser.add_argument("--mark", default=None)
    args = parser.parse_args()
    if args.pause:
        install_pause(args.pause)
    if args.mark:
        install_pause(args.mark, block=False)
    store = InMemoryDocumentStore(path=args.path)
    say("ready")
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "write":
            tag, size = rest[0], int(rest[1])
            dimension = int(rest[2]) if len(rest) > 2 else 0
            write(store, tag, size, dimension, rest[3] if len(rest) > 3 else "fail")
        elif command == "loop":
            for k in count():
                write(store, f"{rest[0]}-{k}", int(rest[1]), int(rest[2]), "fail")
        elif command == "count":
            say(f"count {store.count_documents()}")
        elif command == "quit":
            store.close()
            say("bye")
            return


if __name__ == "__main__":
    main()
