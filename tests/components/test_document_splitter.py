"""DocumentSplitter: units, windows, overlap, threshold, provenance meta; the sentence splitter."""

from __future__ import annotations

import logging
import pickle
import random
from typing import Any

import pytest

from ragrun import Document, sockets_of
from ragrun.allowlist import allowing
from ragrun.components.preprocessors.document_splitter import DocumentSplitter
from ragrun.components.preprocessors.sentences import SentenceSplitter


def split(text: str, **params: Any) -> list[Document]:
    return DocumentSplitter(**params).run([Document(content=text, meta={"origin": "t"})])[
        "documents"
    ]


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        pytest.param("a b c d e", {"split_length": 2}, ["a b ", "c d ", "e"], id="word"),
        pytest.param(
            "a b c d e",
            {"split_length": 3, "split_overlap": 1},
            ["a b c ", "c d e"],
            id="word-overlap",
        ),
        pytest.param(
            "a b c d e f",
            {"split_length": 3, "split_overlap": 1},
            ["a b c ", "c d e ", "e f"],
            id="word-overlap-tail",
        ),
        pytest.param(
            "a b c d e",
            {"split_length": 2, "split_threshold": 2},
            ["a b ", "c d e"],
            id="threshold",
        ),
        pytest.param(
            "l1\nl2\nl3", {"split_by": "line", "split_length": 2}, ["l1\nl2\n", "l3"], id="line"
        ),
        pytest.param(
            "p1\n\np2\n\np3",
            {"split_by": "passage", "split_length": 1},
            ["p1\n\n", "p2\n\n", "p3"],
            id="passage",
        ),
        pytest.param(
            "one\ftwo\fthree",
            {"split_by": "page", "split_length": 2},
            ["one\ftwo\f", "three"],
            id="page",
        ),
        pytest.param(
            "A. B. C.", {"split_by": "period", "split_length": 2}, ["A. B.", " C."], id="period"
        ),
        pytest.param(
            "First one. Second one! Third? Fourth.",
            {"split_by": "sentence", "split_length": 2},
            ["First one. Second one! ", "Third? Fourth."],
            id="sentence",
        ),
        pytest.param(
            "a b ",
            {"split_length": 2, "split_overlap": 1},
            ["a b "],
            id="trailing-delimiter-dropped",
        ),
        pytest.param("short", {"split_length": 10}, ["short"], id="shorter-than-window"),
    ],
)
def test_splits(text: str, params: dict[str, Any], expected: list[str]) -> None:
    assert [d.content for d in split(text, **params)] == expected


@pytest.mark.parametrize(
    ("text", "params"),
    [
        pytest.param("w " * 50, {"split_length": 7, "split_overlap": 3}, id="words-overlap"),
        pytest.param("x\fy z\f\fw v\fq", {"split_length": 2}, id="form-feeds"),
        pytest.param(
            "a.\n\nb c.\n\n\n\nd", {"split_by": "passage", "split_length": 2}, id="passages"
        ),
        pytest.param(
            "Mr. Smith left. He came back! Why?\n\nNobody knows. The end.",
            {"split_by": "sentence", "split_length": 2, "split_overlap": 1},
            id="sentences-overlap",
        ),
    ],
)
def test_split_idx_start_points_into_the_source(text: str, params: dict[str, Any]) -> None:
    for chunk in split(text, **params):
        start = chunk.meta["split_idx_start"]
        assert text[start : start + len(chunk.content or "")] == chunk.content


def test_provenance_meta() -> None:
    source = Document(content="a b c d e", meta={"origin": "t"})
    chunks = DocumentSplitter(split_length=3, split_overlap=1).run([source])["documents"]
    assert [c.meta["source_id"] for c in chunks] == [source.id, source.id]
    assert [c.meta["split_id"] for c in chunks] == [0, 1]
    assert [c.meta["split_idx_start"] for c in chunks] == [0, 4]
    assert [c.meta["origin"] for c in chunks] == ["t", "t"]
    first, second = chunks
    assert first.meta["_split_overlap"] == [{"doc_id": second.id, "range": (0, 2)}]
    assert second.meta["_split_overlap"] == [{"doc_id": first.id, "range": (4, 6)}]
    assert first.content[4:6] == second.content[0:2] == "c "


def test_no_overlap_meta_without_overlap() -> None:
    assert all("_split_overlap" not in c.meta for c in split("a b c d", split_length=2))


@pytest.mark.parametrize(
    ("text", "params", "pages"),
    [
        pytest.param("a\fb\fc", {"split_by": "page", "split_length": 1}, [1, 2, 3], id="by-page"),
        pytest.param("a b \fc d \fe", {"split_length": 2}, [1, 2, 3], id="words-across-pages"),
        pytest.param("a\f\fb", {"split_by": "page", "split_length": 1}, [1, 2, 3], id="blank-page"),
        pytest.param("one two\f three", {"split_length": 2}, [1, 2], id="chunk-opens-page"),
    ],
)
def test_page_numbers(text: str, params: dict[str, Any], pages: list[int]) -> None:
    assert [c.meta["page_number"] for c in split(text, **params)] == pages


def test_respect_sentence_boundary_keeps_whole_sentences() -> None:
    text = "One two three. Four five. Six seven eight nine. Ten."
    chunks = split(text, split_length=5, respect_sentence_boundary=True)
    assert [c.content for c in chunks] == [
        "One two three. Four five. ",
        "Six seven eight nine. Ten.",
    ]
    assert [c.meta["split_idx_start"] for c in chunks] == [0, 26]


def test_respect_sentence_boundary_overlaps_by_sentences() -> None:
    text = "Aa bb. Cc dd. Ee ff. Gg hh."
    chunks = split(text, split_length=4, split_overlap=2, respect_sentence_boundary=True)
    assert [c.content for c in chunks] == ["Aa bb. Cc dd. ", "Cc dd. Ee ff. ", "Ee ff. Gg hh."]
    for chunk in chunks:
        start = chunk.meta["split_idx_start"]
        assert text[start : start + len(chunk.content or "")] == chunk.content


def test_respect_sentence_boundary_only_with_words(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        splitter = DocumentSplitter(split_by="line", respect_sentence_boundary=True)
    assert splitter.respect_sentence_boundary is False
    assert "only applies" in caplog.text


def _comma_pieces(text: str) -> list[str]:
    return [piece for piece in text.split(",") if piece]


@pytest.mark.parametrize(
    "function",
    [pytest.param(_comma_pieces, id="callable"), pytest.param("shlex.split", id="dotted-path")],
)
def test_split_by_function(function: Any) -> None:
    text = "ab,cd,ef" if callable(function) else "ab cd ef"
    with allowing(["shlex"]):  # a dotted path names a function of an allowed module
        chunks = split(text, split_by="function", splitting_function=function)
    assert [c.content for c in chunks] == ["ab", "cd", "ef"]
    assert [c.meta["split_idx_start"] for c in chunks] == [0, 3, 6]


def test_split_by_function_with_bad_path() -> None:
    with allowing(["nowhere"]):
        splitter = DocumentSplitter(split_by="function", splitting_function="nowhere.nothing")
    with pytest.raises(ValueError, match="there is no module named 'nowhere'"):
        splitter.run([Document(content="x")])


def test_split_by_function_refuses_a_module_that_is_not_allowed() -> None:
    splitter = DocumentSplitter(split_by="function", splitting_function="os.system")
    with pytest.raises(ValueError, match="refusing to import 'os' for splitting_function"):
        splitter.run([Document(content="touch pwned")])


def test_split_by_function_keeps_the_allowlist_of_the_load_that_declared_it() -> None:
    with allowing(["shlex"]):
        splitter = DocumentSplitter(split_by="function", splitting_function="shlex.split")
    chunks = splitter.run([Document(content="ab cd")])["documents"]  # outside the block
    assert [c.content for c in chunks] == ["ab", "cd"]


def test_inputs_are_not_changed_and_empty_documents_skipped() -> None:
    doc = Document(content="a b c", meta={"k": [1]})
    before = (doc.id, dict(doc.meta))
    chunks = DocumentSplitter(split_length=1).run([doc, Document(content="")])["documents"]
    assert (doc.id, doc.meta) == before
    chunks[0].meta["k"].append(2)
    assert doc.meta["k"] == [1]
    assert len(chunks) == 3


def test_document_without_content_is_an_error() -> None:
    with pytest.raises(ValueError, match="has no content"):
        DocumentSplitter().run([Document(content=None)])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"split_by": "chapter"}, "split_by must be one of", id="unknown-unit"),
        pytest.param({"split_by": "token"}, "tiktoken", id="token"),
        pytest.param({"split_by": "function"}, "needs a splitting_function", id="no-function"),
        pytest.param({"split_length": 0}, "greater than 0", id="zero-length"),
        pytest.param({"split_overlap": -1}, "0 or more", id="negative-overlap"),
        pytest.param(
            {"split_length": 2, "split_overlap": 2}, "less than split_length", id="overlap"
        ),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DocumentSplitter(**params)


def test_sockets() -> None:
    sockets = sockets_of(DocumentSplitter())
    assert list(sockets.inputs) == ["documents"] and sockets.inputs["documents"].is_required
    assert sockets.outputs["documents"].type == list[Document]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        pytest.param(
            "One. Two! Three? Four", ["One. ", "Two! ", "Three? ", "Four"], id="terminators"
        ),
        pytest.param(
            "Dr. Who met Mr. Smith. Then left.",
            ["Dr. Who met Mr. Smith. ", "Then left."],
            id="titles",
        ),
        pytest.param(
            "We use e.g. tea. And i.e. more.", ["We use e.g. tea. ", "And i.e. more."], id="eg-ie"
        ),
        pytest.param("By J. R. R. Tolkien. Yes.", ["By J. R. R. Tolkien. ", "Yes."], id="initials"),
        pytest.param(
            "It is approx. three. Ok.", ["It is approx. three. ", "Ok."], id="lowercase-next"
        ),
        pytest.param("Pi is 3.14 today. Yes.", ["Pi is 3.14 today. ", "Yes."], id="decimal"),
        pytest.param('He said "Stop." Then went.', ['He said "Stop." ', "Then went."], id="quote"),
        pytest.param("Wait... What?! Ok.", ["Wait... ", "What?! ", "Ok."], id="ellipsis"),
        pytest.param(
            "Heading\n\nBody text. More.", ["Heading\n\n", "Body text. ", "More."], id="paragraph"
        ),
        pytest.param("", [], id="empty"),
    ],
)
def test_sentence_splitter(text: str, sentences: list[str]) -> None:
    assert SentenceSplitter().split(text) == sentences


def test_sentence_splitter_german_abbreviations() -> None:
    text = "Das ist z.B. gut. Und bzw. Weiteres. Ende."
    assert SentenceSplitter("de").split(text) == [
        "Das ist z.B. gut. ",
        "Und bzw. Weiteres. ",
        "Ende.",
    ]


def test_sentence_splitter_paragraph_breaks_optional() -> None:
    assert SentenceSplitter(paragraph_breaks=False).split("Heading\n\nBody.") == [
        "Heading\n\nBody."
    ]


def test_sentence_pieces_rebuild_the_text() -> None:
    rng = random.Random(7)
    words = ["Mr.", "word", "end.", "Why?", "e.g.", "A.", "x\n\n", "3.5", '"Quote."', "wow!"]
    splitter = SentenceSplitter()
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
        assert "".join(splitter.split(text)) == text


def test_same_chunks_as_haystack() -> None:
    haystack = pytest.importorskip("haystack")
    from haystack.components.preprocessors import DocumentSplitter as HaystackSplitter

    rng = random.Random(1)
    words = ["alpha", "beta.", "gamma\n", "delta\n\n", "eps\f", "zeta", "eta.\n", "  ", "theta"]
    for _ in range(60):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        for unit in ("word", "passage", "page", "line", "period"):
            length = rng.randint(1, 6)
            params = {
                "split_by": unit,
                "split_length": length,
                "split_overlap": rng.randint(0, length - 1),
                "split_threshold": rng.choice([0, 2, 3]),
            }
            theirs = HaystackSplitter(**params).run([haystack.Document(content=text)])["documents"]
            ours = DocumentSplitter(**params).run([Document(content=text)])["documents"]
            assert [_comparable(d.content, d.meta) for d in ours] == [
                _comparable(d.content, d.meta) for d in theirs
            ], (text, params)


def _comparable(content: str | None, meta: dict[str, Any]) -> tuple:
    keys = ("page_number", "split_id", "split_idx_start")
    overlaps = [tuple(o["range"]) for o in meta.get("_split_overlap", [])]
    return content, tuple(meta[k] for k in keys), overlaps


def test_splitter_pickles_for_process_pools() -> None:
    splitter = DocumentSplitter(split_by="sentence", split_length=1)
    clone = pickle.loads(pickle.dumps(splitter))
    doc = Document(content="One. Two.")
    assert [c.content for c in clone.run([doc])["documents"]] == ["One. ", "Two."]
