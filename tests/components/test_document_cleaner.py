"""DocumentCleaner: each cleaning step, ids, dropping, and parity with Haystack."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ragrun import Document, sockets_of
from ragrun.components.preprocessors.document_cleaner import DocumentCleaner
from ragrun.components.preprocessors.page_furniture import (
    longest_common_ngram,
    remove_headers_and_footers,
)

OFF = {"remove_empty_lines": False, "remove_extra_whitespaces": False}


def clean(text: str, **params: Any) -> str | None:
    return DocumentCleaner(**params).run([Document(content=text)])["documents"][0].content


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        pytest.param("a   b\n\n\nc  ", {}, "a b c", id="defaults"),
        pytest.param("a\n\n  \nb", {"remove_extra_whitespaces": False}, "a\nb", id="empty-lines"),
        pytest.param(" a  b \f c   d ", {"remove_empty_lines": False}, "a b\fc d", id="per-page"),
        pytest.param(
            "keep DROP this", {**OFF, "remove_substrings": ["DROP "]}, "keep this", id="substr"
        ),
        pytest.param("id 123 and 45", {**OFF, "remove_regex": r"\d+"}, "id  and", id="regex"),
        pytest.param(
            "a1b22",
            {**OFF, "replace_regexes": {r"\d+": "#", "#b": "B"}},
            "aB#",
            id="replace-in-order",
        ),
        pytest.param("ﬁne", {**OFF, "unicode_normalization": "NFKC"}, "fine", id="nfkc"),
        pytest.param("Café ½ 東京", {**OFF, "ascii_only": True}, "Cafe 12 ", id="ascii-only"),
        pytest.param("  padded\n", {**OFF, "strip_whitespaces": True}, "padded", id="strip"),
        pytest.param("\n\nx  y\n\n", OFF, "\n\nx  y\n\n", id="all-off"),
    ],
)
def test_cleaning_steps(text: str, params: dict[str, Any], expected: str) -> None:
    assert clean(text, **params) == expected


def test_headers_and_footers_repeated_on_pages_are_removed() -> None:
    rng = random.Random(3)
    words = ["river", "stone", "lamp", "cloud", "paper", "orbit", "maple", "quartz", "ember"]
    bodies = [" ".join(rng.choice(words) for _ in range(80)) for _ in range(5)]
    pages = [
        f"ACME Corp internal report\n{body}\nCopyright ACME 2024 all rights" for body in bodies
    ]
    cleaned = clean("\f".join(pages), **OFF, remove_repeated_substrings=True) or ""
    assert "ACME Corp internal report" not in cleaned
    assert "Copyright ACME 2024 all rights" not in cleaned
    assert [p.strip() for p in cleaned.split("\f")] == bodies


def test_longest_common_ngram() -> None:
    assert longest_common_ngram(["x the same header here", "y the same header here"]) == (
        "the same header here"
    )
    assert longest_common_ngram(["only one text here"]) == ""
    assert longest_common_ngram(["a b", "c d"]) == ""


def test_headers_need_two_middle_pages() -> None:
    text = "H H H a\fH H H b\fH H H c"  # only one middle page: nothing is furniture
    assert remove_headers_and_footers(text) == text


@pytest.mark.parametrize(
    ("keep_id", "same"), [pytest.param(True, True, id="keep"), pytest.param(False, False, id="new")]
)
def test_ids(keep_id: bool, same: bool) -> None:
    doc = Document(content="a  b", meta={"k": 1}, score=0.5, embedding=[0.1])
    out = DocumentCleaner(keep_id=keep_id).run([doc])["documents"][0]
    assert (out.id == doc.id) is same
    assert (out.meta, out.score, out.embedding) == ({"k": 1}, 0.5, [0.1])
    assert doc.content == "a  b"  # input untouched


def test_min_content_length_drops_short_documents() -> None:
    docs = [Document(content="  tiny  "), Document(content="long enough text")]
    out = DocumentCleaner(min_content_length=5).run(docs)["documents"]
    assert [d.content for d in out] == ["long enough text"]


def test_document_without_content_passes_through() -> None:
    doc = Document(content=None, meta={"x": 1})
    assert DocumentCleaner().run([doc])["documents"] == [doc]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"unicode_normalization": "NFX"}, "must be one of", id="normal-form"),
        pytest.param({"min_content_length": -1}, "0 or more", id="negative-length"),
        pytest.param({"remove_regex": "("}, "missing", id="bad-regex"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        DocumentCleaner(**params)


def test_sockets() -> None:
    sockets = sockets_of(DocumentCleaner())
    assert list(sockets.inputs) == ["documents"]
    assert sockets.outputs["documents"].type == list[Document]


def test_same_text_as_haystack() -> None:
    haystack = pytest.importorskip("haystack")
    from haystack.components.preprocessors import DocumentCleaner as HaystackCleaner

    rng = random.Random(2)
    pieces = ["ACME Corp report\n", "word", "  ", "\n\n", " \n", "\t", "café", "x  y", "Page 7"]
    for _ in range(80):
        pages = [
            "HEADER of the doc here\n"
            + " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
            + "\nfooter line is this one"
            for _ in range(rng.randint(1, 6))
        ]
        params = {
            "remove_empty_lines": rng.random() < 0.5,
            "remove_extra_whitespaces": rng.random() < 0.5,
            "remove_repeated_substrings": rng.random() < 0.5,
            "remove_substrings": rng.choice([None, ["word"]]),
            "remove_regex": rng.choice([None, r"\d+"]),
            "unicode_normalization": rng.choice([None, "NFC", "NFKD"]),
            "ascii_only": rng.random() < 0.3,
            "strip_whitespaces": rng.random() < 0.3,
            "replace_regexes": rng.choice([None, {"x": "X", r"\n+": "\n"}]),
        }
        text = "\f".join(pages)
        theirs = HaystackCleaner(**params).run([haystack.Document(content=text)])["documents"]
        ours = DocumentCleaner(**params).run([Document(content=text)])["documents"]
        assert [d.content for d in ours] == [d.content for d in theirs], (text, params)
