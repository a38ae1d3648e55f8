"""The whitelist parser that reads type names written in YAML."""

from __future__ import annotations

import collections.abc
import re
from typing import Any, Optional, Union

import pytest

from ragrun import ByteStream, ChatMessage, Document
from ragrun.components.builders.answer_builder import GeneratedAnswer
from ragrun.components.type_names import TypeNameError, parse_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("str", str, id="builtin"),
        pytest.param("builtins.int", int, id="builtins-prefix"),
        pytest.param("list[Document]", list[Document], id="short-document"),
        pytest.param(
            "list[haystack.dataclasses.document.Document]", list[Document], id="haystack-path"
        ),
        pytest.param("list[ragrun.ChatMessage]", list[ChatMessage], id="ragrun-path"),
        pytest.param("typing.List[str]", list[str], id="typing-list"),
        pytest.param("typing.Optional[str]", Optional[str], id="optional"),  # noqa: UP045
        pytest.param("int | None", Optional[int], id="pipe-union"),  # noqa: UP045
        pytest.param("typing.Union[int, str]", Union[int, str], id="typing-union"),  # noqa: UP007
        pytest.param("dict[str, typing.Any]", dict[str, Any], id="dict-any"),
        pytest.param("tuple[int, str]", tuple[int, str], id="tuple"),
        pytest.param("list[list[Document]]", list[list[Document]], id="nested"),
        pytest.param("Sequence[ByteStream]", collections.abc.Sequence[ByteStream], id="abc"),
        pytest.param("typing.Any", Any, id="any"),
        pytest.param("GeneratedAnswer", GeneratedAnswer, id="generated-answer"),
        pytest.param(
            "list[haystack.dataclasses.answer.GeneratedAnswer]",
            list[GeneratedAnswer],
            id="haystack-answer",
        ),
        pytest.param("  list[ str ]  ", list[str], id="spaces"),
    ],
)
def test_parses_type_names(text: str, expected: Any) -> None:
    assert parse_type(text) == expected


def test_real_types_pass_through() -> None:
    assert parse_type(list[Document]) == list[Document]
    assert parse_type(str) is str


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("os.system", "not an allowed type", id="module-not-whitelisted"),
        pytest.param("subprocess.Popen", "not an allowed type", id="subprocess"),
        pytest.param("__import__('os')", "unexpected", id="call-syntax"),
        pytest.param("lsit[str]", "Did you mean 'list'?", id="misspelt"),
        pytest.param("Documnet", "Did you mean 'Document'?", id="misspelt-document"),
        pytest.param("list[str", "expected ']'", id="unclosed"),
        pytest.param("list[]", "expected a type name", id="empty-args"),
        pytest.param("str[int]", "takes no arguments", id="not-generic"),
        pytest.param("Optional[int, str]", "Optional takes one argument", id="optional-arity"),
        pytest.param("str int", "unexpected 'int'", id="trailing"),
        pytest.param("", "expected a type name", id="empty"),
    ],
)
def test_refuses_bad_names(text: str, message: str) -> None:
    with pytest.raises(TypeNameError, match=re.escape(message)):
        parse_type(text)
