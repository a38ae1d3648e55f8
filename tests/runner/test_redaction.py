"""Resolved secret values become `***` in events, messages, views and log records."""

from __future__ import annotations

import io
import logging
from typing import Any

import orjson
import pytest

from ragrun import Secret, redaction
from ragrun.events import Chunk, ComponentFinished, Emitter, ErrorInfo, RunFailed
from ragrun.jsonl import dumps, dumps_line
from ragrun.redaction import RedactingFilter, StreamRedactor, redact, redact_exception, register
from ragrun.terminal import TerminalView

KEY = "sk-unit-7d1e93b0a2"


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing registered (the registry is process-wide)."""
    monkeypatch.setattr(redaction, "_known", redaction._Known())


def test_resolving_a_secret_registers_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGRUN_UNIT_KEY", KEY)
    assert redact(f"Bearer {KEY}") == f"Bearer {KEY}"
    assert Secret.from_env_var("RAGRUN_UNIT_KEY").resolve() == KEY
    assert redact(f"Bearer {KEY}") == "Bearer ***"
    Secret.from_token("tok-unit-4242").resolve()
    assert redact("a tok-unit-4242 b") == "a *** b"


def test_short_values_are_not_registered_and_padding_is_stripped() -> None:
    register("abc12")  # shorter than MIN_LENGTH: would star out words
    register(f"  {KEY}\n")
    assert redact("abc12 and " + KEY) == "abc12 and ***"
    assert set(redaction.registered_since(0)) == {f"  {KEY}\n", KEY}


def test_a_value_that_was_not_utf8_is_redacted_as_it_is_written() -> None:
    register("key-\udcff-bytes")  # os.environ decodes bytes that are not UTF-8 this way
    assert orjson.loads(dumps({"echo": "key-\udcff-bytes!"})) == {"echo": "***!"}


def test_a_value_holding_another_is_replaced_whole() -> None:
    register("secret-part")
    register("secret-part-and-more")
    assert redact("x secret-part-and-more y secret-part") == "x *** y ***"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('quo"te\\back-slash', id="json-escaped"),
        pytest.param("ключ-секретный", id="non-ascii"),
        pytest.param("tab\there-and-there", id="control-character"),
    ],
)
def test_events_are_redacted_whatever_the_value_holds(value: str) -> None:
    register(value)
    line = dumps_line(
        ComponentFinished(
            run="r", t=0.0, component="c", duration=0.0, outputs={"echo": f"<{value}>"}
        )
    )
    assert orjson.loads(line)["outputs"] == {"echo": "<***>"}


def test_a_secret_made_of_digits_never_breaks_the_numbers_around_it() -> None:
    register("1234567")
    data = {"score": 0.12345678, "id": 91234567, "note": "pin 1234567"}
    assert orjson.loads(dumps(data)) == {"score": 0.12345678, "id": 91234567, "note": "pin ***"}


def test_keys_and_nested_values_are_redacted() -> None:
    register(KEY)
    assert orjson.loads(dumps({KEY: [{"deep": f"x{KEY}x"}]})) == {"***": [{"deep": "x***x"}]}


def test_error_messages_are_redacted_and_a_broken_str_is_not_an_error() -> None:
    register(KEY)

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    assert ErrorInfo.of(ValueError(f"401: Bearer {KEY}")).message == "401: Bearer ***"
    assert "could not be turned into text" in ErrorInfo.of(Unprintable()).message


def test_an_exception_leaving_a_process_is_redacted_down_its_chain() -> None:
    register(KEY)
    try:
        try:
            raise ConnectionError(f"sent {KEY}")
        except ConnectionError as inner:
            raise RuntimeError("call failed", KEY, 3) from inner
    except RuntimeError as outer:
        redact_exception(outer)
        assert outer.args == ("call failed", "***", 3)
        assert outer.__cause__ is not None and outer.__cause__.args == ("sent ***",)


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param(["key: sk-unit-", "7d1e93b0a2 ok"], id="split-in-two"),
        pytest.param(["key: s", "k-u", "nit-7d1e", "93b0a2", " ok"], id="split-in-five"),
        pytest.param(["key: sk-unit-7d1e93b0a2 ok"], id="whole"),
    ],
)
def test_a_streamed_text_is_redacted_across_pieces(pieces: list[str]) -> None:
    register(KEY)
    stream = StreamRedactor()
    shown = [stream.feed(piece) for piece in pieces]
    shown.append(stream.flush())
    assert "".join(shown) == "key: *** ok"
    assert not any(KEY[:4] in piece for piece in shown)


def test_held_back_text_that_was_no_secret_after_all_is_shown_in_order() -> None:
    register(KEY)
    stream = StreamRedactor()
    assert stream.feed("an sk-u") == "an "
    assert stream.feed("mbrella") == "sk-umbrella"
    assert stream.feed(" and sk") == " and "
    assert stream.flush() == "sk"


def test_the_emitter_holds_back_chunks_and_flushes_them_before_the_component_ends() -> None:
    register(KEY)
    sent: list[Any] = []
    emit = Emitter("r1", sent.append)
    for piece in ["The key ", "is sk-unit-", "7d1e93b0a2", " and sk-"]:
        emit(Chunk, component="llm", content=piece)
    emit(ComponentFinished, component="llm", duration=0.1, outputs={})
    kinds = [(e.event, getattr(e, "content", None)) for e in sent]
    assert kinds == [
        ("chunk", "The key "),
        ("chunk", "is "),
        ("chunk", "***"),
        ("chunk", " and "),
        ("chunk", "sk-"),  # held back until the component ended: not a secret after all
        ("component_finished", None),
    ]


def test_a_failed_run_flushes_what_each_stream_held() -> None:
    register(KEY)
    sent: list[Any] = []
    emit = Emitter("r1", sent.append)
    emit(Chunk, component="a", content="x sk-unit")
    emit(RunFailed, component="b", error=ErrorInfo(type="E", message="m"))
    assert [(e.event, getattr(e, "content", None)) for e in sent] == [
        ("chunk", "x "),
        ("chunk", "sk-unit"),
        ("run_failed", None),
    ]


def test_log_records_are_redacted_message_arguments_and_traceback() -> None:
    register(KEY)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("ragrun.tests.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("using %s now", KEY)
        try:
            raise PermissionError(f"refused {KEY}")
        except PermissionError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert KEY not in text
    assert "using *** now" in text and "PermissionError: refused ***" in text


def test_the_terminal_view_redacts_what_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    register(KEY)
    out = io.StringIO()
    view = TerminalView(out, color=False)
    view(Chunk(run="r", t=0.0, component="llm", content=f"echo {KEY}"))
    view(RunFailed(run="r", t=0.1, component="llm", error=ErrorInfo(type="E", message=KEY)))
    assert KEY not in out.getvalue() + capsys.readouterr().err
    assert "echo ***" in out.getvalue()
