"""`ragrun run` at work: the parsed command line turned into a run, its events written out.

Piped, every event is one JSON line on stdout, flushed as it comes, and a failed run is also told
in one human line on stderr. On a terminal, `terminal.TerminalView` shows the run for reading.
Batch mode (`--inputs`) enters through `run_many`, kept apart so it can grow on its own.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import click

from .terminal import color_choice, error

if TYPE_CHECKING:
    from .pipeline import Pipeline

EXIT_OK = 0
EXIT_FAILED = 1


@dataclass(frozen=True)
class RunRequest:
    """Everything `ragrun run` was asked to do, parsed from the command line."""

    data: dict[str, Any]
    """`--data`, before the `-i` inputs are laid over it."""
    inputs: dict[str, str]
    """`-i NAME=VALUE` as raw text; typed once the sockets they feed are known."""
    overrides: dict[str, Any]
    """`--set COMPONENT.PARAM=VALUE`, passed to the loader."""
    include_outputs_from: list[str]
    concurrency: int | None = None
    verbose: bool = False
    batch: dict[str, Any] = field(default_factory=dict)
    """Batch-mode options that were given (`inputs_file`, `ordered`, `output_file`, ...)."""


def parse_value(raw: str) -> Any:
    """A command-line value: JSON when it parses as JSON, otherwise the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def run_file(file: str, request: RunRequest) -> int:
    """Load FILE with the overrides, then run it once (or once per input line in batch mode)."""
    from .pipeline import Pipeline

    _configure_logging(request.verbose)
    pipeline = Pipeline.load(file, overrides=request.overrides)
    _check_component_names(pipeline, request.include_outputs_from, "--include-outputs-from")
    if request.concurrency and "inputs_file" not in request.batch:
        pipeline.max_concurrency = request.concurrency
    if "inputs_file" in request.batch:
        return run_many(pipeline, request)
    if request.batch:
        raise click.UsageError(f"{_options(request.batch)}: only with --inputs (batch mode)")
    data = merge_inputs(pipeline, request.data, request.inputs)
    import anyio

    return anyio.run(_stream_run, pipeline, data, request, event_sink())


async def _stream_run(
    pipeline: Pipeline, data: dict[str, Any], request: RunRequest, sink: Callable[[Any], None]
) -> int:
    failed = False
    events = pipeline.stream(
        data, include_outputs_from=request.include_outputs_from, verbose=request.verbose
    )
    async with aclosing(events):  # type: ignore[type-var]
        async for event in events:
            sink(event)
            failed = failed or event.event == "run_failed"
    return EXIT_FAILED if failed else EXIT_OK


def run_many(pipeline: Pipeline, request: RunRequest) -> int:
    """Batch mode (`--inputs`): one run per JSON line, `--concurrency` runs in flight.

    Every event carries its input's `line` (and `index`); each line yields exactly one
    `run_finished` or `run_failed`. A summary goes to stderr; the exit code is 1 when any run
    failed. The rest of batch mode (`--ordered`, `--output`, `--resume`, `--max-failures`,
    `--backend ray`, progress) comes with `ragrun.batch`; until then those options are refused.
    """
    later = {k: v for k, v in request.batch.items() if k != "inputs_file"}
    if later:
        raise click.UsageError(f"{_options(later)}: not available yet in batch mode")
    source = request.batch["inputs_file"]
    try:
        lines = click.open_file(source, encoding="utf-8")
    except OSError as exc:
        message = f"cannot read {source}: {exc.strerror}"
        raise click.BadParameter(message, param_hint="--inputs") from None
    import anyio

    from .terminal import BatchView

    sink = BatchView(color=color_choice()) if sys.stdout.isatty() else JsonLines()
    started = time.perf_counter()
    base = merge_inputs(pipeline, request.data, request.inputs)  # under every line's data
    with lines:
        tally = anyio.run(_run_lines, pipeline, lines, base, request, sink)
    tally.report(source, time.perf_counter() - started)
    return EXIT_FAILED if tally.failed_lines else EXIT_OK


def _options(batch: dict[str, Any]) -> str:
    """`{"output_file": ..., "resume": True}` -> `--output, --resume`, as typed on the line."""
    return ", ".join(sorted("--" + k.removesuffix("_file").replace("_", "-") for k in batch))


@dataclass
class Tally:
    """How the runs of a batch ended."""

    ok: int = 0
    failed_lines: list[int] = field(default_factory=list)

    def report(self, source: str, seconds: float) -> None:
        """One summary line on stderr."""
        total = self.ok + len(self.failed_lines)
        rate = f", {total / seconds:.1f} runs/s" if seconds > 0 and total else ""
        failed = ""
        if self.failed_lines:
            shown = ", ".join(map(str, sorted(self.failed_lines)[:10]))
            more = ", ..." if len(self.failed_lines) > 10 else ""
            failed = f" (line{'s' if len(self.failed_lines) > 1 else ''} {shown}{more})"
        name = "stdin" if source == "-" else source
        text = (
            f"ragrun: {total} run{'s' if total != 1 else ''} from {name}: {self.ok} ok, "
            f"{len(self.failed_lines)} failed{failed} in {seconds:.2f} s{rate}"
        )
        click.echo(text, err=True)


async def _run_lines(
    pipeline: Pipeline,
    lines: IO[str],
    base: dict[str, Any],
    request: RunRequest,
    sink: Callable[[Any], None],
) -> Tally:
    import anyio
    import anyio.to_thread

    tally = Tally()
    slots = anyio.Semaphore(request.concurrency or 8)
    index = number = 0
    async with anyio.create_task_group() as tg:
        while True:
            await slots.acquire()  # backpressure: read the next line only when a run may start
            text = await anyio.to_thread.run_sync(lines.readline)
            number += 1
            if not text or not text.strip():
                slots.release()
                if not text:
                    break
                continue
            item = _Item(index, number, text, base)
            tg.start_soon(_run_line, pipeline, item, request, sink, tally, slots)
            index += 1
    return tally


@dataclass(frozen=True)
class _Item:
    index: int
    line: int
    text: str
    base: dict[str, Any]

    def data(self) -> dict[str, Any]:
        from .errors import PipelineInputError

        try:
            data = json.loads(self.text)
        except ValueError as exc:
            raise PipelineInputError(f"line {self.line} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise PipelineInputError(f"line {self.line}: expected a JSON object, found {kind}")
        return {**self.base, **data}


async def _run_line(
    pipeline: Pipeline,
    item: _Item,
    request: RunRequest,
    sink: Callable[[Any], None],
    tally: Tally,
    slots: Any,
) -> None:
    from .errors import PipelineInputError, PipelineRuntimeError
    from .events import ErrorInfo, RunFailed
    from .executor import Run, new_run_id

    run_id = new_run_id()
    try:
        run = Run(
            pipeline,
            item.data(),
            include_outputs_from=request.include_outputs_from,
            verbose=request.verbose,
            run_id=run_id,
            sink=sink,
            index=item.index,
            line=item.line,
        )
        await run.execute()
        tally.ok += 1
    except PipelineInputError as exc:  # before the run started: no event told it yet
        failed = RunFailed(
            run=run_id,
            t=0.0,
            component=None,
            error=ErrorInfo.of(exc),
            index=item.index,
            line=item.line,
        )
        sink(failed)
        tally.failed_lines.append(item.line)
    except PipelineRuntimeError:  # the run's own run_failed event told it
        tally.failed_lines.append(item.line)
    finally:
        slots.release()


def event_sink() -> Callable[[Any], None]:
    """The readable view on a terminal, JSON lines when stdout is piped."""
    if sys.stdout.isatty():
        from .terminal import TerminalView

        return TerminalView(color=color_choice())
    return JsonLines()


class JsonLines:
    """Writes each event as one JSON line on stdout, flushed at once; failures also on stderr."""

    def __init__(self) -> None:
        from .jsonl import dumps_line

        self._dumps = dumps_line
        self._out = sys.stdout.buffer

    def __call__(self, event: Any) -> None:
        self._out.write(self._dumps(event))
        self._out.flush()
        if event.event == "run_failed":
            from .terminal import describe_failure

            error(describe_failure(event))


def merge_inputs(pipeline: Pipeline, data: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    """`--data` with the `-i` values laid over it; `-i component.socket=V` gives nested data.

    A value is JSON when it parses, except that text stays text for a `str` socket:
    `-i question=42` or `-i question=true` must reach a `str` socket as "42" / "true", not fail
    as a number. So when every socket the name feeds takes a string, a value that parses as
    JSON but not as a JSON string is kept as typed.
    """
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for name, text in raw.items():
        value = parse_value(text)
        if not isinstance(value, str) and _feeds_only_text(pipeline, name):
            value = text
        component, dot, socket = name.partition(".")
        if dot and component in pipeline.nodes:
            target = merged.setdefault(component, {})
            if isinstance(target, dict):
                target[socket] = value
                continue
        merged[name] = value
    return merged


def _feeds_only_text(pipeline: Pipeline, name: str) -> bool:
    if "." in name:
        addresses = [name]
    elif pipeline.inputs:
        addresses = pipeline.inputs.get(name, [])
    else:
        fed = {(c.receiver, c.receiver_socket) for c in pipeline.connections}
        addresses = [
            f"{c}.{name}"
            for c, node in pipeline.nodes.items()
            if name in node.sockets.inputs and (c, name) not in fed
        ]
    types = []
    for address in addresses:
        component, _, socket = address.partition(".")
        node = pipeline.nodes.get(component)
        if node is None or socket not in node.sockets.inputs:
            return False
        types.append(node.sockets.inputs[socket].type)
    return bool(types) and all(t is str or t == (str | None) for t in types)


def _check_component_names(pipeline: Pipeline, names: Iterable[str], option: str) -> None:
    from .suggest import did_you_mean

    for name in names:
        if name not in pipeline.nodes:
            hint = did_you_mean(name, pipeline.nodes)
            raise click.BadParameter(f"no component named {name!r}.{hint}", param_hint=option)


def _configure_logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
