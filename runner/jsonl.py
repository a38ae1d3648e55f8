"""JSON encoding of events and the values they carry, with orjson; a `Secret` is never written.

orjson writes the common types natively (str, numbers, dicts, lists, tuples, datetimes, enums,
UUIDs, numpy arrays and scalars). Everything else goes through `_default`, in this order:

- `Secret` (and pydantic's `SecretStr`) -> `"***"` (its variable names are not written either);
- objects with `to_dict()` (Document, ChatMessage, ByteStream, StreamingChunk's kin) -> that dict;
- pydantic models -> their fields; other dataclasses -> their fields (shallow, so a Secret or a
  Document inside is still caught by these rules);
- `bytes` -> the text when it is valid UTF-8, otherwise base64;
- sets -> lists (sorted when the items allow it); numpy arrays orjson refuses -> lists;
- `pathlib.Path` -> its string; exceptions -> `{type, message}`;
- anything else -> `repr()`, cut at 200 characters, so an event is always written.

Encoding never raises, whatever a run produced. When orjson refuses a value, the event is
encoded again through `_Plain`, which turns it into plain JSON values and fixes, in place of
the value and nowhere else, what orjson cannot write:

- a lone surrogate in a string or key (from a JSON `"\\ud800"` escape, or bytes decoded with
  `surrogatepass`) becomes U+FFFD, so every line is valid UTF-8 that strict parsers read
  (surrogates that form a pair become the character they encode);
- an integer beyond 64 bits is written exactly as a JSON number (as Python's `json` writes
  it), or, past Python's 4300-digit limit for converting integers to text, as a string
  saying how many bits it has;
- containers nested deeper than `MAX_DEPTH`, and a container holding itself, become a short
  string saying so;
- a value whose `to_dict`, `repr` or `str` raises becomes `<TypeName object>`.

Every resolved secret value (see `redaction.py`) is replaced by `***`: a line that may hold
one is encoded again through `_Plain`, which redacts each string and key.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import Any

import orjson
from pydantic import BaseModel, SecretBytes, SecretStr

from . import redaction
from .events import ErrorInfo
from .secrets import Secret

SECRET_PLACEHOLDER = "***"

_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS  # Document & co. go through to_dict, Secret fields to ***
)
_REPR_LIMIT = 200
MAX_DEPTH = 200
"""Containers nested deeper than this are written as a string saying so (orjson stops at 254)."""
_INT64 = range(-(2**63), 2**64)  # what orjson writes natively (signed 64 bits, unsigned too)

# Fields an event leaves out when they are None, rather than writing `null`.
_OMIT_WHEN_NONE = frozenset({"index", "line", "file", "inputs", "meta"})


def dumps(obj: Any) -> bytes:
    """`obj` as compact JSON bytes (no trailing newline); never raises."""
    return _encode(obj, _OPTIONS)


def dumps_line(event: BaseModel) -> bytes:
    """One event as one JSON line, newline included."""
    fields = {
        name: value
        for name in type(event).model_fields
        if (value := getattr(event, name)) is not None or name not in _OMIT_WHEN_NONE
    }
    return _encode(fields, _OPTIONS | orjson.OPT_APPEND_NEWLINE)


def to_jsonable(obj: Any) -> Any:
    """`obj` as plain JSON values (dicts, lists, str, numbers, bools, None), by the rules above."""
    return orjson.loads(dumps(obj))


def _encode(obj: Any, options: int) -> bytes:
    """orjson's fast path; `_Plain` when orjson refuses a value or a secret may be present."""
    try:
        data = orjson.dumps(obj, default=_default, option=options)
    except orjson.JSONEncodeError:
        return orjson.dumps(_Plain(redaction.active()).value(obj, 0), option=options)
    if redaction.found_in(data):
        return orjson.dumps(_Plain(True).value(obj, 0), option=options)
    return data


def _default(obj: Any) -> Any:
    """orjson's fallback; what it returns is encoded in turn (so nested rules still apply)."""
    try:
        return _converted(obj)
    except Exception:  # a to_dict, repr or property that raises: never the event's problem
        return _unrepresentable(obj)


def _unrepresentable(obj: Any) -> str:
    return f"<{type(obj).__name__} object>"


def _converted(obj: Any) -> Any:
    if isinstance(obj, Secret | SecretStr | SecretBytes):
        return SECRET_PLACEHOLDER
    if isinstance(obj, BaseModel):
        return {name: getattr(obj, name) for name in type(obj).model_fields}
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and not isinstance(obj, type):
        try:
            return to_dict()
        except Exception:  # a to_dict that cannot serialize this instance: fall through
            pass
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return _plain(obj)


def _plain(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray | memoryview):
        raw = bytes(obj)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if isinstance(obj, set | frozenset):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, BaseException):
        return ErrorInfo.of(obj)
    tolist = getattr(obj, "tolist", None)  # numpy arrays orjson refuses (non-contiguous, object)
    if callable(tolist):
        try:
            return tolist()
        except Exception:
            pass
    text = repr(obj)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 1] + "…"


class _Plain:
    """Turns any value into plain JSON values orjson always writes (see the module docstring).

    Args:
        redacting: replace registered secret values in every string and key.
    """

    def __init__(self, redacting: bool) -> None:
        self._redacting = redacting
        self._path: set[int] = set()  # the containers being walked: one seen again is a cycle

    def value(self, obj: Any, depth: int) -> Any:
        """`obj` as plain JSON values."""
        if obj is None or isinstance(obj, bool | float):
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, int):
            return _integer(obj)
        if depth >= MAX_DEPTH:
            return f"<{type(obj).__name__} nested deeper than {MAX_DEPTH} levels>"
        if isinstance(obj, dict | list | tuple):
            return self._container(obj, depth)
        try:  # what orjson writes itself (datetimes, UUIDs, numpy numbers): exactly as it would
            written = orjson.dumps(obj, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return self.value(_default(obj), depth + 1)
        if self._redacting and redaction.found_in(written):
            return self.value(orjson.loads(written), depth + 1)
        return orjson.Fragment(written)

    def text(self, text: str) -> str:
        """`text` with lone surrogates replaced (and secrets, when redacting)."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return redaction.redact(text) if self._redacting else text

    def _container(self, obj: dict | list | tuple, depth: int) -> Any:
        if id(obj) in self._path:
            return f"<{type(obj).__name__} that contains itself>"
        self._path.add(id(obj))
        try:
            if isinstance(obj, dict):
                return {self._key(k): self.value(v, depth + 1) for k, v in obj.items()}
            return [self.value(item, depth + 1) for item in obj]
        finally:
            self._path.discard(id(obj))

    def _key(self, key: Any) -> str:
        if isinstance(key, str):
            return self.text(key)
        if key is None or isinstance(key, bool):
            return orjson.dumps(key).decode()
        if isinstance(key, int):
            try:
                return str(key)
            except ValueError:
                return f"<integer of {key.bit_length()} bits>"
        try:  # what OPT_NON_STR_KEYS writes (floats, datetimes, enums, UUIDs)
            return self.text(next(iter(orjson.loads(orjson.dumps({key: 0}, option=_OPTIONS)))))
        except (orjson.JSONEncodeError, StopIteration, TypeError):
            pass
        try:
            return self.text(str(key))
        except Exception:
            return _unrepresentable(key)


def _integer(number: int) -> Any:
    """An int orjson can write: itself within 64 bits, else its exact digits, else a string."""
    if number in _INT64:
        return number
    try:
        return orjson.Fragment(str(number).encode())
    except ValueError:  # beyond Python's limit for converting an int to text (4300 digits)
        return f"<integer of {number.bit_length()} bits>"
