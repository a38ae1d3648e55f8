"""The events a run emits, one JSON line each; `events_schema()` is their JSON Schema.

Every event carries `event` (its kind), `run` (the run's id) and `t` (seconds since the run
started); events of a batch run also carry `index` (the item's position) and `line` (its line
in the inputs file, counted from 1). One run emits, in order:

- `run_started`, once;
- per component: `component_started` (only with `verbose`), any number of `chunk`s (streamed
  tokens) and `component_failed`s (one per failed attempt), then `component_finished` — or
  `component_skipped` when a branch was not taken and the component never runs;
- `run_finished` with the run's outputs, or `run_failed` naming the component that failed.

`component_skipped` exists so a trace says why a component did not run (which branch was not
taken) instead of leaving a silent gap.

Resolved secret values never reach an event's error message or streamed text: `ErrorInfo.of`
redacts the message, and the `Emitter` redacts `chunk` contents, holding back the end of a
chunk that could begin a secret until the next chunk of that component (or its end) shows
whether it does. Other fields (inputs, outputs) are redacted when they are written
(`jsonl.py`, `terminal.py`). See `redaction.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from . import redaction


class ErrorInfo(BaseModel):
    """An exception, as the events report it."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    type: str
    """The exception's class name, such as `RateLimitError`."""
    message: str
    """The exception's message."""

    @classmethod
    def of(cls, exc: BaseException) -> ErrorInfo:
        """The type name and message of `exc`, secrets redacted (never raises)."""
        return cls(type=type(exc).__name__, message=message_of(exc))


def message_of(exc: BaseException) -> str:
    """`str(exc)` with resolved secret values redacted; a placeholder if `str` itself fails."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not turn one failure into another
        return f"<the {type(exc).__name__} could not be turned into text>"
    return redaction.redact(message)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    event: str
    """The kind of event."""
    run: str
    """The id of the run this event belongs to."""
    t: float
    """Seconds since the run started."""
    index: int | None = None
    """Batch runs: the position of the run's item in the batch, counted from 0."""
    line: int | None = None
    """Batch runs from a JSON-lines file: the item's line number, counted from 1. With
    `--inputs GLOB`, the item's position among the matched files, counted from 1."""
    file: str | None = None
    """Batch runs from `--inputs GLOB`: the file that held the run's inputs."""


class RunStarted(_Event):
    """A run began."""

    event: Literal["run_started"] = "run_started"
    """The kind of event."""
    pipeline: str
    """The pipeline's `metadata.name` (empty when it has none)."""
    inputs: dict[str, Any]
    """The data the run was given, as given."""


class ComponentStarted(_Event):
    """A component was called (emitted only by verbose runs)."""

    event: Literal["component_started"] = "component_started"
    """The kind of event."""
    component: str
    """The component's name."""
    inputs: dict[str, Any] | None = None
    """The keyword arguments it was called with."""


class ComponentFinished(_Event):
    """A component returned its outputs."""

    event: Literal["component_finished"] = "component_finished"
    """The kind of event."""
    component: str
    """The component's name."""
    duration: float
    """Seconds the call took, retries included."""
    outputs: dict[str, Any]
    """The dict it returned, one key per output socket that delivered."""


class ComponentSkipped(_Event):
    """A component will not run in this run: a branch feeding it was not taken."""

    event: Literal["component_skipped"] = "component_skipped"
    """The kind of event."""
    component: str
    """The component's name."""
    reason: str
    """Why, such as `its required input 'documents' received no value`."""


class Chunk(_Event):
    """A piece of a component's streamed output (an LLM token)."""

    event: Literal["chunk"] = "chunk"
    """The kind of event."""
    component: str
    """The component that streamed it."""
    content: str
    """The text of the chunk."""
    meta: dict[str, Any] | None = None
    """Extra data the component attached (model, finish reason, usage)."""


class ComponentFailed(_Event):
    """One attempt of a component call raised an exception."""

    event: Literal["component_failed"] = "component_failed"
    """The kind of event."""
    component: str
    """The component's name."""
    attempt: int
    """Which attempt failed, counted from 1."""
    error: ErrorInfo
    """The exception raised."""
    will_retry: bool
    """True when the component's retry policy will try again."""


class RunFinished(_Event):
    """The run ended successfully."""

    event: Literal["run_finished"] = "run_finished"
    """The kind of event."""
    outputs: dict[str, Any]
    """The run's outputs: `{component: {socket: value}}`, or `{public_name: value}` when the
    pipeline declares `outputs:`."""


class RunFailed(_Event):
    """The run ended with an error; no `run_finished` follows."""

    event: Literal["run_failed"] = "run_failed"
    """The kind of event."""
    component: str | None
    """The component that failed (None when the run failed outside any component)."""
    error: ErrorInfo
    """The exception that ended the run."""


Event = Annotated[
    RunStarted
    | ComponentStarted
    | ComponentFinished
    | ComponentSkipped
    | Chunk
    | ComponentFailed
    | RunFinished
    | RunFailed,
    Field(discriminator="event"),
]
"""Any event, told apart by its `event` field."""

EVENT_TYPES: tuple[type[_Event], ...] = (
    RunStarted,
    ComponentStarted,
    ComponentFinished,
    ComponentSkipped,
    Chunk,
    ComponentFailed,
    RunFinished,
    RunFailed,
)


E = TypeVar("E", bound=_Event)


@dataclass(frozen=True)
class Origin:
    """Where a batch run's item came from, stamped on each of its events (None: not stamped)."""

    index: int | None = None
    """The item's position in the batch, from 0."""
    line: int | None = None
    """Its line in the inputs file (with a glob: its file's position), from 1."""
    file: str | None = None
    """The file that held it, with `--inputs GLOB`."""

    def stamp(self) -> dict[str, Any]:
        """The fields an event carries for this origin."""
        fields = {"index": self.index, "line": self.line, "file": self.file}
        return {name: value for name, value in fields.items() if value is not None}


NOWHERE = Origin()
"""The origin of a run that is not part of a batch."""


class Emitter:
    """Builds the events of one run, stamping `run`, `t` and the batch position, for a sink.

    Without a sink (a plain `run()`), nothing is built at all, so runs nobody watches pay
    nothing for events.

    Args:
        run_id: the run's id.
        sink: called with each event, on the event loop's thread; None to drop events.
        origin: where the run's batch item came from (nothing for a plain run).
        kinds: the event kinds the sink keeps (None: all); the others are not even built, and
            a run nobody watches component by component may take the executor's fast paths.
    """

    def __init__(
        self,
        run_id: str,
        sink: Callable[[Any], None] | None = None,
        *,
        origin: Origin = NOWHERE,
        kinds: frozenset[str] | None = None,
    ) -> None:
        self.run_id = run_id
        self._origin = origin.stamp()
        self._sink = sink
        self._kinds = kinds
        self._t0 = time.perf_counter()
        self._streams: dict[str, redaction.StreamRedactor] = {}
        """Per component, the text of its chunks held back while it may begin a secret."""

    @property
    def enabled(self) -> bool:
        """True when events go somewhere (so callers may skip work needed only for them)."""
        return self._sink is not None

    def wants(self, kind: str) -> bool:
        """True when events of `kind` (`"component_finished"`, ...) go somewhere."""
        return self._sink is not None and (self._kinds is None or kind in self._kinds)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self._t0

    def __call__(self, kind: type[E], **fields: Any) -> None:
        """Build an event of type `kind` from `fields` and send it to the sink."""
        if self._sink is None:
            return
        if self._streams:  # held-back chunk text goes out before its stream's end, even unkept
            self._flush_before(kind, fields)
        if self._kinds is not None and kind_name(kind) not in self._kinds:
            return
        if kind is Chunk and redaction.active():
            stream = self._streams.setdefault(fields["component"], redaction.StreamRedactor())
            fields["content"] = stream.feed(fields["content"])
            if not fields["content"]:  # all held back until the next chunk tells
                return
        self._send(kind, fields)

    def _send(self, kind: type[E], fields: dict[str, Any]) -> None:
        assert self._sink is not None
        stamp = {"run": self.run_id, "t": round(self.elapsed(), 6), **self._origin}
        self._sink(kind(**stamp, **fields))

    def _flush_before(self, kind: type[_Event], fields: dict[str, Any]) -> None:
        """Send what a component's chunks held back (as one chunk) before the event that ends
        its stream: its `component_finished` or `component_failed`, or the run's end."""
        if kind in (ComponentFinished, ComponentFailed):
            ended = [fields["component"]]
        elif kind in (RunFinished, RunFailed):
            ended = list(self._streams)
        else:
            return
        for component in ended:
            stream = self._streams.pop(component, None)
            rest = stream.flush() if stream is not None else ""
            if rest:
                self._send(Chunk, {"component": component, "content": rest})


def kind_name(kind: type[_Event]) -> str:
    """The `event` value of an event class: `"run_started"` for `RunStarted`."""
    return str(kind.model_fields["event"].default)


def events_schema() -> dict[str, Any]:
    """The JSON Schema of one event line (the source of `schemas/events.schema.json`)."""
    schema = _ADAPTER.json_schema()
    for definition in schema["$defs"].values():
        if "event" in definition.get("properties", {}):  # defaulted in Python, always written
            definition["required"] = ["event", *definition.get("required", [])]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ragrun event",
        "description": "One line of a ragrun run's JSON-lines output.",
        **schema,
    }


def parse_event(data: dict[str, Any]) -> Event:
    """Read one event from its JSON form (the inverse of `jsonl.dumps_line`, outputs as JSON)."""
    return _ADAPTER.validate_python(data)


_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
