"""`${VAR}` / `${VAR:-default}` filling, the `$${` escape, and located problems."""

from __future__ import annotations

import pytest

from ragrun.interpolate import fill, interpolate
from ragrun.source import parse

ENV = {"MODEL": "gpt-4o-mini", "EMPTY": "", "TOP_K": "7"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("${MODEL}", "gpt-4o-mini", id="whole-string"),
        pytest.param("model=${MODEL}!", "model=gpt-4o-mini!", id="inside-text"),
        pytest.param("${MODEL}/${TOP_K}", "gpt-4o-mini/7", id="two-references"),
        pytest.param("${MISSING:-fallback}", "fallback", id="default-when-unset"),
        pytest.param("${EMPTY:-fallback}", "fallback", id="default-when-empty"),
        pytest.param("${MODEL:-fallback}", "gpt-4o-mini", id="set-wins-over-default"),
        pytest.param("${MISSING:-}", "", id="empty-default"),
        pytest.param("${EMPTY}", "", id="set-but-empty"),
        pytest.param("$${MODEL}", "${MODEL}", id="escaped"),
        pytest.param("costs $5 or $$", "costs $5 or $$", id="other-dollars-untouched"),
        pytest.param("no references", "no references", id="plain"),
    ],
)
def test_fill(text: str, expected: str) -> None:
    problems: list[str] = []
    assert fill(text, ENV, problems.append) == expected
    assert problems == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "${NOPE}",
            "environment variable NOPE is not set; set it or write ${NOPE:-default}",
            id="unset",
        ),
        pytest.param(
            "${1BAD}",
            "'${1BAD}' is not a valid reference; write ${NAME} or ${NAME:-default} "
            "(or $${ for a literal ${)",
            id="malformed-name",
        ),
        pytest.param(
            "${OPEN",
            "'${OPEN' is not a valid reference; write ${NAME} or ${NAME:-default} "
            "(or $${ for a literal ${)",
            id="unclosed",
        ),
    ],
)
def test_fill_reports_mistakes(text: str, message: str) -> None:
    problems: list[str] = []
    assert fill(text, ENV, problems.append) == text
    assert problems == [message]


def test_interpolate_fills_values_not_keys_and_locates_problems() -> None:
    source = parse(
        "components:\n"
        "  llm:\n"
        "    init_parameters:\n"
        "      model: ${MODEL}\n"
        "      ${MODEL}: kept\n"
        "      list: [a, '${NOPE}']\n",
        "rag.yaml",
    )
    problems = interpolate(source, ENV)
    params = source.data["components"]["llm"]["init_parameters"]
    assert params["model"] == "gpt-4o-mini"
    assert params["${MODEL}"] == "kept"
    assert [p.render() for p in problems] == [
        "rag.yaml:6:17: components.llm.init_parameters.list[1]: environment variable NOPE is "
        "not set; set it or write ${NOPE:-default}"
    ]
    assert ("components", "llm", "init_parameters", "list", 1) in source.unfilled


def test_interpolate_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGRUN_TEST_MODEL", "from-env")
    source = parse("metadata: {name: '${RAGRUN_TEST_MODEL}'}\n")
    assert interpolate(source) == []
    assert source.data == {"metadata": {"name": "from-env"}}
