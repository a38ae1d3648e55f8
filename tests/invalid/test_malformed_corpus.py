"""The generated corpus of malformed files (`malformed.py`): each fails with exit 2, located.

Every file goes through the loader; the first files of each family also go through the real
CLI, `ragrun validate`, in one child process. A file "passes" when loading it raises
`PipelineValidationError` (exit code 2) and every problem names the file and a line and
column; any other exception, an unlocated problem or a file that loads is a failure.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from ragrun.errors import PipelineValidationError
from ragrun.loader import load_file
from tests.cli.clirun import ragrun
from tests.invalid.malformed import FAMILIES, corpus, write

CORPUS = corpus()
SAMPLE_PER_FAMILY = 3
SLOW = 10.0
"""Seconds one file may take: far more than any takes, so only a hang (a bomb) trips it."""


def test_the_corpus_covers_every_family_with_many_files() -> None:
    counts = Counter(item.family for item in CORPUS)
    assert set(counts) == set(FAMILIES)
    assert len(CORPUS) >= 500
    assert len({item.filename for item in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_malformed_file_is_a_located_validation_error(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAGRUN_CORPUS_UNSET", raising=False)
    failures = []
    for item in (i for i in CORPUS if i.family == family):
        path = tmp_path / item.filename
        path.write_bytes(item.data)
        started = time.monotonic()
        try:
            load_file(path)
        except PipelineValidationError as exc:
            unlocated = [p.render() for p in exc.problems if p.location is None]
            if exc.exit_code != 2 or not exc.problems or unlocated:
                failures.append(f"{item.filename}: not located: {unlocated or exc}")
            elif any(p.location.file != str(path) for p in exc.problems if p.location):
                failures.append(f"{item.filename}: a problem names another file")
        except Exception as exc:  # the bug this corpus hunts: anything but a located error
            failures.append(f"{item.filename}: {type(exc).__name__}: {exc}"[:300])
        else:
            failures.append(f"{item.filename}: loaded, but it is malformed")
        if time.monotonic() - started > SLOW:
            failures.append(f"{item.filename}: took more than {SLOW} s")
    assert failures == []


def test_a_sample_of_each_family_exits_2_located_through_the_cli(tmp_path: Path) -> None:
    write(tmp_path)  # every file, so a name in the output can be looked up
    seen: Counter[str] = Counter()
    sample = []
    for item in CORPUS:
        if seen[item.family] < SAMPLE_PER_FAMILY:
            seen[item.family] += 1
            sample.append(item.filename)
    result = ragrun("validate", *sample, cwd=tmp_path)
    assert result.returncode == 2
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    for name in sample:
        assert f"{name}: invalid —" in result.stderr, name
        located = re.search(rf"^{re.escape(name)}:\d+:\d+: ", result.stderr, re.MULTILINE)
        assert located, f"{name} has no FILE:LINE:COL line"
    assert result.stdout == ""
