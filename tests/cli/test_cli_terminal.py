"""The terminal view of a run, and the one place where exceptions become exit codes."""

from __future__ import annotations

import io

import click
import pytest

from ragrun import Document
from ragrun.cli import exit_code_of
from ragrun.diagnostics import Location, Problem
from ragrun.errors import (
    PipelineInputError,
    PipelineRuntimeError,
    PipelineValidationError,
)
from ragrun.events import (
    Chunk,
    ComponentFailed,
    ComponentFinished,
    ComponentSkipped,
    ErrorInfo,
    RunFailed,
    RunFinished,
)
from ragrun.terminal import BatchView, TerminalView, format_outputs


def view_of(events: list, color: bool = False) -> str:
    out = io.StringIO()
    view = TerminalView(out, color=color)
    for event in events:
        view(event)
    return out.getvalue()


def test_chunks_print_inline_and_finished_components_show_their_duration() -> None:
    text = view_of(
        [
            Chunk(run="r", t=0.1, component="llm", content="Hello"),
            Chunk(run="r", t=0.2, component="llm", content=" world"),
            ComponentFinished(run="r", t=0.3, component="llm", duration=1.5, outputs={}),
            ComponentFinished(run="r", t=0.4, component="fast", duration=0.0123, outputs={}),
            ComponentSkipped(run="r", t=0.5, component="other", reason="branch not taken"),
        ]
    )
    assert text == (
        "llm > Hello world\n✓ llm  1.50 s\n✓ fast  12 ms\n- other skipped: branch not taken\n"
    )


def test_interleaved_streams_each_get_a_heading() -> None:
    text = view_of(
        [
            Chunk(run="r", t=0.1, component="a", content="1"),
            Chunk(run="r", t=0.1, component="b", content="2"),
            Chunk(run="r", t=0.1, component="a", content="3"),
        ]
    )
    assert text == "a > 1\nb > 2\na > 3"


def test_outputs_are_pretty_printed_texts_as_text_vectors_shortened() -> None:
    outputs = {
        "answer": "Paris.\nIt is the capital.",
        "retriever": {"documents": [Document(content="doc", id="d1", embedding=[0.5] * 384)]},
        "count": {"n": 3},
    }
    text = click.unstyle(format_outputs(outputs))
    assert text.startswith("answer:\n  Paris.\n  It is the capital.\nretriever.documents:\n")
    assert '"… 384 numbers"' in text
    assert text.endswith("count.n:\n  3")


def test_run_finished_prints_outputs_after_the_total_time() -> None:
    text = view_of([RunFinished(run="r", t=2.5, outputs={"answer": "yes"})])
    assert text == "done in 2.50 s\n\nanswer:\n  yes\n"


def test_failures_go_to_stderr_in_red(capsys: pytest.CaptureFixture[str]) -> None:
    error = ErrorInfo(type="RateLimitError", message="slow down")
    out = view_of(
        [
            ComponentFailed(run="r", t=1, component="llm", attempt=1, error=error, will_retry=True),
            RunFailed(run="r", t=2, component="llm", error=error),
        ],
        color=True,
    )
    assert out == ""
    err = capsys.readouterr().err
    assert (
        click.style("↻ llm attempt 1 failed: RateLimitError: slow down; retrying", fg="yellow")
        in err
    )
    failure = "✗ run r failed in component 'llm': RateLimitError: slow down"
    assert click.style(failure, fg="red", bold=True) in err


def test_batch_view_shows_one_line_per_input(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    view = BatchView(out, color=False)
    view(ComponentFinished(run="r", t=0.1, line=3, component="c", duration=0.1, outputs={}))
    view(RunFinished(run="r", t=0.25, line=3, outputs={"c": {"n": 1}}))
    view(RunFailed(run="s", t=0.5, line=4, component=None, error=ErrorInfo(type="E", message="m")))
    assert out.getvalue() == '✓ line 3  250 ms  {"c":{"n":1}}\n'
    assert "✗ run s (line 4) failed: E: m" in capsys.readouterr().err


def test_views_show_outputs_of_any_depth_and_content() -> None:
    """A component's output nested past Python's recursion limit, or holding a lone surrogate,
    is still shown: a view that raised would end the whole batch."""
    deep: list = []
    current = deep
    for _ in range(5000):
        current.append([])
        current = current[0]
    outputs = {"c": {"deep": deep, "text": "half \ud800 pair"}}
    batch_out, run_out = io.StringIO(), io.StringIO()
    BatchView(batch_out, color=False)(RunFinished(run="r", t=0.1, line=1, outputs=outputs))
    TerminalView(run_out, color=False)(RunFinished(run="r", t=0.1, outputs=outputs))
    assert "nested deeper than" in batch_out.getvalue()
    assert "half \ufffd pair" in run_out.getvalue()


def test_text_no_encoding_can_write_reaches_the_terminal_replaced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    view = TerminalView(out, color=False)
    view(Chunk(run="r", t=0.0, component="llm", content="x\udc80y"))
    view(RunFailed(run="r", t=0.1, component="c", error=ErrorInfo(type="E", message="\ud800!")))
    assert out.getvalue() == "llm > x\ufffdy\n"
    assert "E: \ufffd!" in capsys.readouterr().err


LOCATED = PipelineValidationError(
    [Problem("components.a.type", "unknown type 'X'", Location("p.yaml", 3, 5))]
)


@pytest.mark.parametrize(
    ("exc", "code", "stderr"),
    [
        pytest.param(LOCATED, 2, "p.yaml:3:5: components.a.type: unknown type 'X'\n", id="invalid"),
        pytest.param(
            PipelineInputError("missing input 'q'"), 2, "ragrun: missing input 'q'\n", id="input"
        ),
        pytest.param(
            PipelineRuntimeError("component 'llm' failed"),
            1,
            "ragrun: component 'llm' failed\n",
            id="runtime",
        ),
        pytest.param(
            ExceptionGroup("wrapped", [PipelineInputError("bad")]),
            2,
            "ragrun: bad\n",
            id="exception-group-of-one",
        ),
        pytest.param(KeyboardInterrupt(), 130, "ragrun: interrupted\n", id="ctrl-c"),
        pytest.param(click.Abort(), 130, "ragrun: interrupted\n", id="click-abort"),
        pytest.param(click.UsageError("no"), 2, "Error: no\n", id="usage"),
        pytest.param(SystemExit(3), 3, "", id="system-exit"),
        pytest.param(
            RuntimeError("bug"),
            1,
            "ragrun: internal error: RuntimeError: bug\n"
            "ragrun: set RAGRUN_DEBUG=1 to see the traceback\n",
            id="internal",
        ),
    ],
)
def test_exit_codes_are_mapped_in_one_place(
    exc: BaseException,
    code: int,
    stderr: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAGRUN_DEBUG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert exit_code_of(exc) == code
    assert capsys.readouterr().err == stderr


def test_debug_shows_the_traceback_of_an_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGRUN_DEBUG", "1")
    try:
        raise RuntimeError("bug")
    except RuntimeError as exc:
        assert exit_code_of(exc) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RAGRUN_DEBUG=1" not in err
