"""The corpus of invalid pipelines: `NAME.yaml` fails with exactly the lines of `NAME.expected`.

Each file holds one kind of mistake (`several-mistakes.yaml` holds many, to check they are all
reported at once, sorted by position). The components are the test ones in
`tests/runner/sample_components.py`, named by dotted path, plus a few built-ins.
To add a case, write the YAML and its expected lines by hand; a message is part of the contract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ragrun.allowlist import ENV_VAR
from ragrun.errors import PipelineValidationError
from ragrun.loader import load_file, load_text

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*.yaml"))


def test_every_case_has_its_expected_messages() -> None:
    assert CASES
    assert {p.stem for p in CASES} == {p.stem for p in HERE.glob("*.expected")}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_invalid_pipeline_reports_exactly_the_expected_problems(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RAGRUN_TEST_UNSET_MODEL", "RAGRUN_TEST_UNSET_KEY", "RAGRUN_TEST_UNSET_TIMES"):
        monkeypatch.delenv(name, raising=False)
    # the test components, and a package that is allowed but not installed (unknown-module)
    monkeypatch.setenv(ENV_VAR, "tests,my_missing_package")
    with pytest.raises(PipelineValidationError) as caught:
        load_text(path.read_text(), source=path.name)
    expected = path.with_suffix(".expected").read_text().strip()
    assert str(caught.value) == expected
    assert caught.value.exit_code == 2
    assert caught.value.problems == sorted(caught.value.problems, key=lambda p: p.sort_key())


def test_load_file_names_the_file_it_read() -> None:
    path = HERE / "unknown-type.yaml"
    with pytest.raises(PipelineValidationError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path}:3:5: components.prompt.type: ")
