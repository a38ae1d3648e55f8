"""`executor: process`: run a CPU-bound component in a pool of worker processes.

Each worker builds its own copy of the component once, when it starts (the pool's initializer
imports the class by its import path, calls it with the instance's init parameters and calls
`warm_up()`), so a call sends only its inputs and gets back only its outputs, both pickled.
Workers are started with `spawn` (`forkserver` where asked): forking a process that runs an
event loop and threads is unsafe.

Requirements on the component: its class is importable by module and name (not defined in
`__main__` or inside a function), and its init parameters and inputs/outputs pickle. A
component whose init parameters were not recorded (a Haystack component) is pickled whole.

Calls are awaited without blocking the loop and at most `max_in_flight` are queued at once, so
a batch of a million inputs does not pickle a million payloads ahead of the workers. The pool
starts with the first call and stops when the pipeline closes (`resources.close_resources`).

Secrets: a worker resolves its component's secrets itself, in its own process, so the driver's
redaction (`redaction.py`) would not know their values. A worker therefore redacts the errors
it sends back and its log records, and hands the driver, with each call's outputs, the secret
values it registered since its previous call (usually none), which the driver registers before
the outputs go anywhere: the values travel only between the driver and the workers it
started, which read them from the environment they inherited from it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import multiprocessing
import os
import pickle
import threading
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import anyio
import anyio.to_thread

from . import redaction
from .component import init_parameters_of
from .errors import PipelineRuntimeError
from .loopbound import PerLoop

_component: Any = None
"""The component this worker process built (set by `_init_worker`)."""
_secrets_reported = 0
"""How many of this worker's registered secret values the driver has been given."""


def _init_worker(blueprint: bytes) -> None:
    """Pool initializer: build the component from its blueprint and warm it up, once."""
    global _component
    redaction.install_log_filter()
    kind, payload = pickle.loads(blueprint)
    if kind == "instance":
        _component = payload
    else:
        class_path, params = payload
        _component = import_class(class_path)(**params)
    warm_up = getattr(_component, "warm_up", None)
    if callable(warm_up):
        warm_up()


def _run_in_worker(inputs: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """One call, inside a worker process: its outputs and the secret values this worker
    registered since its last call; an error leaves with those values redacted."""
    global _secrets_reported
    try:
        outputs = _component.run(**inputs)
    except Exception as exc:
        redaction.redact_exception(exc)
        raise
    new = redaction.registered_since(_secrets_reported)
    _secrets_reported += len(new)
    return outputs, new


def import_class(path: str) -> type:
    """The class at `module:Qualified.Name`."""
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def class_path(cls: type) -> str:
    """`module:Qualified.Name`, the import path a worker builds the component from."""
    return f"{cls.__module__}:{cls.__qualname__}"


def blueprint_of(instance: Any, component: str = "") -> bytes:
    """What a worker needs to build its own copy of `instance`, pickled once for all workers.

    Raises:
        PipelineRuntimeError: the class or its init parameters cannot be sent to a worker.
    """
    params = init_parameters_of(instance)
    cls = type(instance)
    try:
        if params is None or "<locals>" in cls.__qualname__:  # the latter fails, clearly
            return pickle.dumps(("instance", instance))
        return pickle.dumps(("class", (class_path(cls), params)))
    except Exception as exc:
        raise PipelineRuntimeError(
            f"component '{component}' ({cls.__name__}) cannot run with executor: process: "
            f"it cannot be sent to a worker process ({type(exc).__name__}: {exc}); define its "
            "class at module level with picklable init parameters, or use executor: thread",
            component=component or None,
        ) from exc


class ProcessPool:
    """A component's worker processes; calls go through `call`.

    Args:
        instance: the component (only its class and init parameters travel to the workers).
        component: the component's name, for messages.
        processes: worker processes (default: the number of CPUs).
        max_in_flight: calls queued or running at once (default: twice the workers).
        start_method: `spawn` or `forkserver`.
    """

    def __init__(
        self,
        instance: Any,
        *,
        component: str,
        processes: int | None = None,
        max_in_flight: int | None = None,
        start_method: str = "spawn",
    ) -> None:
        self.component = component
        self.processes = processes or os.cpu_count() or 1
        self.max_in_flight = max_in_flight or 2 * self.processes
        self._blueprint = blueprint_of(instance, component)
        self._context = multiprocessing.get_context(start_method)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._slots: PerLoop[anyio.CapacityLimiter] = PerLoop(
            lambda: anyio.CapacityLimiter(self.max_in_flight)
        )
        self._closed = False

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the process pool of '{self.component}' is closed")
            if self._executor is None:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=self._context,
                    initializer=_init_worker,
                    initargs=(self._blueprint,),
                )
            return self._executor

    async def call(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run the component on `inputs` in a worker process and return its outputs."""
        async with self._slots.get():
            pool = self._pool()
            try:
                future = pool.submit(_run_in_worker, inputs)
                outputs, secrets = await _wait(future)
            except BrokenProcessPool:
                self._discard(pool)  # a worker died: the next call starts a fresh pool
                raise
        for value in secrets:
            redaction.register(value)
        return outputs

    def _discard(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is pool:
                self._executor = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (waits for calls already running); later calls raise."""
        with self._lock:
            executor, self._executor, self._closed = self._executor, None, True
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


async def _wait(future: concurrent.futures.Future[Any]) -> Any:
    """Await a pool future from any anyio backend; cancelling cancels it if not started."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another anyio backend (trio): wait in a worker thread
        pass
    else:
        return await asyncio.wrap_future(future)
    try:
        return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        future.cancel()
        raise
