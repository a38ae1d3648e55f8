"""TextFileToDocument, MarkdownToDocument and the source handling they share (globs, meta)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragrun import ByteStream, Document, sockets_of
from ragrun.components.converters.markdown import MarkdownToDocument
from ragrun.components.converters.markdown_text import markdown_to_text
from ragrun.components.converters.txt import TextFileToDocument


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """docs/a.txt, docs/b.md, docs/sub/c.txt, docs/sub/deeper/d.txt, docs/e.md."""
    files = {
        "a.txt": "alpha",
        "b.md": "# Bee\n\nbody of *b*",
        "sub/c.txt": "gamma",
        "sub/deeper/d.txt": "delta",
        "e.md": "plain e",
    }
    for name, text in files.items():
        path = tmp_path / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "docs"


def contents(result: dict) -> list[str | None]:
    return [d.content for d in result["documents"]]


def test_sockets_match_haystack() -> None:
    for converter in (TextFileToDocument(), MarkdownToDocument()):
        sockets = sockets_of(converter)
        assert set(sockets.inputs) == {"sources", "meta"}
        assert sockets.inputs["sources"].is_required
        assert sockets.inputs["meta"].default is None
        assert sockets.outputs["documents"].type == list[Document]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param("*.txt", ["alpha"], id="one-level"),
        pytest.param("**/*.txt", ["alpha", "gamma", "delta"], id="recursive"),
        pytest.param("sub/**/*.txt", ["gamma", "delta"], id="recursive-under"),
        pytest.param("?.txt", ["alpha"], id="question-mark"),
        pytest.param("[ab].*", ["alpha", "# Bee\n\nbody of *b*"], id="char-class"),
        pytest.param("*.pdf", [], id="no-match"),
    ],
)
def test_text_globs_expand_sorted(tree: Path, pattern: str, expected: list[str]) -> None:
    result = TextFileToDocument().run(sources=[str(tree / pattern)])
    assert sorted(contents(result)) == sorted(expected)
    paths = [d.meta["file_path"] for d in result["documents"]]
    assert paths == [
        Path(p).name for p in sorted(str(p) for p in tree.glob(pattern) if p.is_file())
    ]


def test_glob_matches_are_in_sorted_path_order(tree: Path) -> None:
    result = TextFileToDocument(store_full_path=True).run(sources=[str(tree / "**" / "*.txt")])
    paths = [d.meta["file_path"] for d in result["documents"]]
    assert paths == sorted(paths)
    assert len(paths) == 3


def test_a_glob_matching_nothing_warns(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = TextFileToDocument().run(sources=[str(tree / "*.pdf")])
    assert result == {"documents": []}
    assert "matches no file" in caplog.text


def test_an_existing_file_named_like_a_pattern_is_read_as_is(tmp_path: Path) -> None:
    odd = tmp_path / "report[1].txt"
    odd.write_text("literal")
    (tmp_path / "report1.txt").write_text("would match the class")
    assert contents(TextFileToDocument().run(sources=[str(odd)])) == ["literal"]


@pytest.mark.parametrize(
    ("store_full_path", "expected"),
    [pytest.param(False, "a.txt", id="file-name"), pytest.param(True, None, id="full-path")],
)
def test_file_path_meta(tree: Path, store_full_path: bool, expected: str | None) -> None:
    path = tree / "a.txt"
    doc = TextFileToDocument(store_full_path=store_full_path).run(sources=[path])["documents"][0]
    assert doc.meta["file_path"] == (expected or str(path))


def test_meta_dict_goes_to_every_document_and_list_is_zipped(tree: Path) -> None:
    sources = [tree / "a.txt", str(tree / "sub" / "*.txt")]
    shared = TextFileToDocument().run(sources=sources, meta={"lang": "en"})["documents"]
    assert [d.meta["lang"] for d in shared] == ["en", "en"]
    shared[0].meta["lang"] = "changed"
    assert shared[1].meta["lang"] == "en"  # each document has its own copy

    zipped = TextFileToDocument().run(sources=sources, meta=[{"n": 1}, {"n": 2}])["documents"]
    assert [(d.content, d.meta["n"]) for d in zipped] == [("alpha", 1), ("gamma", 2)]


def test_meta_list_of_wrong_length_is_refused(tree: Path) -> None:
    with pytest.raises(ValueError, match="one dict per source"):
        TextFileToDocument().run(sources=[tree / "a.txt"], meta=[{}, {}])


def test_a_directory_is_refused_with_a_glob_hint(tree: Path) -> None:
    with pytest.raises(ValueError, match=r"is a directory; give its files or a glob pattern"):
        TextFileToDocument().run(sources=[str(tree)])


def test_unreadable_and_undecodable_files_are_skipped(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tree / "latin.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with caplog.at_level(logging.WARNING):
        result = TextFileToDocument().run(sources=[tree / "missing.txt", bad, tree / "a.txt"])
    assert contents(result) == ["alpha"]
    assert "Could not read" in caplog.text and "Could not decode" in caplog.text


@pytest.mark.parametrize(
    ("stream", "expected_text", "expected_meta"),
    [
        pytest.param(
            ByteStream(b"hello", meta={"file_path": "/x/y/z.txt", "k": 1}),
            "hello",
            {"file_path": "z.txt", "k": 1},
            id="bytestream-meta-kept",
        ),
        pytest.param(
            ByteStream("café".encode("latin-1"), meta={"encoding": "latin-1"}),
            "café",
            {"encoding": "latin-1"},
            id="encoding-from-meta",
        ),
        pytest.param(ByteStream(b"\xef\xbb\xbfbom"), "bom", {}, id="bom-dropped"),
    ],
)
def test_bytestream_sources(stream: ByteStream, expected_text: str, expected_meta: dict) -> None:
    doc = TextFileToDocument().run(sources=[stream])["documents"][0]
    assert doc.content == expected_text
    assert doc.meta == expected_meta


def test_given_meta_wins_over_file_meta(tree: Path) -> None:
    doc = TextFileToDocument().run(sources=[tree / "a.txt"], meta={"file_path": "mine"})
    assert doc["documents"][0].meta == {"file_path": "mine"}


def test_same_file_gives_same_id(tree: Path) -> None:
    first = TextFileToDocument().run(sources=[tree / "a.txt"])["documents"][0]
    second = TextFileToDocument().run(sources=[tree / "a.txt"])["documents"][0]
    assert first.id == second.id


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        pytest.param("# Title\n\nText.", "Title\n\nText.", id="heading-kept"),
        pytest.param("Setext\n======\n\nbody", "Setext\n\nbody", id="setext-heading"),
        pytest.param("Some *em* and **strong** ~~gone~~", "Some em and strong gone", id="emphasis"),
        pytest.param("[the text](http://x.y) here", "the text here", id="link-target-dropped"),
        pytest.param("![alt *words*](pic.png)", "alt words", id="image-alt"),
        pytest.param("use `pip install`", "use pip install", id="inline-code"),
        pytest.param("```py\nprint(1)\n\nx = 2\n```", "print(1)\n\nx = 2", id="fenced-code"),
        pytest.param("    indented code", "indented code", id="indented-code"),
        pytest.param("- one\n- two\n  - nested", "one\ntwo\nnested", id="bullets"),
        pytest.param("1. first\n2. second", "first\nsecond", id="ordered"),
        pytest.param("> quoted\n> more", "quoted\nmore", id="blockquote"),
        pytest.param("a\n\n---\n\nb", "a\n\nb", id="thematic-break"),
        pytest.param("<div>in <b>html</b></div>\n\nafter", "in html\n\nafter", id="html-block"),
        pytest.param("a <span>b</span> c", "a b c", id="inline-html"),
        pytest.param("Fish &amp; chips &copy;", "Fish & chips ©", id="entities"),
        pytest.param("line one\nline two", "line one\nline two", id="soft-break-kept"),
        pytest.param("| a | b |\n|---|---|\n| 1 | 2 |", "a | b\n1 | 2", id="table-rows"),
        pytest.param("", "", id="empty"),
    ],
)
def test_markdown_to_text(markdown: str, expected: str) -> None:
    assert markdown_to_text(markdown) == expected


def test_markdown_table_to_single_line() -> None:
    table = "| a | b |\n|---|---|\n| 1 | *2* |"
    assert markdown_to_text(table, table_to_single_line=True) == "a b 1 2"


def test_markdown_converter_reads_files_and_globs(tree: Path) -> None:
    result = MarkdownToDocument().run(sources=[str(tree / "*.md")], meta={"kind": "md"})
    docs = result["documents"]
    assert [d.content for d in docs] == ["Bee\n\nbody of b", "plain e"]
    assert [d.meta for d in docs] == [
        {"file_path": "b.md", "kind": "md"},
        {"file_path": "e.md", "kind": "md"},
    ]


@pytest.mark.parametrize(
    ("text", "extract", "expected_content", "expected_meta"),
    [
        pytest.param(
            "---\ntitle: Guide\ntags: [a, b]\ndate: 2024-05-01\n---\n# Head\n",
            True,
            "Head",
            {"title": "Guide", "tags": ["a", "b"], "date": "2024-05-01"},
            id="extracted",
        ),
        pytest.param("---\ntitle: Guide\n---\nbody", False, "title: Guide\n\nbody", {}, id="off"),
        pytest.param(
            "---\n[unclosed\n---\nbody", True, "[unclosed\n\nbody", {}, id="bad-yaml-kept"
        ),
        pytest.param("---\n- a list\n---\nbody", True, "a list\n\nbody", {}, id="not-a-mapping"),
        pytest.param("no front matter", True, "no front matter", {}, id="none"),
    ],
)
def test_markdown_front_matter(
    text: str, extract: bool, expected_content: str, expected_meta: dict
) -> None:
    converter = MarkdownToDocument(extract_frontmatter=extract)
    doc = converter.run(sources=[ByteStream(text.encode())])["documents"][0]
    assert doc.content == expected_content
    assert doc.meta == expected_meta


def test_given_meta_wins_over_front_matter() -> None:
    stream = ByteStream(b"---\ntitle: From file\n---\nbody")
    converter = MarkdownToDocument(extract_frontmatter=True)
    doc = converter.run(sources=[stream], meta={"title": "Given"})["documents"][0]
    assert doc.meta == {"title": "Given"}


def test_markdown_skips_undecodable_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe\xfa not utf-8")
    (tmp_path / "good.md").write_text("# ok")
    with caplog.at_level(logging.WARNING):
        docs = MarkdownToDocument().run(sources=[str(tmp_path / "*.md")])["documents"]
    assert [d.content for d in docs] == ["ok"]
    assert "bad.md" in caplog.text
