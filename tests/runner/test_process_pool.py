"""`executor: process`: calls run in worker processes, each building and warming the component."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from ragrun import component
from ragrun.component import sockets_of
from ragrun.errors import PipelineRuntimeError
from ragrun.pipeline import Node
from ragrun.policy import ComponentPolicy
from ragrun.process_pool import ProcessPool, blueprint_of, class_path, import_class
from ragrun.resources import ComponentResources
from tests.runner.process_components import Failing, PidReporter


@pytest.fixture
def pool() -> Iterator[ProcessPool]:
    pool = ProcessPool(PidReporter(offset=3), component="square", processes=2)
    yield pool
    pool.close()


def test_a_worker_builds_the_component_from_its_class_path_and_init_parameters() -> None:
    kind, (path, params) = pickle.loads(blueprint_of(PidReporter(offset=3)))
    assert (kind, params) == ("class", {"offset": 3})
    assert import_class(path) is PidReporter
    assert class_path(PidReporter).endswith("process_components:PidReporter")


def test_a_class_workers_cannot_import_is_refused_with_a_clear_message() -> None:
    @component
    class Local:
        def __init__(self, n: int = 1) -> None:
            self.n = n

        @component.output_types(n=int)
        def run(self) -> dict:
            return {"n": self.n}

    with pytest.raises(PipelineRuntimeError, match="cannot run with executor: process") as info:
        ProcessPool(Local(n=2), component="local", processes=1)
    assert info.value.component == "local"


@pytest.mark.anyio
async def test_calls_run_in_other_processes_each_warmed_up_once(pool: ProcessPool) -> None:
    results: dict[int, dict[str, Any]] = {}

    async def call(n: int) -> None:
        results[n] = await pool.call({"n": n})

    async with anyio.create_task_group() as tg:
        for n in range(12):
            tg.start_soon(call, n)

    assert {n: r["value"] for n, r in results.items()} == {n: n * n + 3 for n in range(12)}
    pids = {r["pid"] for r in results.values()}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    assert {r["warm_ups"] for r in results.values()} == {1}


@pytest.mark.anyio
async def test_an_error_in_the_worker_reaches_the_caller() -> None:
    pool = ProcessPool(Failing(), component="failing", processes=1)
    try:
        with pytest.raises(ValueError, match="bad input 7"):
            await pool.call({"n": 7})
    finally:
        pool.close()


@pytest.mark.anyio
async def test_a_closed_pool_refuses_calls(pool: ProcessPool) -> None:
    assert (await pool.call({"n": 2}))["value"] == 7
    pool.close()
    with pytest.raises(RuntimeError, match="process pool of 'square' is closed"):
        await pool.call({"n": 2})


@pytest.mark.anyio
async def test_component_resources_send_process_components_to_the_pool() -> None:
    instance = PidReporter()
    policy = ComponentPolicy(executor="process", processes=1)
    resources = ComponentResources(Node("square", instance, sockets_of(instance), policy))
    assert resources.pool is not None
    try:
        outputs = await resources.call(resources.pool.call, {"n": 4})
    finally:
        resources.close()
    assert outputs["value"] == 16
    assert outputs["pid"] != os.getpid()
