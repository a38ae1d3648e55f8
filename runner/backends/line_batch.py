"""One batch of input lines run on the local anyio runner, each run's events kept as JSON lines.

A Ray actor hands each batch of lines here (see `ray_actor.py`), so a line runs exactly as in
local batch mode: the same routing, retries, timeouts, concurrency limits and micro-batching
(the runs of a batch are in flight together, so their embedder calls gather into one batch
call), and the same events, stamped with the line's `index` and `line`.

Every line ends with exactly one `run_finished` or `run_failed`: a line that is not a JSON
object, inputs that do not fit, and even an unexpected error inside the engine each become a
`run_failed` for that line alone, never an exception that would fail the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..events import ErrorInfo, Origin, RunFailed
from ..executor import Run, new_run_id
from ..inputs_json import parse_object
from ..jsonl import dumps_line

if TYPE_CHECKING:
    from ..pipeline import Pipeline

_ENDINGS = frozenset({"run_finished", "run_failed"})


@dataclass(frozen=True)
class InputLine:
    """One non-blank line of a JSON-lines inputs file."""

    index: int
    """Its position among the non-blank lines, counted from 0."""
    line: int
    """Its line number in the file, counted from 1."""
    text: str
    """The line as read (a JSON object, if all is well)."""


@dataclass(frozen=True)
class LineResult:
    """How one line's run ended, with every event it emitted."""

    index: int
    """The line's position among the non-blank lines."""
    line: int
    """The line's number in its file."""
    ok: bool
    """True when the run finished."""
    events: bytes
    """The run's events as JSON lines, in the order they happened, the last one ending it."""


@dataclass(frozen=True)
class LineOptions:
    """How each line of a batch runs (the same for every batch of a job)."""

    base: Mapping[str, Any] = field(default_factory=dict)
    """Data laid under every line's own data (the command line's `-i` and `--data`)."""
    include_outputs_from: tuple[str, ...] = ()
    """Components whose every output `run_finished` reports."""
    verbose: bool = False
    """Also emit `component_started` events."""
    concurrency: int = 16
    """Runs of one batch in flight at once."""


def parse_line(item: InputLine, base: Mapping[str, Any]) -> dict[str, Any]:
    """The data of a line's run: its JSON object laid over `base`.

    Raises:
        PipelineInputError: the line is not a JSON object within `inputs_json`'s bounds.
    """
    return {**base, **parse_object(item.text, f"line {item.line}")}


async def run_lines(
    p: Pipeline, lines: Iterable[InputLine], options: LineOptions
) -> list[LineResult]:
    """Run `p` once per line, `options.concurrency` at a time; results sorted by index.

    The order is fixed so that a batch redone after its worker died returns the same rows.
    """
    results: list[LineResult] = []
    slots = anyio.Semaphore(max(1, options.concurrency))
    async with anyio.create_task_group() as tg:
        for item in lines:
            tg.start_soon(_run_line, p, item, options, slots, results)
    return sorted(results, key=lambda r: r.index)


async def _run_line(
    p: Pipeline,
    item: InputLine,
    options: LineOptions,
    slots: anyio.Semaphore,
    results: list[LineResult],
) -> None:
    events = _EventBuffer()
    run_id = new_run_id()
    async with slots:
        try:
            run = Run(
                p,
                parse_line(item, options.base),
                include_outputs_from=options.include_outputs_from,
                verbose=options.verbose,
                run_id=run_id,
                sink=events,
                origin=Origin(item.index, item.line),
            )
            await run.execute()
        except Exception as exc:  # isolated: the line fails, the batch goes on
            if not events.ended:  # failed before the run could say so (bad inputs, a bug)
                events(_failed(run_id, item, exc))
    results.append(LineResult(item.index, item.line, events.finished, bytes(events.lines)))


def _failed(run_id: str, item: InputLine, exc: Exception) -> RunFailed:
    where = Origin(item.index, item.line).stamp()
    return RunFailed(run=run_id, t=0.0, component=None, error=ErrorInfo.of(exc), **where)


class _EventBuffer:
    """A run's event sink: encodes each event at once (later components may mutate values)."""

    def __init__(self) -> None:
        self.lines = bytearray()
        self.ended = False
        self.finished = False

    def __call__(self, event: Any) -> None:
        self.lines += dumps_line(event)
        if event.event in _ENDINGS:
            self.ended = True
            self.finished = event.event == "run_finished"


def rows_of(results: Sequence[LineResult]) -> dict[str, list[Any]]:
    """Results as the columns of a Ray Data batch: `index`, `line`, `ok`, `events`."""
    return {
        "index": [r.index for r in results],
        "line": [r.line for r in results],
        "ok": [r.ok for r in results],
        "events": [r.events for r in results],
    }
