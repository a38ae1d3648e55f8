"""What the bounded YAML reader accepts: merge keys with positions, `x-` keys for anchors,
core tags, Haystack's `!!python/tuple`, a UTF-8 byte-order mark, and files just inside the
limits (the malformed corpus in tests/invalid/ covers what it refuses)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ragrun import PipelineValidationError
from ragrun.loader import load_file, load_text
from ragrun.source import parse
from ragrun.yaml_limits import MAX_DEPTH, MAX_NODES
from tests.invalid.malformed import alias_chain_text, billion_laughs_text, deep_text

S = "tests.runner.sample_components"


def test_merge_keys_merge_and_keys_beside_them_win() -> None:
    text = (
        "x-upper: &upper {suffix: '?', times: 2}\n"
        "components:\n"
        f"  u:\n    type: {S}.Upper\n    init_parameters:\n      <<: *upper\n      times: 3\n"
    )
    upper = load_text(text).nodes["u"].instance
    assert (upper.suffix, upper.times) == ("?", 3)


def test_a_mistake_in_a_merged_key_is_located_where_the_anchor_writes_it() -> None:
    text = (
        "x-upper: &upper\n  suffix: '?'\n  times: many\n"
        f"components:\n  u:\n    type: {S}.Upper\n    init_parameters:\n      <<: *upper\n"
    )
    with pytest.raises(PipelineValidationError) as caught:
        load_text(text, "m.yaml")
    assert str(caught.value) == (
        "m.yaml:3:3: components.u.init_parameters.times: expected int, found 'many' (str)"
    )


def test_top_level_x_keys_are_ignored() -> None:
    assert load_text("x-anything: [1, {a: 2}]\ncomponents: {}\n").nodes == {}


def test_core_tags_on_values_of_their_kind_are_read_plainly() -> None:
    source = parse("a: !!str 5\nb: !!int 7\nc: !!float 1\nd: !!bool true\ne: !!null null\n")
    assert source.data == {"a": "5", "b": 7, "c": 1.0, "d": True, "e": None}
    assert type(source.data["a"]) is str


def test_a_str_tag_on_a_key_gives_a_string_key() -> None:
    source = parse("!!str 5: a\n!!str question: b\n")
    assert source.data == {"5": "a", "question": "b"}
    assert all(type(key) is str for key in source.data)


def test_haystack_tuples_are_read_as_lists_with_positions() -> None:
    source = parse("a: !!python/tuple [1, 2]\n")
    assert source.data == {"a": [1, 2]}
    assert source.locate(("a", 1)) is not None


def test_a_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfcomponents: {}\n")
    assert load_file(path).nodes == {}


def test_a_redefined_anchor_is_valid_and_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        source = parse("a: &x 1\nb: &x 2\nc: *x\n")
    assert source.data == {"a": 1, "b": 2, "c": 2}


def test_a_file_just_inside_the_limits_loads() -> None:
    depth = MAX_DEPTH - 2  # the top-level mapping and `metadata`'s own are levels too
    nested = "[" * depth + "]" * depth
    values = ", ".join("1" for _ in range(MAX_NODES - 10))
    assert parse(f"metadata: {{x: {nested}}}\n").data["metadata"]["x"] is not None
    assert len(parse(f"x: [{values}]\n").data["x"]) == MAX_NODES - 10


def test_aliases_within_the_limits_expand() -> None:
    text = "a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nc: [*b, *b]\n"
    assert parse(text).data["c"] == [[[1, 2, 3]] * 3] * 2


@pytest.mark.parametrize(
    ("bomb", "first_line"),
    [
        pytest.param(
            billion_laughs_text(),
            "bomb.yaml:5:4: this value stands for more than 10,000 values once its aliases are "
            "expanded; a pipeline file may hold at most 10,000",
            id="billion-laughs",
        ),
        pytest.param(
            alias_chain_text(3000),
            "bomb.yaml:101:8: this value nests deeper than 100 levels once its aliases are "
            "expanded; a pipeline file may nest at most 100",
            id="alias-chain-3000",
        ),
        pytest.param(
            deep_text(1000),
            "bomb.yaml:1:113: the YAML nests deeper than 100 levels here; a pipeline file may "
            "nest at most 100",
            id="nesting-1000",
        ),
    ],
)
def test_the_bombs_of_issue_9_are_located_refusals(bomb: str, first_line: str) -> None:
    with pytest.raises(PipelineValidationError) as caught:
        load_text(bomb, "bomb.yaml")
    assert str(caught.value) == first_line
