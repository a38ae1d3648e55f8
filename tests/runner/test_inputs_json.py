"""Run data from untrusted JSON text: bounded parsing, every way to be wrong a located error."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragrun.errors import PipelineInputError
from ragrun.inputs_json import MAX_DEPTH, MAX_TEXT_BYTES, parse_json, parse_object


def nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(b'{"a": 1}', {"a": 1}, id="plain"),
        pytest.param(
            b'{"n": 123456789012345678901234567890}',
            {"n": 123456789012345678901234567890},
            id="integer-beyond-64-bits-exact",
        ),
        pytest.param(b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}, id="surrogate-pair"),
        pytest.param('{"a": "é"}', {"a": "é"}, id="text-not-bytes"),
    ],
)
def test_good_objects_are_read(text: bytes | str, expected: dict) -> None:
    assert parse_object(text, "line 1") == expected


def test_nesting_up_to_the_limit_is_read() -> None:
    value = parse_object(nested(MAX_DEPTH), "line 1")["a"]
    depth = 1
    while value:
        value, depth = value[0], depth + 1
    assert depth == MAX_DEPTH - 1  # lists counted: all but the innermost, empty one


def test_nan_and_infinity_are_read_as_pythons_json_reads_them() -> None:
    value = parse_object(b'{"a": NaN, "b": Infinity, "c": -Infinity}', "line 1")
    assert value["a"] != value["a"] and value["b"] == float("inf") == -value["c"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            b'{"word": "\\ud800"}',
            "line 7: the string at 'word' holds a lone surrogate",
            id="lone-surrogate",
        ),
        pytest.param(
            b'{"a": ["x", "\\udc00"]}',
            "the string at 'a[1]' holds a lone surrogate",
            id="lone-low-surrogate-in-list",
        ),
        pytest.param(b'{"\\ud800": 1}', "in a key holds a lone surrogate", id="surrogate-key"),
        pytest.param(
            b'{"a": "\xff"}', "line 7 is not valid UTF-8: byte 0xff at offset 7", id="invalid-utf8"
        ),
        pytest.param(
            b'{"a": "\xed\xa0\x80"}', "is not valid UTF-8: byte 0xed", id="utf8-surrogate"
        ),
        pytest.param(nested(MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels", id="too-deep"),
        pytest.param(
            b"[" * 2000 + b"]" * 2000,
            f"nested more than {MAX_DEPTH} levels",
            id="deeper-than-orjson-reads",
        ),
        pytest.param(
            b"[" * 200_000, f"nested more than {MAX_DEPTH} levels", id="deeper-than-the-stack"
        ),
        pytest.param(
            b'{"n": ' + b"9" * 5000 + b"}", "a number has more than 4300 digits", id="huge-integer"
        ),
        pytest.param(b"[1, 2]", "line 7: expected a JSON object, found list", id="not-an-object"),
        pytest.param(b'"text"', "expected a JSON object, found str", id="string"),
        pytest.param(b"{oops", "line 7 is not valid JSON", id="not-json"),
        pytest.param(b'{"a": 1} {"b": 2}', "line 7 is not valid JSON", id="two-objects"),
        pytest.param('{"a": "\udcff"}', "line 7 is not valid UTF-8 text", id="undecodable-arg"),
    ],
)
def test_bad_text_is_a_located_input_error(text: bytes | str, message: str) -> None:
    with pytest.raises(PipelineInputError) as caught:
        parse_object(text, "line 7")
    assert message in str(caught.value)


def test_text_over_the_size_limit_is_refused_before_parsing() -> None:
    text = b'{"a": "' + b"x" * MAX_TEXT_BYTES + b'"}'
    with pytest.raises(PipelineInputError, match="one run's JSON may hold at most 32 MiB"):
        parse_object(text, "line 1")


def test_deep_nesting_is_refused_in_milliseconds_not_seconds() -> None:
    """Not a timing assertion on speed, a guard against a parser that walks a bomb for long."""
    started = time.perf_counter()
    for depth in (150, 1_000, 100_000):
        with pytest.raises(PipelineInputError):
            parse_object(b"[" * depth + b"]" * depth, "line 1")
    assert time.perf_counter() - started < 30  # a hang guard: each is a few milliseconds


def test_or_text_returns_text_that_is_not_json_but_refuses_what_breaks_the_bounds() -> None:
    assert parse_json("hello world", "-i q", or_text=True) == "hello world"
    assert parse_json("[1, 2", "-i q", or_text=True) == "[1, 2"
    assert parse_json("42", "-i q", or_text=True) == 42
    with pytest.raises(PipelineInputError, match="nested more than"):
        parse_json("[" * 500 + "]" * 500, "-i q", or_text=True)
    with pytest.raises(PipelineInputError, match="not valid UTF-8 text"):
        parse_json("caf\udce9", "-i q", or_text=True)


_JSON_PIECES = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        '"a"',
        '"\\ud800"',
        '"\\udc00"',
        "1e400",
        "NaN",
        "-0",
        "9" * 25,
        "null",
        "true",
        " ",
        "\\",
        '"',
        "\xff",
        "\xed\xa0\x80",
        "é",
        "\x00",
    ]
)
_JSONISH = st.lists(_JSON_PIECES, max_size=60).map(lambda parts: "".join(parts))


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(st.binary(max_size=200), _JSONISH.map(lambda s: s.encode("utf-8", "surrogatepass")))
)
def test_any_bytes_are_read_or_refused_as_an_input_error_never_another(raw: bytes) -> None:
    """The fuzz property: whatever a line holds, the result is an object or a located input
    error, never another exception (the batch would lose the line's accounting)."""
    try:
        value = parse_object(raw, "line 1")
    except PipelineInputError as exc:
        assert str(exc).startswith("line 1")
    else:
        assert isinstance(value, dict)
