"""Run the same work in several threads started together: for tests of thread-safety."""

from __future__ import annotations

import threading
from collections.abc import Callable


def errors_at_once(work: Callable[[int], None], threads: int) -> list[BaseException]:
    """Call `work(k)` for k in range(threads), each in its own thread, all released together by
    a barrier; return what they raised (empty when all went well)."""
    start = threading.Barrier(threads, timeout=30)  # a safety net, not a timing
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            start.wait()
            work(k)
        except BaseException as exc:  # reported to the test, from the main thread
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors
