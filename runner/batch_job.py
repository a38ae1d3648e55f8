"""`ragrun FILE --inputs ...`: a batch job from the command line, run on a backend, told on stderr.

A job joins four parts: the inputs (`inputs_file.py`: read lazily, lines already finished
skipped with `--resume`), a backend that runs the lines and hands back their events (`local`:
`batch.run_batch` on this process's event loop; `ray`: `backends.ray.run_on_ray`, imported only
when asked for), where the events go (`--output FILE`, else stdout: JSON lines when piped, one
line per input on a terminal), and what stderr shows (`progress.py`: progress, failures, the
summary). Whatever the backend, only `run_started`, `component_failed`, `run_finished` and
`run_failed` are written unless `--verbose`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import aclosing, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from .batch import ENDINGS, keeps
from .closing import closing_after
from .inputs_file import InputLines, LineSet, count_items
from .inputs_glob import InputFiles, is_glob, matched_files
from .progress import Heartbeat, Progress, Tally, summary
from .terminal import color_choice

if TYPE_CHECKING:
    from .pipeline import Pipeline

RAY_OPTIONS = ("actors", "num_cpus", "num_gpus", "batch_size", "ray_address")
"""The command line's Ray options (`--actors`, ...), as `run_on_ray` names them."""
EXIT_OK = 0
EXIT_FAILED = 1
DEFAULT_CONCURRENCY = 8
FAILURES_TOLD = 20
"""Failed runs told one by one on stderr; the rest only in the events and the summary."""


@dataclass(frozen=True)
class BatchJob:
    """A batch job as the command line asked for it."""

    file: str
    """The pipeline's YAML file (the Ray backend loads it again on each actor)."""
    pipeline: Pipeline
    source: str
    """`--inputs`: a JSON-lines file, `-` for stdin, or a glob of files (one run each)."""
    base: dict[str, Any]
    """`--data` and `-i`, laid under every line's data."""
    overrides: dict[str, Any]
    include_outputs_from: tuple[str, ...] = ()
    concurrency: int | None = None
    """`--concurrency`: runs in flight (8 when not given; for Ray, per actor)."""
    ordered: bool = False
    verbose: bool = False
    max_failures: int | None = None
    output: str | None = None
    resume: bool = False
    backend: str = "local"
    ray: dict[str, Any] = field(default_factory=dict)
    """The Ray options given on the command line; they win over the YAML's `ray:` section."""


def check(job: BatchJob) -> None:
    """Refuse what cannot work, before anything runs (a usage error, exit 2)."""
    if job.resume and job.output is None:
        raise click.UsageError("--resume: only with --output FILE (the file to resume from)")
    if job.ray and job.backend != "ray":
        given = ", ".join("--" + name.replace("_", "-") for name in job.ray)
        raise click.UsageError(f"{given}: only with --backend ray")
    if job.backend == "ray":
        asked = (("--resume", job.resume), ("--max-failures", job.max_failures))
        refused = [option for option, given in asked if given]
        if refused:
            raise click.UsageError(f"{', '.join(refused)}: not available with --backend ray")
    if is_glob(job.source):
        if job.backend == "ray":
            raise click.UsageError(
                "--inputs GLOB: not available with --backend ray; give it the files as lines: "
                'for f in GLOB; do jq -c . "$f"; done > inputs.jsonl'
            )
        if not matched_files(job.source):
            message = f"no file matches {job.source!r} (a glob: each matched file is one run)"
            raise click.BadParameter(message, param_hint="--inputs")
        return
    if job.source != "-" and not os.path.isfile(job.source):
        reason = "no such file" if not os.path.exists(job.source) else "not a file"
        raise click.BadParameter(f"cannot read {job.source}: {reason}", param_hint="--inputs")


Backend = Callable[[BatchJob, "Report", Any], None]
"""Runs every input of a job, handing each event to the report, minus those `--resume` found
finished: a `LineSet` of line numbers, or with a glob a set of the files' paths (or None)."""


def run_job(job: BatchJob) -> int:
    """Run the job; every event goes to the report; exit 1 when any run failed."""
    check(job)
    backend = backend_for(job.backend)
    skip = _finished(job) if job.resume else None
    report = Report.open(job)
    started = time.perf_counter()
    try:
        _count_in_background(job, report.progress, skip)
        with Heartbeat(report.progress, 0.5 if report.terminal else 1.0):
            backend(job, report, skip)
    except KeyboardInterrupt:
        report.close()
        click.echo(report.summary(job, time.perf_counter() - started), err=True)
        raise
    except BaseException:
        report.close()
        raise
    report.close()
    click.echo(report.summary(job, time.perf_counter() - started), err=True)
    if report.closing_error is not None:  # after the summary: the runs themselves are told
        click.echo(f"ragrun: {report.closing_error}", err=True)
        return EXIT_FAILED
    return EXIT_FAILED if report.tally.failed else EXIT_OK


def _finished(job: BatchJob) -> LineSet | set[str]:
    from .output_file import finished_files, finished_lines

    output = job.output
    assert output is not None
    try:
        return finished_files(output) if is_glob(job.source) else finished_lines(output)
    except OSError as exc:
        message = f"cannot read {output}: {exc.strerror}"
        raise click.BadParameter(message, param_hint="--output") from None


def _count_in_background(job: BatchJob, progress: Progress, skip: Any) -> None:
    """Count a file's runs in a thread, so the bar gets its total (and ETA) without a wait."""
    if job.source == "-":
        return
    if is_glob(job.source):
        progress.set_total(sum(1 for f in matched_files(job.source) if f not in (skip or ())))
        return

    def count() -> None:
        try:
            progress.set_total(count_items(job.source, skip))
        except OSError:
            pass  # no total, no ETA: the job itself reports an unreadable file

    threading.Thread(target=count, name="ragrun-count", daemon=True).start()


# -- backends ------------------------------------------------------------------------------------


def backend_for(name: str) -> Backend:
    """The backend called `name`: `local`, or `ray` when Ray and its backend are installed."""
    if name == "local":
        return local_backend
    if name == "ray":
        if importlib.util.find_spec("ray") is None:
            raise click.UsageError(
                "--backend ray: Ray is not installed (pip install 'ragrun[ray]')"
            )
        try:
            from .backends import ray as _ray  # noqa: F401
        except ImportError as exc:
            raise click.UsageError(f"--backend ray: not available ({exc})") from None
        return ray_backend
    raise click.UsageError(f"--backend {name}: unknown backend")


def local_backend(job: BatchJob, report: Report, skip: Any) -> None:
    """Run the lines (or files) on this process's event loop with `batch.run_batch`."""
    import anyio

    if is_glob(job.source):
        files = InputFiles(matched_files(job.source), skip or ())
        try:
            anyio.run(_run_local, job, files, report)
        finally:
            report.tally.skipped = files.skipped
        return
    with _opened(job.source) as stream:
        lines = InputLines(stream, skip)
        try:
            anyio.run(_run_local, job, lines, report)
        finally:
            report.tally.skipped = lines.skipped


async def _run_local(job: BatchJob, lines: InputLines | InputFiles, report: Report) -> None:
    from .batch import run_batch, warm_up_for_batch

    started = time.perf_counter()
    await warm_up_for_batch(job.pipeline)  # timed apart: loading a model is not running inputs
    report.tally.warm_up = time.perf_counter() - started

    results = run_batch(
        job.pipeline,
        lines,
        concurrency=job.concurrency or DEFAULT_CONCURRENCY,
        ordered=job.ordered,
        include_outputs_from=job.include_outputs_from,
        sink=report,
        verbose=job.verbose,
        max_failures=job.max_failures,
        base_inputs=job.base,
    )
    async with closing_after(job.pipeline) as closing, aclosing(results):
        async for _ in results:
            pass  # the report counts the events; results carry nothing more for the CLI
    report.closing_error = closing.message() if closing.error is not None else None


@contextmanager
def _opened(source: str) -> Iterator[BinaryIO]:
    if source == "-":
        yield sys.stdin.buffer
        return
    try:
        file = open(source, "rb")
    except OSError as exc:
        message = f"cannot read {source}: {exc.strerror}"
        raise click.BadParameter(message, param_hint="--inputs") from None
    with file:
        yield file


def ray_backend(job: BatchJob, report: Report, skip: LineSet | None) -> None:
    """Run the lines on Ray with `backends.ray.run_on_ray` (stdout guarded from Ray's prints)."""
    from .backends import ray

    guard = getattr(ray, "guarded_stdout", None)
    with guard() if guard is not None and report.to_stdout else nullcontext() as stdout:
        if stdout is not None:
            report.redirect(stdout)
        settings = {**job.pipeline.ray, **job.ray}  # the command line wins over the YAML
        if job.concurrency is not None:
            settings["concurrency"] = job.concurrency
        events = ray.run_on_ray(
            job.file,
            job.source,
            overrides=job.overrides,
            base_inputs=job.base,
            include_outputs_from=job.include_outputs_from,
            verbose=job.verbose,
            ordered=job.ordered,
            **settings,
        )
        for event in events:
            report(event)


# -- where events go -----------------------------------------------------------------------------


class EventLines:
    """Writes each event as one JSON line on a binary stream, flushed at once."""

    def __init__(self, stream: BinaryIO) -> None:
        from .jsonl import dumps_line

        self.stream = stream
        self._dumps = dumps_line

    def __call__(self, event: Any) -> None:
        self.stream.write(self._dumps(event))
        self.stream.flush()

    def close(self) -> None:
        """Nothing to close: stdout stays open."""


class Report:
    """The sink of a batch's events: filters, counts, writes them; progress and failures on stderr.

    Args:
        write: writes one event (to `--output` or stdout).
        progress: draws the progress on stderr.
        verbose: write every event, not only the summary ones.
        tell_failures: tell each failed run on stderr too (the first `FAILURES_TOLD`), when the
            events themselves go where a person does not read them.
        to_stdout: whether `write` writes JSON lines to stdout.
    """

    def __init__(
        self,
        write: Callable[[Any], None],
        progress: Progress,
        *,
        verbose: bool,
        tell_failures: bool,
        to_stdout: bool,
        terminal: bool,
    ) -> None:
        self.write = write
        self.progress = progress
        self.tally = progress.tally
        self.verbose = verbose
        self.to_stdout = to_stdout
        self.terminal = terminal
        self._tell_failures = tell_failures
        self._told = 0
        self.closing_error: str | None = None
        """Set when closing the pipeline after the runs failed (the job then exits 1)."""

    @classmethod
    def open(cls, job: BatchJob) -> Report:
        """The report of `job`: its destination opened, its progress ready."""
        terminal = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        progress = Progress(Tally(), sys.stderr, terminal=terminal)
        if job.output is not None:
            write: Callable[[Any], None] = _output_file(job.output, progress)
            return cls(
                write,
                progress,
                verbose=job.verbose,
                tell_failures=True,
                to_stdout=False,
                terminal=terminal,
            )
        if sys.stdout.isatty():
            from .terminal import BatchView

            view = BatchView(color=color_choice())
            write = _paused(view, progress)
            return cls(
                write,
                progress,
                verbose=job.verbose,
                tell_failures=False,
                to_stdout=False,
                terminal=terminal,
            )
        write = EventLines(sys.stdout.buffer)
        return cls(
            write,
            progress,
            verbose=job.verbose,
            tell_failures=True,
            to_stdout=True,
            terminal=terminal,
        )

    def __call__(self, event: Any) -> None:
        if not keeps(event, self.verbose):
            return
        self.tally.count(event)
        self.write(event)
        if event.event in ENDINGS:
            if event.event == "run_failed":
                self._tell(event)
            self.progress.update()

    def redirect(self, stream: BinaryIO) -> None:
        """Write the JSON lines to `stream` from now on (the real stdout, when Ray guards it)."""
        if isinstance(self.write, EventLines):
            self.write.stream = stream

    def close(self) -> None:
        """Clear the progress and close the output file."""
        self.progress.close()
        close = getattr(self.write, "close", None)
        if close is not None:
            close()

    def summary(self, job: BatchJob, seconds: float) -> str:
        """The summary line, noting an early stop."""
        text = summary(self.tally, job.source, seconds, output=job.output)
        if job.max_failures is not None and self.tally.failed >= job.max_failures:
            text += f"; stopped after {self.tally.failed} failed runs (--max-failures)"
        return text

    def _tell(self, event: Any) -> None:
        if not self._tell_failures:
            return
        from .terminal import describe_failure

        self._told += 1
        if self._told <= FAILURES_TOLD:
            self.progress.above(f"ragrun: {describe_failure(event)}")
        elif self._told == FAILURES_TOLD + 1:
            self.progress.above("ragrun: further failures are told only by their run_failed events")


def _output_file(path: str, progress: Progress) -> Callable[[Any], None]:
    from .output_file import OutputFile

    try:
        output = OutputFile(path)
    except OSError as exc:
        message = f"cannot write to {path}: {exc.strerror}"
        raise click.BadParameter(message, param_hint="--output") from None
    if output.repaired:
        progress.above(
            f"ragrun: {path} ended with a line cut short (the job was stopped mid-write); "
            f"removed it ({output.repaired} bytes)"
        )
    return output


def _paused(view: Callable[[Any], None], progress: Progress) -> Callable[[Any], None]:
    """`view`, clearing the progress bar while it writes to the same terminal."""

    def write(event: Any) -> None:
        with progress.paused():
            view(event)

    return write
