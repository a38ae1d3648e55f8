"""What each comparison operator means for one stored value, exactly as in Haystack.

`None` (also a missing field) equals only `None` and is never ordered. Strings are ordered only
when both sides are ISO 8601 dates; a naive and an aware datetime are compared by giving the
naive one the other's timezone (unless `strict`, when they never match). `in` is true when the
value equals any element of the list.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import FilterError

_ORDER: dict[str, Callable[[Any, Any], bool]] = {">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le}


def looks_like_iso_date(value: Any) -> bool:
    """Cheap pre-check: a string starting `YYYY-MM-DD` (then the end, 'T', 't' or a space)."""
    return (
        isinstance(value, str)
        and len(value) >= 10
        and value[:4].isdigit()
        and value[4] == "-"
        and value[5:7].isdigit()
        and value[7] == "-"
        and value[8:10].isdigit()
        and (len(value) == 10 or value[10] in "Tt ")
    )


def as_datetime(value: Any) -> datetime | None:
    """`value` as a datetime when it is one or an ISO 8601 string, else None."""
    if isinstance(value, datetime):
        return value
    if not looks_like_iso_date(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _aligned(first: datetime, second: datetime) -> tuple[datetime, datetime]:
    """Give a naive datetime the timezone of an aware one, so the two compare."""
    if (first.tzinfo is None) == (second.tzinfo is None):
        return first, second
    if first.tzinfo is None:
        return first.replace(tzinfo=second.tzinfo), second
    return first, second.replace(tzinfo=first.tzinfo)


def equal(value: Any, filter_value: Any, strict: bool) -> bool:
    """`==`: Python equality, or both sides the same point in time."""
    if value == filter_value:
        return True
    first, second = as_datetime(value), as_datetime(filter_value)
    if first is None or second is None:
        return False
    if strict and (first.tzinfo is None) != (second.tzinfo is None):
        return False
    first, second = _aligned(first, second)
    return first == second


def not_equal(value: Any, filter_value: Any, strict: bool) -> bool:
    """`!=`: the negation of `==` (so a missing field is != any value but None)."""
    return not equal(value, filter_value, strict)


def _parse_date(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise FilterError(
            "cannot compare strings with '>', '>=', '<', '<=': strings are only ordered when "
            f"they are ISO 8601 dates, found {value!r}"
        ) from exc


def ordered(name: str, value: Any, filter_value: Any, strict: bool) -> bool:
    """`>`, `>=`, `<`, `<=`; False when either side is None."""
    if value is None or filter_value is None:
        return False
    if isinstance(value, str) or isinstance(filter_value, str):
        value, filter_value = _parse_date(value), _parse_date(filter_value)
    if isinstance(value, datetime) != isinstance(filter_value, datetime):
        raise FilterError(
            f"cannot compare a datetime with a non-datetime value using {name!r}: "
            f"{value!r} and {filter_value!r}"
        )
    if isinstance(value, datetime):
        if strict and (value.tzinfo is None) != (filter_value.tzinfo is None):
            return False
        value, filter_value = _aligned(value, filter_value)
    try:
        return bool(_ORDER[name](value, filter_value))
    except TypeError as exc:
        raise FilterError(
            f"cannot compare {type(value).__name__} {value!r} with "
            f"{type(filter_value).__name__} {filter_value!r} using {name!r}"
        ) from exc


def is_in(value: Any, filter_value: list[Any], strict: bool) -> bool:
    """`in`: the value equals one of the list's elements."""
    return any(equal(element, value, strict) for element in filter_value)


def comparison(name: str) -> Callable[[Any, Any, bool], bool]:
    """The scalar test for operator `name` (one of the eight comparison operators)."""
    if name in _ORDER:
        return lambda value, filter_value, strict: ordered(name, value, filter_value, strict)
    tests: dict[str, Callable[[Any, Any, bool], bool]] = {
        "==": equal,
        "!=": not_equal,
        "in": is_in,
        "not in": lambda value, filter_value, strict: not is_in(value, filter_value, strict),
    }
    return tests[name]
