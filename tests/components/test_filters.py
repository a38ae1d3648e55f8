"""Filters: syntax checks with located messages, Haystack's semantics, numpy == per-value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from ragrun import Document
from ragrun.components.document_stores.columns import Columns, matches
from ragrun.components.document_stores.comparisons import comparison
from ragrun.components.document_stores.errors import FilterError
from ragrun.components.document_stores.filters import (
    COMPARISON_OPERATORS,
    Comparison,
    Logical,
    field_path,
    parse_filters,
)


def cmp(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        pytest.param({"kind": "blog"}, "invalid filter syntax", id="legacy"),
        pytest.param("meta.kind == 1", "expected a filter", id="not-a-mapping"),
        pytest.param({"field": "meta.x", "value": 1}, "'operator' key missing", id="no-operator"),
        pytest.param({"field": "meta.x", "operator": "=="}, "'value' key missing", id="no-value"),
        pytest.param(
            cmp("meta.x", "not_in", [1]),
            "unknown comparison operator 'not_in'.*Did you mean 'not in'",
            id="op",
        ),
        pytest.param(
            {**cmp("meta.x", "==", 1), "vaule": 2},
            "unknown key 'vaule'.*Did you mean 'value'",
            id="unknown-key",
        ),
        pytest.param(cmp("", "==", 1), "expected a field name", id="empty-field"),
        pytest.param(cmp("meta.x", "in", "a"), "'in' needs a list of values", id="in-scalar"),
        pytest.param(cmp("meta.x", ">", [1, 2]), "compares with one value", id="gt-list"),
        pytest.param({"operator": "AND"}, "'conditions' key missing", id="no-conditions"),
        pytest.param(
            {"operator": "AND", "conditions": cmp("meta.x", "==", 1)},
            "expected a list of filters",
            id="conditions-not-a-list",
        ),
        pytest.param(
            {"operator": "XOR", "conditions": []}, "unknown logical operator 'XOR'", id="xor"
        ),
        pytest.param(
            {"operator": "OR", "conditions": [cmp("meta.x", "==", 1), cmp("meta.y", "~", 2)]},
            r"filters\.conditions\[1\]\.operator: unknown comparison operator",
            id="located-in-nested",
        ),
    ],
)
def test_malformed_filters_are_located(filters: Any, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filters(filters)
    assert issubclass(FilterError, ValueError)


def test_parse_normalises_operators_and_fields() -> None:
    parsed = parse_filters(
        {"operator": "and", "conditions": [cmp("year", "IN", (1, 2)), cmp("meta.a.b", "==", 1)]}
    )
    assert parsed == Logical(
        "AND",
        (
            Comparison("year", ("meta", "year"), "in", [1, 2]),
            Comparison("meta.a.b", ("meta", "a", "b"), "==", 1),
        ),
    )
    assert parse_filters(None) is None
    assert parse_filters({}) is None
    assert field_path("content") == ("content",)
    assert field_path("id") == ("id",)


DOCS = [
    Document(content="one", meta={"n": 1, "when": "2024-03-01T12:00:00", "deep": {"x": "a"}}),
    Document(content="two", meta={"n": 2.5, "when": "2024-03-01T12:00:00+00:00", "flag": True}),
    Document(content="three", meta={"n": None, "when": datetime(2025, 1, 1), "deep": None}),
    Document(content="four", meta={"n": "text", "flag": False, "tags": ["a", "b"]}),
]


def matching(filters: dict[str, Any], *, strict: bool = False) -> list[str | None]:
    condition = parse_filters(filters)
    assert condition is not None
    mask = matches(condition, Columns(DOCS), strict=strict)
    return [doc.content for doc, hit in zip(DOCS, mask.tolist(), strict=True) if hit]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(cmp("meta.deep.x", "==", "a"), ["one"], id="nested-field"),
        pytest.param(cmp("meta.deep.x", "!=", "a"), ["two", "three", "four"], id="nested-ne"),
        pytest.param(cmp("n", "==", 1), ["one"], id="legacy-bare-field"),
        pytest.param(cmp("meta.flag", "==", True), ["two"], id="bool"),
        pytest.param(cmp("meta.tags", "==", ["a", "b"]), ["four"], id="list-equality"),
        pytest.param(
            cmp("meta.when", "==", "2024-03-01 12:00:00"), ["one", "two"], id="same-instant"
        ),
        pytest.param(
            cmp("meta.when", ">", "2024-06-01T00:00:00"), ["three"], id="datetime-vs-iso-string"
        ),
        pytest.param(
            cmp("meta.when", ">=", datetime(2024, 3, 1, 12, tzinfo=UTC)),
            ["one", "two", "three"],
            id="aware-vs-naive",
        ),
        pytest.param(cmp("meta.n", "in", [None, 2.5]), ["two", "three"], id="in-with-none"),
        pytest.param(cmp("meta.missing", "==", None), ["one", "two", "three", "four"], id="miss"),
        pytest.param(cmp("meta.missing", ">", 1), [], id="missing-never-ordered"),
        pytest.param({"operator": "OR", "conditions": []}, [], id="empty-or"),
        pytest.param({"operator": "NOT", "conditions": []}, [], id="empty-not"),
    ],
)
def test_semantics(filters: dict[str, Any], expected: list[str]) -> None:
    assert matching(filters) == expected


def test_strict_datetime_comparison() -> None:
    same_instant = cmp("meta.when", "==", "2024-03-01T12:00:00+00:00")
    assert matching(same_instant) == ["one", "two"]
    assert matching(same_instant, strict=True) == ["two"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (cmp("meta.n", ">", "abc"), "ISO 8601"),
        (cmp("content", "<", "z"), "ISO 8601"),
        (cmp("meta.n", ">", datetime(2024, 1, 1)), "datetime with a non-datetime"),
    ],
    ids=["number-vs-word", "plain-strings", "number-vs-date"],
)
def test_orderings_haystack_refuses(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        matching(filters)


def random_value(rng: np.random.Generator) -> Any:
    kind = rng.integers(0, 7)
    return [
        None,
        int(rng.integers(-3, 4)),
        float(rng.integers(-6, 7)) / 2,
        bool(rng.integers(0, 2)),
        str(rng.choice(["a", "b", "c"])),
        "MISSING",
        int(rng.integers(-3, 4)),
    ][kind]


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_masks_equal_per_value_semantics(seed: int) -> None:
    """Whatever mix of types a column holds, the mask equals Haystack's per-document answer."""
    rng = np.random.default_rng(seed)
    numeric_only = seed % 2 == 0
    docs = []
    for _ in range(60):
        value = random_value(rng)
        if numeric_only and isinstance(value, str | bool):
            value = None
        docs.append(Document(content="x", meta={} if value == "MISSING" else {"v": value}))
    columns = Columns(docs)
    values = [None, 0, 1, 1.5, -2, True, "a", [0, 1.5], [None, 1], ["a", 1], []]
    for operator in COMPARISON_OPERATORS:
        for value in values:
            if (operator in ("in", "not in")) != isinstance(value, list):
                continue
            condition = parse_filters(cmp("meta.v", operator, value))
            assert isinstance(condition, Comparison)
            test = comparison(operator)
            try:
                expected = [test(d.meta.get("v"), value, False) for d in docs]
            except FilterError:
                with pytest.raises(FilterError):
                    matches(condition, columns)
                continue
            assert matches(condition, columns).tolist() == expected, (operator, value)
