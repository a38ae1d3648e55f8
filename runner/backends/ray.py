"""Batch runs on Ray: `run_on_ray` runs a pipeline once per JSON line on an actor pool.

The inputs are read as a Ray Dataset, streamed (`ray_inputs.py`), and mapped over a pool of
`actors` Ray actors (`map_batches` with an `ActorPoolStrategy`). Each actor loads the YAML and
warms the pipeline once, then runs batch after batch of `batch_size` lines on the local anyio
runner (`ray_actor.py`, `line_batch.py`), so retries, timeouts, rate limits and micro-batching
apply as in local batch mode. Each line comes back as one row carrying all its events, and the
driver yields those events, so the output is the same JSON lines as a local batch run.

Accounting: each input yields exactly one `run_finished` or `run_failed`, even when an actor
dies mid-batch. Ray restarts a dead actor (`max_restarts=-1`) and redoes the task it was
running (`max_task_retries=-1`); the rows of a failed task attempt are discarded, and the
driver also drops any row whose index already came back, so nothing is lost or doubled. A
component's side effects (documents written to a store) may happen twice for a redone batch:
stores should write by document id (`policy: overwrite` or `skip`), as the built-ins do.

Where Ray runs: `ray_address`, else the `RAY_ADDRESS` environment variable, else a local Ray
started for the job (with enough CPUs for the pool) and shut down after it. A Ray already
initialised in this process is used as it is and left running.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from ..allowlist import current
from ..errors import PipelineInputError, RagrunError
from ..events import ErrorInfo, Event, RunFailed, parse_event
from ..executor import new_run_id
from ..suggest import did_you_mean
from .line_batch import LineOptions
from .ray_actor import PipelineActor, PipelineSpec

if TYPE_CHECKING:
    from .ray_inputs import JsonLinesDatasource

Inputs = str | os.PathLike[str] | Iterable[str | bytes | Mapping[str, Any]]
"""A JSON-lines file, `-` for stdin, or the lines themselves (text or mappings)."""

_BLOCKS_PER_SPLIT = 64  # batches per read task: few tasks, yet reads start small


class RayBackendError(RagrunError):
    """The Ray job itself failed (not one of its runs): Ray unreachable, actors unable to start."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a Ray job runs."""

    actors: int = 2
    """Actors in the pool; each holds one warmed copy of the pipeline."""
    num_cpus: float = 1.0
    """CPUs Ray reserves for each actor."""
    num_gpus: float = 0.0
    """GPUs Ray reserves for each actor (fractions share one GPU)."""
    batch_size: int = 16
    """Input lines per batch handed to an actor."""
    concurrency: int | None = None
    """Runs in flight in each actor (default: `batch_size`, a whole batch at once)."""
    address: str | None = None
    """The Ray cluster's address (default: `RAY_ADDRESS`, else a local Ray for the job)."""
    runtime_env: Mapping[str, Any] | None = None
    """Ray `runtime_env` for the job: the pipeline's dependencies, env vars, files."""
    ordered: bool = False
    """Yield events in input order rather than as batches finish."""

    def __post_init__(self) -> None:
        for name in ("actors", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise ValueError("num_cpus and num_gpus cannot be negative")


def run_on_ray(
    pipeline: str | os.PathLike[str],
    inputs: Inputs,
    *,
    overrides: Mapping[str, Any] | None = None,
    base_inputs: Mapping[str, Any] | None = None,
    include_outputs_from: Iterable[str] = (),
    verbose: bool = False,
    actors: int = 2,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    batch_size: int = 16,
    concurrency: int | None = None,
    ray_address: str | None = None,
    runtime_env: Mapping[str, Any] | None = None,
    ordered: bool = False,
) -> Iterator[Event]:
    """Run the pipeline in a YAML file once per input line on Ray, yielding every run's events.

    Each non-blank line is one run, as in `ragrun FILE --inputs`; every event carries the
    line's `line` and `index`, and each line ends with exactly one `run_finished` or
    `run_failed`. A line that fails never affects the others.

    Args:
        pipeline: the pipeline's YAML file (it is validated here, before Ray starts).
        inputs: a JSON-lines file, `-` for stdin, or the lines themselves (text or mappings).
        overrides: init parameter overrides, as for `Pipeline.load`.
        base_inputs: data laid under every line's own data.
        include_outputs_from: components whose every output `run_finished` reports.
        verbose: also emit `component_started` events.
        actors: actors in the pool.
        num_cpus: CPUs per actor.
        num_gpus: GPUs per actor.
        batch_size: lines per batch handed to an actor.
        concurrency: runs in flight per actor (default: `batch_size`).
        ray_address: the cluster to use (default: `RAY_ADDRESS`, else a local Ray).
        runtime_env: Ray `runtime_env` for the workers (dependencies, env vars, files).
        ordered: yield in input order rather than as batches finish.

    Raises:
        PipelineValidationError: the YAML is invalid (nothing has run).
        PipelineInputError: the inputs file cannot be read, or an unknown component is named.
        RayBackendError: Ray could not run the job (its message says why).
    """
    options = RayOptions(
        actors, num_cpus, num_gpus, batch_size, concurrency, ray_address, runtime_env, ordered
    )
    line_options = LineOptions(
        base=dict(base_inputs or {}),
        include_outputs_from=tuple(include_outputs_from),
        verbose=verbose,
        concurrency=options.concurrency or options.batch_size,
    )
    spec = load_spec(pipeline, overrides, line_options)
    with input_file(inputs) as path:
        from .ray_inputs import JsonLinesDatasource

        rows_per_split = options.batch_size * _BLOCKS_PER_SPLIT
        source = JsonLinesDatasource(path, options.batch_size, rows_per_split)
        if source.items == 0:
            return  # nothing to run: no need to start Ray
        with ray_session(options):
            yield from account(_rows(source, spec, options, verbose), source)


def load_spec(
    pipeline: str | os.PathLike[str], overrides: Mapping[str, Any] | None, options: LineOptions
) -> PipelineSpec:
    """The spec every actor builds from, after loading it once here to report mistakes early."""
    from ..pipeline import Pipeline

    source = os.fspath(pipeline)
    yaml = Path(source).read_text(encoding="utf-8")
    loaded = Pipeline.loads(yaml, source=source, overrides=overrides)
    unknown = [name for name in options.include_outputs_from if name not in loaded.nodes]
    if unknown:
        hint = did_you_mean(unknown[0], loaded.nodes)
        raise PipelineInputError(f"include_outputs_from: no component named '{unknown[0]}'.{hint}")
    allowlist = current()  # the driver's `--allow-module`s hold in every actor too
    return PipelineSpec(
        yaml, source, dict(overrides or {}), options, allowlist.patterns, allowlist.unsafe
    )


@contextmanager
def input_file(inputs: Inputs) -> Iterator[Path]:
    """The inputs as a file: a path as it is; stdin or an iterable spooled to a temporary file."""
    if isinstance(inputs, str | os.PathLike) and os.fspath(inputs) != "-":
        path = Path(inputs)
        if not path.is_file():
            raise PipelineInputError(f"cannot read {path}: no such file")
        yield path
        return
    from .ray_inputs import spool

    items = sys.stdin.buffer if inputs == "-" else inputs
    path = spool(items)  # type: ignore[arg-type]
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def ray_session(options: RayOptions) -> Iterator[None]:
    """Ray, connected: the one already initialised here, a cluster, or a local one for the job.

    Only a Ray this function started (or connected to) is shut down (or disconnected) after.
    """
    import ray

    if ray.is_initialized():
        yield
        return
    address = options.address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {
        "runtime_env": dict(options.runtime_env) if options.runtime_env else None,
        "logging_level": logging.WARNING,
    }
    try:
        if address:
            ray.init(address=address, **common)
        else:  # enough logical CPUs for the whole pool, even on a small machine
            cpus = max(os.cpu_count() or 1, math.ceil(options.actors * options.num_cpus))
            ray.init(num_cpus=cpus, include_dashboard=False, **common)
    except Exception as exc:
        where = address or "a local Ray"
        raise RayBackendError(f"cannot start Ray ({where}): {type(exc).__name__}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def guarded_stdout() -> Iterator[BinaryIO]:
    """Stdout kept for events alone: yields it as a binary file, and sends fd 1 to stderr.

    Ray prints to the driver's stdout from its own threads (a raylet's message when an actor
    dies, worker output), which would corrupt a stream of JSON lines. Inside this block,
    whatever anything prints to stdout (Python or C) goes to stderr, and only what is written
    to the yielded file reaches the real stdout.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    events = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        yield events
    finally:
        events.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _rows(
    source: JsonLinesDatasource, spec: PipelineSpec, options: RayOptions, verbose: bool
) -> Iterator[dict[str, Any]]:
    """The result rows of the job (`index`, `line`, `ok`, `events`), as batches finish."""
    import ray

    dataset = ray.data.read_datasource(source, num_cpus=0)  # reading lines needs no core
    context = dataset.context
    context.execution_options.preserve_order = options.ordered
    context.enable_progress_bars = verbose
    context.print_on_execution_start = verbose
    results = dataset.map_batches(
        PipelineActor,
        fn_constructor_kwargs={"spec": spec},
        batch_size=options.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=options.actors),
        num_cpus=options.num_cpus,
        num_gpus=options.num_gpus or None,
        # Also per task, not only at ray.init: a Ray that was already running (a notebook, a
        # test session) would otherwise never see the job's env vars or packages.
        **({"runtime_env": dict(options.runtime_env)} if options.runtime_env else {}),
        # Ray Data's actor pools default to max_restarts=-1 and max_task_retries=-1: a dead
        # actor is replaced and the batch it held is redone. They are not passed here, as Ray
        # deprecates passing remote args; tests/backends prove the behaviour holds.
    )
    rows = iter(results.iter_rows())
    try:
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                raise _job_failed(exc) from exc
            yield row
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def account(rows: Iterable[Mapping[str, Any]], source: JsonLinesDatasource) -> Iterator[Event]:
    """The events of each row, each input's exactly once; a lost input becomes a `run_failed`.

    Rows of a redone batch that already came back are dropped by index. An input no row came
    back for (which Ray's retries should make impossible) still ends with a `run_failed`, so
    the accounting holds whatever happened on the cluster.
    """
    seen = bytearray(source.items)
    for row in rows:
        index = int(row["index"])
        if seen[index]:
            continue
        seen[index] = 1
        for raw in bytes(row["events"]).splitlines():
            yield parse_event(orjson.loads(raw))
    if seen.count(0):
        yield from _lost(source, seen)


def _lost(source: JsonLinesDatasource, seen: bytearray) -> Iterator[Event]:
    error = ErrorInfo(type="RayBackendError", message="Ray returned no result for this input")
    for index, line, _ in source.lines():
        if not seen[index]:
            yield RunFailed(
                run=new_run_id(), t=0.0, component=None, error=error, index=index, line=line
            )


def _job_failed(exc: Exception) -> RayBackendError:
    text = str(exc).strip().splitlines()
    detail = text[-1] if text else type(exc).__name__
    return RayBackendError(
        f"the Ray job failed: {detail}\n"
        "If an actor could not build or warm up the pipeline, check that the pipeline's "
        "components, models and environment variables are available on the Ray workers "
        "(ray_address / runtime_env)."
    )
