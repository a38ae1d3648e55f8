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
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import Any

import orjson
from pydantic import BaseModel, SecretBytes, SecretStr

from .events import ErrorInfo
from .secrets import Secret

SECRET_PLACEHOLDER = "***"

_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS  # Document & co. go through to_dict, Secret fields to ***
)
_REPR_LIMIT = 200

# Fields an event leaves out when they are None, rather than writing `null`.
_OMIT_WHEN_NONE = frozenset({"index", "line", "file", "inputs", "meta"})


def dumps(obj: Any) -> bytes:
    """`obj` as compact JSON bytes (no trailing newline)."""
    return orjson.dumps(obj, default=_default, option=_OPTIONS)


def dumps_line(event: BaseModel) -> bytes:
    """One event as one JSON line, newline included."""
    fields = {
        name: value
        for name in type(event).model_fields
        if (value := getattr(event, name)) is not None or name not in _OMIT_WHEN_NONE
    }
    return orjson.dumps(fields, default=_default, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def to_jsonable(obj: Any) -> Any:
    """`obj` as plain JSON values (dicts, lists, str, numbers, bools, None), by the rules above."""
    return orjson.loads(dumps(obj))


def _default(obj: Any) -> Any:
    """orjson's fallback; what it returns is encoded in turn (so nested rules still apply)."""
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
