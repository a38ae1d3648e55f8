"""Haystack filters as a SQL `WHERE` condition for PgvectorDocumentStore, values as parameters.

The filter is parsed and checked by `filters.parse_filters` (the same errors as every store);
here each comparison becomes a `psycopg.sql` expression in which every value from the filter is
a named placeholder, so no filter value is ever part of the SQL text.

A field is read as JSONB (`meta #> '{key,...}'`, or `to_jsonb(content)` / `to_jsonb(id)`), so
one set of rules covers every field, with the semantics of the in-memory store:

- `==` compares JSON values (`3` equals `3.0`); `None` matches a JSON null or a missing key;
  `!=`, `not in` are the exact negations, so they match documents missing the field.
- `>`, `>=`, `<`, `<=` compare numbers with numbers and booleans with booleans; a string filter
  value must be an ISO 8601 date, and then only stored strings that are ISO dates take part.
  A naive and an aware datetime are compared by giving the naive one the other's offset.
- Every expression is two-valued (never SQL NULL), so NOT, AND and OR behave as in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from .comparisons import as_datetime
from .errors import FilterError
from .filters import Comparison, Condition, Logical

# Stored strings cast to a timestamp only when they have one of the shapes PostgreSQL reads.
_DATE = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$"
_AWARE = r"[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"
_ORDERING = {">": ">", ">=": ">=", "<": "<", "<=": "<="}
TRUE = sql.SQL("TRUE")
FALSE = sql.SQL("FALSE")


class Parameters(dict[str, Any]):
    """The values of one statement, each bound to a named placeholder (`%(p0)s`, ...)."""

    def add(self, value: Any) -> sql.Placeholder:
        """Bind `value` and return its placeholder."""
        name = f"p{len(self)}"
        self[name] = value
        return sql.Placeholder(name)


def where(condition: Condition | None, params: Parameters) -> sql.Composable:
    """The SQL condition for a parsed filter (`TRUE` for no filter).

    Raises:
        FilterError: a field that cannot be filtered, or a value that cannot be compared.
    """
    if condition is None:
        return TRUE
    if isinstance(condition, Logical):
        return _logical(condition, params)
    return _comparison(condition, params)


def _logical(condition: Logical, params: Parameters) -> sql.Composable:
    parts = [where(c, params) for c in condition.conditions]
    if condition.operator == "OR":
        return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)) if parts else FALSE
    both = sql.SQL("({})").format(sql.SQL(" AND ").join(parts)) if parts else TRUE
    return sql.SQL("(NOT {})").format(both) if condition.operator == "NOT" else both


class _Field:
    """A filtered field as JSONB, and as its text column when it is `id` or `content`."""

    def __init__(self, comparison: Comparison, params: Parameters) -> None:
        path = comparison.path
        self.column: sql.Identifier | None = None
        if path in (("id",), ("content",)):
            self.column = sql.Identifier(path[0])
            self.json: sql.Composable = sql.SQL("to_jsonb({})").format(self.column)
        elif path[0] == "meta" and len(path) > 1 and all(path[1:]):
            self.json = sql.SQL("(meta #> {}::text[])").format(params.add(list(path[1:])))
        else:
            raise FilterError(
                f"filters: field {comparison.field!r} cannot be filtered in "
                "PgvectorDocumentStore; filter on 'id', 'content' or 'meta.<key>'"
            )
        self.text = sql.SQL("({} #>> '{{}}')").format(self.json)


def _comparison(comparison: Comparison, params: Parameters) -> sql.Composable:
    field = _Field(comparison, params)
    operator, value = comparison.operator, comparison.value
    if operator == "==":
        return _equal(field, value, params)
    if operator == "!=":
        return sql.SQL("(NOT {})").format(_equal(field, value, params))
    if operator == "in":
        return _in(field, value, params)
    if operator == "not in":
        return sql.SQL("(NOT {})").format(_in(field, value, params))
    return _ordered(field, operator, value, params)


def _json_value(value: Any) -> Jsonb:
    return Jsonb(value.isoformat() if isinstance(value, datetime) else value)


def _is_null(field: _Field) -> sql.Composable:
    return sql.SQL("({0} IS NULL OR {0} = 'null'::jsonb)").format(field.json)


def _equal(field: _Field, value: Any, params: Parameters) -> sql.Composable:
    if value is None:
        return _is_null(field)
    date = as_datetime(value)
    if field.column is not None and isinstance(value, str) and date is None:
        # Compare the text column itself, so the primary key index serves `id` filters.
        return sql.SQL("COALESCE({} = {}, FALSE)").format(field.column, params.add(value))
    same = sql.SQL("COALESCE({} = {}, FALSE)").format(field.json, params.add(_json_value(value)))
    if date is None:
        return same
    return sql.SQL("({} OR {})").format(same, _date_compare(field, "=", date, params))


def _in(field: _Field, values: list[Any], params: Parameters) -> sql.Composable:
    plain = [v for v in values if v is not None and as_datetime(v) is None]
    parts = [_equal(field, v, params) for v in values if v is None or as_datetime(v) is not None]
    if plain and field.column is not None and all(isinstance(v, str) for v in plain):
        parts.append(
            sql.SQL("COALESCE({} = ANY({}::text[]), FALSE)").format(field.column, params.add(plain))
        )
    elif plain:
        parts.append(
            sql.SQL("COALESCE({} = ANY({}::jsonb[]), FALSE)").format(
                field.json, params.add([Jsonb(v) for v in plain])
            )
        )
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)) if parts else FALSE


def _ordered(field: _Field, operator: str, value: Any, params: Parameters) -> sql.Composable:
    if value is None:
        return FALSE  # None is never ordered, as in the in-memory store
    date = as_datetime(value)
    if date is not None:
        return _date_compare(field, operator, date, params)
    if isinstance(value, str):
        raise FilterError(
            f"filters: cannot compare strings with {operator!r}: strings are only ordered when "
            f"they are ISO 8601 dates, found {value!r}"
        )
    if not isinstance(value, int | float):
        raise FilterError(
            f"filters: {operator!r} compares numbers, booleans or ISO 8601 dates, found "
            f"{type(value).__name__} {value!r}"
        )
    kind = "boolean" if isinstance(value, bool) else "number"
    return sql.SQL("COALESCE(jsonb_typeof({0}) = {1} AND {0} {2} {3}, FALSE)").format(
        field.json, sql.Literal(kind), sql.SQL(_ORDERING[operator]), params.add(Jsonb(value))
    )


def _date_compare(
    field: _Field, operator: str, value: datetime, params: Parameters
) -> sql.Composable:
    """Stored ISO-date strings compared with a datetime; any other stored value is no match."""
    text = field.text
    offset = value.utcoffset()
    if offset is None:
        # Naive: read stored dates as wall-clock time, dropping any offset they carry, which
        # is what giving the naive value the stored value's offset amounts to.
        stored: sql.Composable = sql.SQL("{}::timestamp").format(text)
    else:
        stored = sql.SQL(
            "CASE WHEN {0} ~ {1} THEN {0}::timestamptz "
            "ELSE {0}::timestamp AT TIME ZONE {2}::interval END"
        ).format(text, sql.Literal(_AWARE), params.add(offset))
    return sql.SQL(
        "CASE WHEN jsonb_typeof({json}) = 'string' AND {text} ~ {shape} "
        "THEN {stored} {op} {value} ELSE FALSE END"
    ).format(
        json=field.json,
        text=text,
        shape=sql.Literal(_DATE),
        stored=stored,
        op=sql.SQL("=" if operator == "=" else _ORDERING[operator]),
        value=params.add(value),
    )
