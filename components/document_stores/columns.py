"""Filters evaluated over every stored document at once, one boolean mask per condition.

The values of a filtered field are read from the documents once and cached (until the next
write), so a retriever that filters on `meta.source` on every query reads that field once. A
numeric column (ints and floats, None where missing) is also kept as a float64 array: the
comparisons users write most (`==`, `!=`, `<`, `in` on numbers, `==` on a string) then run as
numpy operations; anything else falls back to Haystack's per-value semantics
(`comparisons.py`), which define the result in every case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ragrun import Document

from .comparisons import comparison, looks_like_iso_date
from .filters import Comparison, Condition, Logical

# Integers beyond this lose precision as float64; such columns skip the numeric fast path.
_EXACT_FLOAT_INT = 2**53

_NUMPY_ORDER: dict[str, Callable[[Any, Any], np.ndarray]] = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _EXACT_FLOAT_INT
    return isinstance(value, float)


@dataclass
class Column:
    """One field's values across the stored documents, in row order (None where missing)."""

    values: list[Any]
    _objects: np.ndarray | None = field(default=None, repr=False)
    _numbers: np.ndarray | bool | None = field(default=False, repr=False)

    def objects(self) -> np.ndarray:
        """The values as a numpy object array (each value kept as it is)."""
        if self._objects is None:
            self._objects = np.fromiter(self.values, dtype=object, count=len(self.values))
        return self._objects

    def numbers(self) -> np.ndarray | None:
        """float64 values with NaN for None, or None when some value is not a number."""
        if self._numbers is False:
            numeric = all(v is None or _is_number(v) for v in self.values)
            self._numbers = (
                np.array([np.nan if v is None else v for v in self.values], dtype=np.float64)
                if numeric
                else None
            )
        return self._numbers  # type: ignore[return-value]

    def nones(self) -> np.ndarray:
        """True where the value is None or the field is missing."""
        return self.objects() == None  # noqa: E711 - elementwise comparison


class Columns:
    """The columns of the fields filtered so far, for one version of the stored documents."""

    def __init__(
        self,
        documents: Sequence[Document],
        embedding_at: Callable[[int], list[float] | None] | None = None,
    ) -> None:
        self._documents = documents
        self._embedding_at = embedding_at  # stored documents keep their embedding elsewhere
        self._columns: dict[tuple[str, ...], Column] = {}

    def __len__(self) -> int:
        return len(self._documents)

    def column(self, path: tuple[str, ...]) -> Column:
        """The column of a field path (`("meta", "year")`), read on first use."""
        found = self._columns.get(path)
        if found is None:
            if path[0] == "embedding" and self._embedding_at is not None:
                values = [self._embedding_at(row) for row in range(len(self._documents))]
            else:
                values = [_value_at(doc, path) for doc in self._documents]
            found = Column(values)
            self._columns[path] = found
        return found


def _value_at(document: Document, path: tuple[str, ...]) -> Any:
    value: Any = getattr(document, path[0], None)
    for key in path[1:]:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def matches(condition: Condition, columns: Columns, *, strict: bool = False) -> np.ndarray:
    """A boolean mask over the rows: True where the document matches `condition`.

    Raises:
        FilterError: a comparison Haystack also refuses (ordering non-date strings, ...).
    """
    if isinstance(condition, Logical):
        masks = [matches(c, columns, strict=strict) for c in condition.conditions]
        every = np.ones(len(columns), dtype=bool)
        for mask in masks:
            every &= mask
        if condition.operator == "AND":
            return every
        if condition.operator == "NOT":
            return ~every
        anyone = np.zeros(len(columns), dtype=bool)
        for mask in masks:
            anyone |= mask
        return anyone
    return _compare(condition, columns.column(condition.path), strict)


def _compare(condition: Comparison, column: Column, strict: bool) -> np.ndarray:
    fast = _vectorised(condition.operator, condition.value, column)
    if fast is not None:
        return fast
    test = comparison(condition.operator)
    value = condition.value
    return np.fromiter(
        (test(v, value, strict) for v in column.values), dtype=bool, count=len(column.values)
    )


def _vectorised(operator: str, value: Any, column: Column) -> np.ndarray | None:
    """The mask computed with numpy when the case allows it exactly, else None."""
    if operator in ("==", "!="):
        equal = _vectorised_equal(value, column)
        if equal is None:
            return None
        return equal if operator == "==" else ~equal
    if operator in _NUMPY_ORDER and _is_number(value):
        numbers = column.numbers()
        return None if numbers is None else _NUMPY_ORDER[operator](numbers, value)
    if operator in ("in", "not in") and all(_is_number(v) for v in value):
        numbers = column.numbers()
        if numbers is None:
            return None
        found = np.isin(numbers, np.array(value, dtype=np.float64))
        return found if operator == "in" else ~found
    return None


def _vectorised_equal(value: Any, column: Column) -> np.ndarray | None:
    if value is None:
        return column.nones()
    if _is_number(value):
        numbers = column.numbers()
        return None if numbers is None else numbers == value
    if isinstance(value, str) and not looks_like_iso_date(value):
        # Not a date, so equality is plain Python equality, compared elementwise by numpy.
        return np.asarray(column.objects() == value, dtype=bool)
    return None
