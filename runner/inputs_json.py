"""Run data read from JSON text that anyone may have written: an input line, a file, `--data`.

One bad text must fail only the run it was meant for, quickly, with a message that says where
and what is wrong, so parsing is bounded and every way the text can be wrong is a
`PipelineInputError`:

- at most `MAX_TEXT_BYTES` (32 MiB) of text; `inputs_file.py` stops reading a longer line at
  that size instead of holding it all;
- UTF-8 only: invalid bytes are named with their offset;
- at most `MAX_DEPTH` (100) levels of nested arrays and objects;
- strings are text: a `\\ud800` escape that is not half of a surrogate pair (a lone surrogate,
  which no UTF-8 text can hold) is refused, naming where it is;
- integers are exact, however long (as Python's `json` reads them), up to Python's limit of
  4300 digits; `NaN`, `Infinity` and `-Infinity` are read as Python's `json` reads them.

orjson parses the common case; Python's `json` only what orjson refuses or would turn into a
float (an integer of 20 digits or more), so the bounds cost next to nothing on good lines.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .errors import PipelineInputError

MAX_TEXT_BYTES = 32 * 1024 * 1024
"""The most bytes one run's JSON text may hold (a line, a file, `--data`)."""
MAX_DEPTH = 100
"""The most levels of nested arrays and objects a run's JSON text may hold."""


# Digits as "0", everything else as a space: a run of 20 zeros is an integer orjson would read
# as a float (a byte translation and a substring search cost far less than a regex here).
_DIGIT_RUNS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_INTEGER = b"0" * 20


def parse_object(text: str | bytes | bytearray | memoryview, where: str) -> dict[str, Any]:
    """The JSON object in `text`, read within the bounds above.

    Args:
        text: the JSON text.
        where: how messages name it (`line 12`, `--data`, a file's path).

    Raises:
        PipelineInputError: `text` is not a JSON object within the bounds.
    """
    value = parse_json(text, where)
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise PipelineInputError(f"{where}: expected a JSON object, found {kind}")
    return value


def parse_json(
    text: str | bytes | bytearray | memoryview, where: str, *, or_text: bool = False
) -> Any:
    """The JSON value in `text`, read within the bounds above (see `parse_object`).

    With `or_text`, text that is not JSON at all is returned as it is (the command line's
    `-i NAME=VALUE`); text beyond the bounds is still refused.
    """
    raw = _as_bytes(text, where)
    if len(raw) > MAX_TEXT_BYTES:
        raise PipelineInputError(too_long(where, len(raw)))
    if _LONG_INTEGER not in raw.translate(_DIGIT_RUNS):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than_limit(value):
                raise PipelineInputError(_too_deep(where))
            return value
    value = _parse_slowly(raw, where, or_text)
    if value is _NOT_JSON:
        return text if isinstance(text, str) else raw.decode("utf-8")
    if _deeper_than_limit(value):
        raise PipelineInputError(_too_deep(where))
    _check_text(value, where)
    return value


def too_long(where: str, size: int) -> str:
    """The message for a text over `MAX_TEXT_BYTES` (`size` may be a lower bound)."""
    limit = MAX_TEXT_BYTES // (1024 * 1024)
    return (
        f"{where} is {_size(size)} long; one run's JSON may hold at most {limit} MiB. Give "
        "big documents as files the pipeline reads (a converter's sources), not inline"
    )


def _as_bytes(text: str | bytes | bytearray | memoryview, where: str) -> bytes:
    if not isinstance(text, str):
        return bytes(text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # surrogates: bytes decoded with surrogateescape (argv)
        raise PipelineInputError(
            f"{where} is not valid UTF-8 text (character {exc.start + 1} is not text, "
            "such as a byte of another encoding); give UTF-8"
        ) from None


_NOT_JSON = object()


def _parse_slowly(raw: bytes, where: str, or_text: bool) -> Any:
    """Python's `json`, for what orjson refuses: NaN, long integers, and the exact message."""
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark before the JSON is tolerated
    except UnicodeDecodeError as exc:
        raise PipelineInputError(
            f"{where} is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            "cannot start or continue a character; save the text as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise PipelineInputError(_too_deep(where)) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise PipelineInputError(
                f"{where}: a number has more than 4300 digits, more than Python reads; "
                "give it as a string"
            ) from None
        if or_text:
            return _NOT_JSON
        raise PipelineInputError(f"{where} is not valid JSON: {exc}") from None


def _deeper_than_limit(value: Any) -> bool:
    """Whether `value` nests more than `MAX_DEPTH` levels (level by level: no recursion)."""
    level = [value] if type(value) is dict or type(value) is list else []
    for _ in range(MAX_DEPTH):
        below = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) is dict or type(child) is list
        ]
        if not below:
            return False
        level = below
    return bool(level)


def _check_text(value: Any, where: str) -> None:
    """Refuse lone surrogates in strings and keys, naming where (`value` is known shallow)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                raise PipelineInputError(_surrogate(where, path))
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _is_text(key):
                    raise PipelineInputError(_surrogate(where, path, key=True))
                stack.append((child, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_deep(where: str) -> str:
    return f"{where}: JSON nested more than {MAX_DEPTH} levels deep; at most {MAX_DEPTH} are read"


def _surrogate(where: str, path: str, *, key: bool = False) -> str:
    if key:
        place = f" in a key under '{path}'" if path else " in a key"
    else:
        place = f" at '{path}'" if path else ""
    return (
        f"{where}: the string{place} holds a lone surrogate (a \\ud800-\\udfff escape that is "
        "not half of a pair), which is not a character; escape characters beyond U+FFFF as "
        "pairs, or write them as UTF-8"
    )


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB" if size >= 1024 * 1024 else f"{size} bytes"
