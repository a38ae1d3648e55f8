"""The --output file: appended per event, a cut last line removed, finished lines read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragrun.events import ErrorInfo, RunFailed, RunFinished
from ragrun.output_file import OutputFile, cut_partial_line, finished_lines


def finished(line: int, outputs: dict | None = None) -> RunFinished:
    return RunFinished(run=f"r{line}", t=0.5, index=line - 1, line=line, outputs=outputs or {})


def test_events_are_appended_and_flushed_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"event":"run_finished","run":"old","t":1.0,"line":9,"outputs":{}}\n')
    output = OutputFile(str(path))
    output(finished(1))
    assert len(path.read_text().splitlines()) == 2  # on disk before close
    output(
        RunFailed(run="r2", t=0.1, line=2, component=None, error=ErrorInfo(type="E", message=""))
    )
    output.close()
    assert [json.loads(x)["run"] for x in path.read_text().splitlines()] == ["old", "r1", "r2"]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param('{"a": 1}\n{"b": 2}\n', '{"a": 1}\n{"b": 2}\n', id="whole"),
        pytest.param('{"a": 1}\n{"b": ', '{"a": 1}\n', id="cut"),
        pytest.param('{"b": ', "", id="only-a-cut-line"),
        pytest.param("", "", id="empty"),
    ],
)
def test_a_last_line_cut_short_is_removed(tmp_path: Path, text: str, kept: str) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(text)
    assert cut_partial_line(str(path)) == len(text) - len(kept)
    assert path.read_text() == kept


def test_a_long_cut_line_is_found_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b"x" * 200_000)
    assert cut_partial_line(str(path)) == 200_000
    assert path.read_bytes() == b'{"a": 1}\n'


def test_finished_lines_come_from_run_finished_events_only(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    output = OutputFile(str(path))
    output(finished(1, {"c": {"text": '"line":77, "event":"run_finished"'}}))
    output(finished(3))
    output(
        RunFailed(run="r2", t=0.1, line=2, component=None, error=ErrorInfo(type="E", message=""))
    )
    output.close()
    with path.open("a") as file:
        file.write('{"line": 5, "event": "run_finished", "run": "other-writer", "t": 0}\n')
        file.write("not json, but run_finished\n")
        file.write('{"event":"run_finished","run":"cut","t":0.1,"index":5,"line":6,"outp')
    done = finished_lines(str(path))
    assert sorted(n for n in range(1, 100) if n in done) == [1, 3, 5]


def test_no_output_file_yet_means_nothing_finished(tmp_path: Path) -> None:
    assert len(finished_lines(str(tmp_path / "absent.jsonl"))) == 0
    assert cut_partial_line(str(tmp_path / "absent.jsonl")) == 0
