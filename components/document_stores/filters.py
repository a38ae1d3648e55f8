"""Haystack's metadata filter syntax, parsed and checked before any document is looked at.

A filter is a comparison or a logical combination of filters::

    {"field": "meta.year", "operator": ">=", "value": 2020}
    {"operator": "AND", "conditions": [{...}, {"operator": "NOT", "conditions": [{...}]}]}

Comparison operators: `==`, `!=`, `>`, `>=`, `<`, `<=`, `in`, `not in`. Logical operators:
`AND`, `OR`, `NOT` (NOT negates the AND of its conditions, as in Haystack). Fields are
`meta.<key>` (dots reach into nested dicts), `content` or `id`; a bare name that is not a
Document field means `meta.<name>` (Haystack's legacy form). Operator names are read
case-insensitively. Every mistake is a `FilterError` (a ValueError) naming where it is, what was
expected and what was found, raised even when the store is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragrun.suggest import did_you_mean

from .errors import FilterError

COMPARISON_OPERATORS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in")
LOGICAL_OPERATORS = ("AND", "OR", "NOT")
ORDERING_OPERATORS = (">", ">=", "<", "<=")
DOCUMENT_FIELDS = ("id", "content", "meta", "embedding", "score", "blob")
SYNTAX_URL = "https://docs.haystack.deepset.ai/docs/metadata-filtering"

_COMPARISON_KEYS = ("field", "operator", "value")
_LOGICAL_KEYS = ("operator", "conditions")


@dataclass(frozen=True)
class Comparison:
    """One `field operator value` test."""

    field: str
    """The field as written (`meta.year`)."""
    path: tuple[str, ...]
    """The field as attribute then dict keys (`("meta", "year")`)."""
    operator: str
    value: Any


@dataclass(frozen=True)
class Logical:
    """AND, OR or NOT over nested conditions."""

    operator: str
    conditions: tuple[Comparison | Logical, ...]


Condition = Comparison | Logical


def parse_filters(filters: Any) -> Condition | None:
    """Check a filter and return it parsed; None or `{}` means "no filter".

    Raises:
        FilterError: the filter is malformed; the message locates the mistake.
    """
    if filters is None or filters == {}:
        return None
    if isinstance(filters, dict) and "field" not in filters and "operator" not in filters:
        raise FilterError(
            f"filters: invalid filter syntax {filters!r}: expected a comparison "
            "{field, operator, value} or a logical filter {operator, conditions} "
            f"(see {SYNTAX_URL})"
        )
    return _parse(filters, "filters")


def _parse(node: Any, where: str) -> Condition:
    if not isinstance(node, dict):
        raise FilterError(
            f"{where}: expected a filter (a mapping with field/operator/value or "
            f"operator/conditions), found {type(node).__name__} {node!r}"
        )
    if "field" in node:
        return _comparison(node, where)
    if "conditions" in node or "operator" in node:
        return _logical(node, where)
    raise FilterError(
        f"{where}: expected keys field/operator/value or operator/conditions, found "
        f"{sorted(node)} (see {SYNTAX_URL})"
    )


def _check_keys(node: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in node:
        if key not in allowed:
            raise FilterError(
                f"{where}: unknown key {key!r}; a filter here has {', '.join(allowed)}."
                + did_you_mean(str(key), allowed)
            )
    for key in allowed:
        if key not in node:
            raise FilterError(f"{where}: {key!r} key missing in {node!r}")


def _comparison(node: dict[str, Any], where: str) -> Comparison:
    _check_keys(node, _COMPARISON_KEYS, where)
    field, value = node["field"], node["value"]
    if not isinstance(field, str) or not field:
        raise FilterError(
            f"{where}.field: expected a field name such as 'meta.year', found {field!r}"
        )
    operator = _operator(node["operator"], COMPARISON_OPERATORS, str.lower, f"{where}.operator")
    if operator in ("in", "not in") and not isinstance(value, list | tuple):
        raise FilterError(
            f"{where}.value: operator {operator!r} needs a list of values, "
            f"found {type(value).__name__} {value!r}"
        )
    if operator in ORDERING_OPERATORS and isinstance(value, list | tuple | dict | set):
        raise FilterError(
            f"{where}.value: operator {operator!r} compares with one value, "
            f"found {type(value).__name__} {value!r}"
        )
    if isinstance(value, tuple):
        value = list(value)
    return Comparison(field=field, path=field_path(field), operator=operator, value=value)


def _logical(node: dict[str, Any], where: str) -> Logical:
    _check_keys(node, _LOGICAL_KEYS, where)
    operator = _operator(node["operator"], LOGICAL_OPERATORS, str.upper, f"{where}.operator")
    conditions = node["conditions"]
    if not isinstance(conditions, list | tuple):
        raise FilterError(
            f"{where}.conditions: expected a list of filters, found "
            f"{type(conditions).__name__} {conditions!r}"
        )
    parsed = tuple(_parse(c, f"{where}.conditions[{i}]") for i, c in enumerate(conditions))
    return Logical(operator=operator, conditions=parsed)


def _operator(raw: Any, known: tuple[str, ...], case: Any, where: str) -> str:
    if isinstance(raw, str) and case(raw.strip()) in known:
        return str(case(raw.strip()))
    kind = "comparison" if known is COMPARISON_OPERATORS else "logical"
    raise FilterError(
        f"{where}: unknown {kind} operator {raw!r}; valid operators are "
        f"{', '.join(repr(k) for k in known)}." + did_you_mean(str(raw), known)
    )


def field_path(field: str) -> tuple[str, ...]:
    """`meta.a.b` -> ("meta", "a", "b"); a bare non-Document field `x` -> ("meta", "x")."""
    if "." in field:
        return tuple(field.split("."))
    if field in DOCUMENT_FIELDS:
        return (field,)
    return ("meta", field)
