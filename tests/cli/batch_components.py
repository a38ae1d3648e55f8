"""Components the batch-mode CLI tests name by dotted path (`tests.cli.batch_components.X`).

Each child `ragrun` process builds its own instances, so the coordination they do (threading
events, counters) is between the runs of one batch, never with the test itself.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ragrun import Secret, component

logger = logging.getLogger(__name__)

WAIT_LIMIT = 60.0
"""Seconds a run waits for the others before giving up (a safety net, not a timing)."""


@component
class Relay:
    """Value 0 finishes only after every other value has: a run that ends last on purpose."""

    def __init__(self, others: int) -> None:
        self.others = others
        self.finished = 0
        self.lock = threading.Lock()
        self.others_done = threading.Event()

    @component.output_types(value=int)
    def run(self, value: int) -> dict:
        if value == 0:
            if not self.others_done.wait(WAIT_LIMIT):
                raise TimeoutError("the other runs never finished")
        else:
            with self.lock:
                self.finished += 1
                if self.finished == self.others:
                    self.others_done.set()
        return {"value": value}


@component
class Flaky:
    """Fails the first attempt for each value, succeeds on the next (to count retries)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.lock = threading.Lock()

    @component.output_types(value=int)
    def run(self, value: int) -> dict:
        with self.lock:
            first = value not in self.seen
            self.seen.add(value)
        if first:
            raise ConnectionError(f"value {value}: first attempt fails")
        return {"value": value}


@component
class Gate:
    """In mode `first`, n divisible by 5 fails and n above 8 blocks until the process is killed;
    in mode `second`, every n passes. A job killed mid-way, then resumed."""

    def __init__(self, mode: str = "second") -> None:
        self.mode = mode

    @component.output_types(n=int)
    def run(self, n: int) -> dict:
        if self.mode == "first":
            if n % 5 == 0:
                raise RuntimeError(f"n={n} fails in the first session")
            if n > 8:
                threading.Event().wait()  # held until kill -9
        return {"n": n}


@component
class FailsToClose:
    """Runs fine; its `aclose` fails, as a store whose index cannot be built would."""

    @component.output_types(value=int)
    def run(self, value: int) -> dict:
        return {"value": value}

    async def aclose(self) -> None:
        raise OSError("the index could not be built")


@component
class Mangler:
    """Echoes `word` as text; `raise` fails and `emit` returns text holding a lone surrogate,
    as a component that slices a string between the halves of a surrogate pair would."""

    @component.output_types(text=str)
    def run(self, word: Any) -> dict:
        if word == "raise":
            raise ValueError("cannot take \udc80 here")
        if word == "emit":
            return {"text": "half \ud800 a pair", "count": 2**70}
        return {"text": str(word)}


@component
class KeyUser:
    """Uses its key as a careless client would: logs it, and puts it in its error and output."""

    def __init__(self, api_key: Secret, fail_warm_up: bool = False) -> None:
        self.api_key = api_key
        self.fail_warm_up = fail_warm_up

    def warm_up(self) -> None:
        if self.fail_warm_up:
            raise ConnectionRefusedError(f"cannot sign in with {self.api_key.resolve()}")

    @component.output_types(text=str)
    def run(self, word: str) -> dict:
        key = self.api_key.resolve()
        logger.warning("calling the service with key %s", key)
        if word == "fail":
            raise PermissionError(f"the service refused key {key}")
        return {"text": f"{word} with {key}"}
