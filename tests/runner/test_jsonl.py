"""JSON encoding: the values components produce become plain JSON; a Secret never appears."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import BaseModel, SecretStr

from ragrun import ByteStream, ChatMessage, Document, Secret
from ragrun.events import ComponentFinished, RunStarted
from ragrun.jsonl import dumps, dumps_line, to_jsonable


@dataclasses.dataclass
class Settings:
    name: str
    key: Secret


class Config(BaseModel):
    model: str
    key: Any = None


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


DOC = Document(content="hello", meta={"file": "a.md"}, id="d1", score=0.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            DOC,
            {"id": "d1", "content": "hello", "meta": {"file": "a.md"}, "score": 0.5},
            id="document",
        ),
        pytest.param(
            Document(content="v", id="d2", embedding=np.array([0.5, 1.0], dtype=np.float32)),
            {"id": "d2", "content": "v", "meta": {}, "embedding": [0.5, 1.0]},
            id="document-numpy-embedding",
        ),
        pytest.param(ChatMessage.from_user("hi"), {"role": "user", "text": "hi"}, id="chat"),
        pytest.param(
            ByteStream(b"\x00\x01", mime_type="x/y"),
            {"data": base64.b64encode(b"\x00\x01").decode(), "meta": {}, "mime_type": "x/y"},
            id="bytestream",
        ),
        pytest.param(np.float32(0.25), 0.25, id="numpy-float32"),
        pytest.param(np.arange(3), [0, 1, 2], id="numpy-array"),
        pytest.param(np.arange(6).reshape(2, 3)[:, 1], [1, 4], id="numpy-non-contiguous"),
        pytest.param({3, 1, 2}, [1, 2, 3], id="set-sorted"),
        pytest.param(b"text", "text", id="bytes-utf8"),
        pytest.param(b"\xff\xfe", base64.b64encode(b"\xff\xfe").decode(), id="bytes-binary"),
        pytest.param(Path("/tmp/x"), "/tmp/x", id="path"),
        pytest.param(ValueError("bad"), {"type": "ValueError", "message": "bad"}, id="exception"),
        pytest.param(Opaque(), "<Opaque thing>", id="unknown-object"),
        pytest.param(Config(model="m"), {"model": "m", "key": None}, id="pydantic-model"),
        pytest.param({1: "a"}, {"1": "a"}, id="non-str-keys"),
        pytest.param((1, "a"), [1, "a"], id="tuple"),
    ],
)
def test_values_become_plain_json(value: Any, expected: Any) -> None:
    assert to_jsonable(value) == expected


SECRET = Secret.from_token("sk-very-secret")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(SECRET, id="secret"),
        pytest.param({"api_key": SECRET}, id="in-dict"),
        pytest.param([SECRET], id="in-list"),
        pytest.param(Settings("s", SECRET), id="in-dataclass"),
        pytest.param(Config(model="m", key=SECRET), id="in-pydantic-model"),
        pytest.param(Config(model="m", key=SecretStr("sk-very-secret")), id="pydantic-secretstr"),
    ],
)
def test_a_secret_is_never_written(value: Any) -> None:
    text = dumps(value)
    assert b"sk-very-secret" not in text
    assert b'"***"' in text


def test_an_env_secret_writes_neither_value_nor_variable_names(monkeypatch) -> None:
    monkeypatch.setenv("RAGRUN_TEST_KEY", "sk-env-secret")
    text = dumps({"key": Secret.from_env_var("RAGRUN_TEST_KEY")})
    assert text == b'{"key":"***"}'


def test_a_line_is_one_json_object_ending_in_a_newline() -> None:
    event = RunStarted(run="r1", t=0.0, pipeline="rag", inputs={"q": "two\nlines"})
    line = dumps_line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line) == {
        "event": "run_started",
        "run": "r1",
        "t": 0.0,
        "pipeline": "rag",
        "inputs": {"q": "two\nlines"},
    }


def test_batch_position_is_written_only_when_set() -> None:
    event = ComponentFinished(
        run="r1", t=0.1, component="a", duration=0.0, outputs={"x": None}, index=0, line=1
    )
    data = orjson.loads(dumps_line(event))
    assert (data["index"], data["line"]) == (0, 1)
    assert data["outputs"] == {"x": None}  # None inside values is kept
