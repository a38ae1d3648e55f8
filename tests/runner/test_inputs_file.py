"""Reading batch inputs lazily: one item per non-blank line, only as items are pulled."""

from __future__ import annotations

import io
import os
from pathlib import Path

import anyio
import pytest

from ragrun.errors import PipelineInputError
from ragrun.inputs_file import InputLines, LineSet, count_items
from ragrun.inputs_json import MAX_TEXT_BYTES

pytestmark = pytest.mark.anyio


async def items(lines: InputLines) -> list[tuple[int | None, int | None, bytes]]:
    return [(item.line, item.index, bytes(item.data)) async for item in lines]


async def test_lines_are_numbered_blank_ones_skipped_and_the_last_may_lack_its_ending() -> None:
    stream = io.BytesIO(b'{"a": 1}\n\n  \n{"a": 2}\r\n{"a": 3}')
    assert await items(InputLines(stream)) == [
        (1, 0, b'{"a": 1}'),
        (4, 1, b'{"a": 2}\r'),
        (5, 2, b'{"a": 3}'),
    ]


async def test_resumed_lines_are_skipped_but_keep_the_index_of_the_others() -> None:
    stream = io.BytesIO(b"{}\n{}\n\n{}\n{}\n")
    lines = InputLines(stream, skip=LineSet([1, 4]))
    assert [(line, index) for line, index, _ in await items(lines)] == [(2, 1), (5, 3)]
    assert lines.skipped == 2


async def test_a_line_longer_than_a_read_is_put_together() -> None:
    long = b'{"text": "' + b"x" * 200_000 + b'"}'
    found = await items(InputLines(io.BytesIO(long + b"\n{}\n")))
    assert [data for _, _, data in found] == [long, b"{}"]


async def test_a_pipe_is_read_as_lines_arrive_not_to_its_end() -> None:
    """The writer keeps the pipe open: each line is handed on without waiting for more."""
    read_fd, write_fd = os.pipe()
    with open(read_fd, "rb") as reader, open(write_fd, "wb", buffering=0) as writer:
        lines = InputLines(reader)
        with anyio.fail_after(10):
            writer.write(b'{"a": 1}\n')
            first = await lines.__anext__()
            writer.write(b'{"a": 2}\n')
            second = await lines.__anext__()
        assert (first.line, second.line) == (1, 2)
        assert not lines.exhausted


def test_count_items_counts_non_blank_lines_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"{}\n\n{}\n {} \n{}")
    assert count_items(str(path)) == 4
    assert count_items(str(path), LineSet([1, 5, 99])) == 2


def test_a_line_set_is_a_set_of_line_numbers() -> None:
    lines = LineSet([3, 3, 1_000_000])
    assert len(lines) == 2
    assert 3 in lines and 1_000_000 in lines
    assert 4 not in lines and 2_000_000 not in lines and -1 not in lines and "3" not in lines


async def test_a_line_over_the_size_limit_is_skipped_unread_and_fails_alone() -> None:
    """Only `MAX_TEXT_BYTES` of it are ever held; the lines after it are read as usual."""
    huge = b'{"text": "' + b"x" * (MAX_TEXT_BYTES + 10) + b'"}'
    stream = io.BytesIO(b'{"a": 1}\n' + huge + b'\n{"a": 2}\n' + huge)
    found = [item async for item in InputLines(stream)]
    assert [(item.line, item.index) for item in found] == [(1, 0), (2, 1), (3, 2), (4, 3)]
    assert (found[0].data, found[2].data) == (b'{"a": 1}', b'{"a": 2}')
    for item in (found[1], found[3]):
        assert isinstance(item.data, PipelineInputError)
        assert f"line {item.line} is {len(huge) // 2**20} MiB long" in str(item.data)


def test_count_items_reads_blocks_so_a_huge_line_is_one_item(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"{}\n" + b" " * 3_000_000 + b"\n" + b"x" * 3_000_000 + b"\n\n{}")
    assert count_items(str(path)) == 3
    assert count_items(str(path), LineSet([3])) == 2
