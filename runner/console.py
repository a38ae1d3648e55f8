"""`ragrun run` at work: the parsed command line turned into a run, its events written out.

Piped, every event is one JSON line on stdout, flushed as it comes, and a failed run is also told
in one human line on stderr. On a terminal, `terminal.TerminalView` shows the run for reading.
Batch mode (`--inputs`) enters through `run_many`, which hands the job to `batch_job.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from .closing import closing_after
from .errors import PipelineInputError
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


def parse_value(raw: str, option: str = "-i") -> Any:
    """A command-line value: JSON when it parses as JSON, otherwise the text itself.

    Raises:
        click.UsageError: the value is not UTF-8 text, or is JSON beyond the bounds of
            `inputs_json` (nested too deep, a number too long): exit 2, the option named.
    """
    from .inputs_json import parse_json

    try:
        return parse_json(raw, option, or_text=True)
    except PipelineInputError as exc:
        raise click.UsageError(str(exc)) from None


def run_file(file: str, request: RunRequest) -> int:
    """Load FILE with the overrides, then run it once (or once per input line in batch mode)."""
    from .pipeline import Pipeline

    _configure_logging(request.verbose)
    pipeline = Pipeline.load(file, overrides=request.overrides)
    _check_component_names(pipeline, request.include_outputs_from, "--include-outputs-from")
    if request.concurrency and "inputs_file" not in request.batch:
        pipeline.max_concurrency = request.concurrency
    if "inputs_file" in request.batch:
        return run_many(file, pipeline, request)
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
    async with closing_after(pipeline) as closing, aclosing(events):  # type: ignore[type-var]
        async for event in events:
            sink(event)
            failed = failed or event.event == "run_failed"
    if closing.error is not None:
        error(closing.message())
        return EXIT_FAILED
    return EXIT_FAILED if failed else EXIT_OK


def run_many(file: str, pipeline: Pipeline, request: RunRequest) -> int:
    """Batch mode (`--inputs`): one run per JSON line, on `ragrun.batch.run_batch` (or Ray).

    Every event carries its input's `line` and `index`; each line yields exactly one
    `run_finished` or `run_failed`. Progress and a summary go to stderr; the exit code is 1 when
    any run failed. The job itself is `batch_job.py`; this turns the request into it.
    """
    from .batch_job import RAY_OPTIONS, BatchJob, run_job

    options = request.batch
    job = BatchJob(
        file=file,
        pipeline=pipeline,
        source=options["inputs_file"],
        base=merge_inputs(pipeline, request.data, request.inputs),  # under every line's data
        overrides=request.overrides,
        include_outputs_from=tuple(request.include_outputs_from),
        concurrency=request.concurrency,
        ordered=bool(options.get("ordered")),
        verbose=request.verbose,
        max_failures=options.get("max_failures"),
        output=options.get("output_file"),
        resume=bool(options.get("resume")),
        backend=options.get("backend", "local"),
        ray={k: options[k] for k in RAY_OPTIONS if k in options},
    )
    return run_job(job)


def _options(batch: dict[str, Any]) -> str:
    """`{"output_file": ..., "resume": True}` -> `--output, --resume`, as typed on the line."""
    return ", ".join(sorted("--" + k.removesuffix("_file").replace("_", "-") for k in batch))


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
        value = parse_value(text, f"-i {name}")
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

    from .redaction import install_log_filter

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    install_log_filter()  # a resolved secret in a log record shows as ***
