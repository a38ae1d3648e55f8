"""Resolved secret values, replaced by `***` wherever ragrun writes text.

`Secret.resolve()` hands every value it returns to `register`; from then on, in this process,
that value is replaced by `***` in every event line (`jsonl.py`), every error message an event
carries (`events.ErrorInfo`), the terminal views and human messages (`terminal.py`), and the
log records of the handlers `install_log_filter` equips. It does not matter where the value
came from: a server that echoes the request's `Authorization` header in a 401 body puts
`Bearer ***` in the `component_failed` event, not the key.

Rules, and why:

- Values shorter than `MIN_LENGTH` characters are not registered: a two-letter "secret" would
  star out every word holding those letters, and a value that short protects nothing anyway.
  A value with spaces around it is registered stripped too (a header carries it stripped).
- Only whole values are found. A value cut in two inside one text, or changed (encoded,
  hashed, upper-cased, sliced) by a component before it is written, is not recognised.
- Streamed text is the exception: `StreamRedactor` holds back the end of a piece that could
  begin a secret until the next piece shows whether it does, so a value split across `chunk`
  events is still replaced.
- Registration is process-wide and permanent (a value, once resolved, stays a secret). Worker
  processes and Ray actors have their own registry: they resolve their own secrets, redact what
  they send back; a process-pool worker also hands the values it registered to the driver
  with its results (see `process_pool.py`), so the driver redacts them from every event.

This module imports nothing from ragrun: every layer may use it.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

PLACEHOLDER = "***"
"""What a secret value is replaced with (the same as a `Secret` in an event)."""
MIN_LENGTH = 6
"""Values shorter than this are not registered (see the module docstring)."""


@dataclass(frozen=True)
class _Known:
    """The registered values, in the forms each kind of search needs (replaced whole, never
    changed in place, so readers on other threads need no lock)."""

    values: frozenset[str] = frozenset()
    ordered: tuple[str, ...] = ()
    """The same values in the order they were registered (see `registered_since`)."""
    pattern: re.Pattern[str] | None = None
    """Every value, longest first, so a value holding another is replaced whole."""
    needles: tuple[bytes, ...] = ()
    """Each value as UTF-8 and as it appears inside a JSON string, for `found_in`."""
    longest: int = 0


_known = _Known()
_lock = threading.Lock()


def register(value: object) -> None:
    """Treat `value` as a secret from now on (ignored unless a string of `MIN_LENGTH`+ chars)."""
    global _known
    if not isinstance(value, str):
        return
    # Stripped too (a header carries it stripped), and with any lone surrogate (bytes that were
    # not UTF-8, read from the environment with surrogateescape) as the U+FFFD it is written as.
    candidates = {value, value.strip()}
    candidates |= {
        v.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace") for v in candidates
    }
    new = {v for v in candidates if len(v) >= MIN_LENGTH and v not in _known.values}
    if not new:
        return
    with _lock:
        new -= _known.values  # another thread may have registered it meanwhile
        values = _known.values | new
        longest_first = sorted(values, key=len, reverse=True)
        needles = {form for v in longest_first for form in _json_forms(v)}
        _known = _Known(
            frozenset(values),
            (*_known.ordered, *sorted(new)),
            re.compile("|".join(map(re.escape, longest_first))),
            tuple(sorted(needles, key=len, reverse=True)),
            len(longest_first[0]),
        )


def registered_since(count: int) -> tuple[str, ...]:
    """The values registered after the first `count` (a worker reports its new ones)."""
    return _known.ordered[count:]


def _json_forms(value: str) -> set[bytes]:
    import orjson

    try:
        return {value.encode("utf-8"), orjson.dumps(value)[1:-1]}
    except (UnicodeEncodeError, orjson.JSONEncodeError):  # never written as is: see register
        return set()


def active() -> bool:
    """True once any value is registered (until then redaction costs nothing)."""
    return _known.pattern is not None


def redact(text: str) -> str:
    """`text` with every registered value replaced by `***`."""
    pattern = _known.pattern
    if pattern is None or not text:
        return text
    return pattern.sub(PLACEHOLDER, text)


def found_in(data: bytes) -> bool:
    """Whether encoded JSON `data` may hold a registered value (a fast test, no parsing)."""
    return any(needle in data for needle in _known.needles)


def redact_exception(exc: BaseException) -> BaseException:
    """Redact, in place, the string arguments of `exc` and of the exceptions it chains to.

    For errors about to leave a process (a process-pool worker's), whose receiver may not
    know the values this process resolved. Returns `exc`.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and active():
        seen.add(id(current))
        try:
            current.args = tuple(redact(a) if isinstance(a, str) else a for a in current.args)
        except Exception:  # an exception class whose args cannot be set: leave it
            pass
        for name in ("message", "body"):
            value = getattr(current, name, None)
            if isinstance(value, str):
                try:
                    setattr(current, name, redact(value))
                except Exception:
                    pass
        current = current.__cause__ or current.__context__
    return exc


class StreamRedactor:
    """Redacts a text that arrives in pieces (a streamed reply), even across piece boundaries.

    `feed` returns what can be shown now; the end of a piece that could be the start of a
    secret is held back until the next piece (or `flush`) tells.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """The text that can be shown now, `piece` included as far as it is safe."""
        if not active():
            text, self._held = self._held + piece, ""
            return text
        text = redact(self._held + piece)
        keep = _partial_suffix(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """What is still held back (the stream has ended)."""
        text, self._held = redact(self._held), ""
        return text


def _partial_suffix(text: str) -> int:
    """The length of the longest end of `text` that is the beginning of a registered value."""
    known = _known
    for size in range(min(len(text), known.longest - 1), 0, -1):
        tail = text[-size:]
        if any(value.startswith(tail) for value in known.values):
            return size
    return 0


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message, arguments and traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not active():
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_filter() -> None:
    """Equip the root logger's handlers and logging's last-resort handler with the filter."""
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    for handler in handlers:
        if handler is not None and not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
