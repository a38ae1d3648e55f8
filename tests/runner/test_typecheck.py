"""Socket type compatibility (Haystack's strict rules) and readable type names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

import pytest

from ragrun import Document
from ragrun.typecheck import is_compatible, type_name


class Base:
    pass


class Child(Base):
    pass


@pytest.mark.parametrize(
    ("sender", "receiver", "expected"),
    [
        pytest.param(int, int, True, id="equal"),
        pytest.param(int, str, False, id="different"),
        pytest.param(Any, str, True, id="any-sender"),
        pytest.param(str, Any, True, id="any-receiver"),
        pytest.param(Child, Base, True, id="subclass"),
        pytest.param(Base, Child, False, id="superclass"),
        pytest.param(str, Optional[str], True, id="into-optional"),  # noqa: UP045
        pytest.param(str, str | None, True, id="into-pep604-optional"),
        pytest.param(str | None, str, False, id="optional-into-plain"),
        pytest.param(int | str, int | str | None, True, id="union-subset"),
        pytest.param(list[Document], list[Document], True, id="generic-equal"),
        pytest.param(list[Document], list[str], False, id="generic-args-differ"),
        pytest.param(list[Child], list[Base], True, id="generic-covariant"),
        pytest.param(list[Document], list, True, id="into-bare-list"),
        pytest.param(list, list[str], False, id="bare-list-into-typed"),
        pytest.param(list[str], Sequence[str], True, id="list-into-sequence"),
        pytest.param(dict[str, int], dict[str, Any], True, id="dict-any-value"),
        pytest.param(list[str], dict[str, str], False, id="list-into-dict"),
    ],
)
def test_is_compatible(sender: Any, receiver: Any, expected: bool) -> None:
    assert is_compatible(sender, receiver) is expected


@pytest.mark.parametrize(
    ("t", "name"),
    [
        pytest.param(list[Document], "list[Document]", id="list"),
        pytest.param(str | None, "str | None", id="optional"),
        pytest.param(Any, "Any", id="any"),
        pytest.param(dict[str, Any], "dict[str, Any]", id="dict"),
        pytest.param(Sequence[int], "Sequence[int]", id="abc"),
        pytest.param(Callable[..., Any], "Callable[..., Any]", id="callable-any-args"),
        pytest.param(Callable[[int, str], bool], "Callable[[int, str], bool]", id="callable"),
    ],
)
def test_type_name(t: Any, name: str) -> None:
    assert type_name(t) == name
