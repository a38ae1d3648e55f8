"""The readable view of a run on a terminal: what finished, streamed text, the outputs, errors.

`ragrun run` uses it when stdout is a terminal (piped, it writes JSON lines instead). It is
plain `click.echo`/`click.style`: no extra dependency, colour only where the terminal takes it,
none with `NO_COLOR`. Long values are shortened for reading (long texts, embedding vectors,
long lists); the JSON lines always carry the full values. Every line written here has the
resolved secret values redacted (`redaction.py`), whatever event or message it came from.
"""

from __future__ import annotations

import os
from typing import IO, Any

import click

from .redaction import redact

_TEXT_LIMIT = 1_000
_LIST_LIMIT = 10
_LINE_LIMIT = 200
_NUMBERS_SHOWN = 4


def color_choice() -> bool | None:
    """None lets click decide (colour on a terminal); `NO_COLOR` turns it off everywhere."""
    return False if os.environ.get("NO_COLOR") else None


def printable(text: str) -> str:
    """`text` as a terminal may show it: secrets redacted, lone surrogates (which no encoding
    can write, so the stream would raise) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return redact(text)


def error(message: str, *, prefix: bool = True) -> None:
    """A human message on stderr, in red on a terminal."""
    text = printable(f"ragrun: {message}" if prefix else message)
    click.echo(click.style(text, fg="red"), err=True, color=color_choice())


class TerminalView:
    """Renders events as they arrive; call it with each event.

    Args:
        out: where the view goes (stdout by default); errors go to stderr.
        color: passed to click.echo: None decides from the stream, False never colours.
    """

    def __init__(self, out: IO[str] | None = None, *, color: bool | None = None) -> None:
        self._out = out
        self._color = color
        self._streaming: str | None = None
        """The component whose chunks are being printed inline, mid-line."""

    def __call__(self, event: Any) -> None:
        if event.event != "chunk":
            self._end_stream()
        handler = getattr(self, f"_on_{event.event}", None)
        if handler is not None:
            handler(event)

    # -- one method per event kind -------------------------------------------------------------

    def _on_run_started(self, event: Any) -> None:
        name = f" {event.pipeline}" if event.pipeline else ""
        self._echo(click.style(f"▶ run{name} ({event.run})", dim=True))

    def _on_component_started(self, event: Any) -> None:
        self._echo(click.style(f"  … {event.component}", dim=True))

    def _on_component_finished(self, event: Any) -> None:
        took = click.style(_seconds(event.duration), dim=True)
        self._echo(f"{click.style('✓', fg='green')} {event.component}  {took}")

    def _on_component_skipped(self, event: Any) -> None:
        self._echo(click.style(f"- {event.component} skipped: {event.reason}", dim=True))

    def _on_chunk(self, event: Any) -> None:
        if self._streaming != event.component:
            self._end_stream()
            self._echo(click.style(f"{event.component} > ", fg="cyan"), nl=False)
            self._streaming = event.component
        self._echo(event.content, nl=False)

    def _on_component_failed(self, event: Any) -> None:
        what = f"{event.component} attempt {event.attempt} failed: {_error_text(event.error)}"
        if event.will_retry:
            self._echo(click.style(f"↻ {what}; retrying", fg="yellow"), err=True)
        else:
            self._echo(click.style(f"✗ {what}", fg="red"), err=True)

    def _on_run_finished(self, event: Any) -> None:
        self._echo(click.style(f"done in {_seconds(event.t)}", dim=True))
        text = format_outputs(event.outputs)
        if text:
            self._echo("")
            self._echo(text)

    def _on_run_failed(self, event: Any) -> None:
        self._echo(click.style(f"✗ {describe_failure(event)}", fg="red", bold=True), err=True)

    # -- output ------------------------------------------------------------------------------

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self._streaming = None
            self._echo("")

    def _echo(self, text: str, *, nl: bool = True, err: bool = False) -> None:
        file = None if err else self._out
        click.echo(printable(text), file=file, nl=nl, err=err, color=self._color)


def describe_failure(event: Any) -> str:
    """One line for a `run_failed` event: where and why the run failed."""
    where = f" in component '{event.component}'" if event.component else ""
    if getattr(event, "file", None):
        line = f" ({event.file})"
    else:
        line = f" (line {event.line})" if getattr(event, "line", None) else ""
    return printable(f"run {event.run}{line} failed{where}: {_error_text(event.error)}")


def format_outputs(outputs: dict[str, Any]) -> str:
    """The outputs of a run, for reading: one heading per output, texts as text, rest as JSON.

    Outputs are `{component: {socket: value}}` or `{public_name: value}`; both read as nested
    headings (`llm.replies`), down to values that are not dicts.
    """
    from .jsonl import to_jsonable

    lines: list[str] = []
    for path, value in _leaves(to_jsonable(outputs), ()):
        lines.append(click.style(".".join(path) + ":", bold=True))
        lines.append(_indent(_value_text(_shorten(value))))
    return "\n".join(lines)


def _leaves(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    # Two levels at most: component, then socket; deeper dicts are values shown as JSON.
    if isinstance(value, dict) and value and len(path) < 2:
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, str(k)))]
    return [(path, value)] if path else []


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n".join(f"- {v}" for v in value)
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _shorten(value: Any) -> Any:
    """Long texts, number vectors and long lists cut to what a reader can take in."""
    if isinstance(value, str) and len(value) > _TEXT_LIMIT:
        return value[:_TEXT_LIMIT] + f"… ({len(value)} characters)"
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > _NUMBERS_SHOWN * 2 and all(isinstance(v, int | float) for v in value):
            return [*value[:_NUMBERS_SHOWN], f"… {len(value)} numbers"]
        shown = [_shorten(v) for v in value[:_LIST_LIMIT]]
        if len(value) > _LIST_LIMIT:
            shown.append(f"… {len(value) - _LIST_LIMIT} more")
        return shown
    return value


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines()) or "  "


def _error_text(error: Any) -> str:
    return f"{error.type}: {error.message}" if error.message else error.type


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


class BatchView:
    """Batch mode on a terminal: one line per finished input, failures in red on stderr.

    The full events (chunks, component outputs) are for `--output` files and pipes; a reader
    watching many runs wants to see each input end.
    """

    def __init__(self, out: IO[str] | None = None, *, color: bool | None = None) -> None:
        self._out = out
        self._color = color

    def __call__(self, event: Any) -> None:
        if event.event == "run_finished":
            import orjson

            from .jsonl import to_jsonable

            outputs = orjson.dumps(_shorten(to_jsonable(event.outputs))).decode()
            if len(outputs) > _TEXT_LIMIT // 4:
                outputs = outputs[: _TEXT_LIMIT // 4] + "…"
            mark = click.style("✓", fg="green")
            took = click.style(_seconds(event.t), dim=True)
            text = printable(f"{mark} line {event.line}  {took}  {outputs}")
            click.echo(text, file=self._out, color=self._color)
        elif event.event == "run_failed":
            text = click.style(f"✗ {describe_failure(event)}", fg="red")
            click.echo(text, err=True, color=self._color)
