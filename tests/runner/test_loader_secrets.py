"""Secrets in a pipeline file: no load message and no `dumps()` ever shows a secret's value
(issue 9, item 6 (b) and (c)), and values filled from the environment are not echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragrun import Pipeline, PipelineValidationError, Secret, component
from ragrun.dump import DumpError
from ragrun.loader import load_text
from tests.cli.clirun import ragrun

KEY = "sk-test-0123456789abcdef"
S = "tests.runner.sample_components"
U = "tests.runner.untrusted_components"


@pytest.fixture(autouse=True)
def _a_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGRUN_TEST_API_KEY", KEY)


def _keyed(api_key: str) -> str:
    return _one("keyed", f"{S}.Keyed", f"\n      api_key: {api_key}")


def _one(name: str, type_: str, params: str) -> str:
    return f"components:\n  {name}:\n    type: {type_}\n    init_parameters:{params}\n"


def _message(text: str) -> str:
    with pytest.raises(PipelineValidationError) as caught:
        load_text(text, "p.yaml")
    message = str(caught.value)
    assert KEY not in message
    return message


def test_a_reference_in_env_vars_is_refused_without_filling_it() -> None:
    message = _message(_keyed('{type: env_var, env_vars: ["${RAGRUN_TEST_API_KEY}"]}'))
    assert message == (
        "p.yaml:5:43: components.keyed.init_parameters.api_key.env_vars[0]: env_vars lists the "
        "names of variables, not references: write RAGRUN_TEST_API_KEY, not "
        "${RAGRUN_TEST_API_KEY} (a reference would put the secret's value where its name belongs)"
    )


def test_a_reference_in_env_vars_is_refused_even_when_the_variable_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAGRUN_TEST_API_KEY")
    message = _message(_keyed('{type: env_var, env_vars: ["${RAGRUN_TEST_API_KEY}"]}'))
    assert "env_vars lists the names of variables" in message
    assert "is not set" not in message  # a secret mapping is never filled


def test_an_extra_key_in_a_secret_is_named_and_its_value_never_shown() -> None:
    message = _message(_keyed(f"{{type: env_var, env_vars: [RAGRUN_TEST_API_KEY], value: {KEY}}}"))
    assert message.startswith(
        "p.yaml:5:65: components.keyed.init_parameters.api_key.value: unknown key 'value' in a "
        "secret (its value is not shown)"
    )


def test_a_pasted_value_in_env_vars_is_not_shown() -> None:
    message = _message(_keyed(f"{{type: env_var, env_vars: [{KEY}]}}"))
    assert "expected the name of an environment variable" in message


@pytest.mark.parametrize(
    ("value", "found"),
    [
        pytest.param(
            '"${RAGRUN_TEST_API_KEY}"',
            "a value filled from '${RAGRUN_TEST_API_KEY}' (not shown)",
            id="reference",
        ),
        pytest.param(KEY, "a value written inline (not shown)", id="inline"),
    ],
)
def test_a_plain_string_where_a_secret_is_expected_is_a_load_error(value: str, found: str) -> None:
    message = _message(_keyed(value))
    name = "RAGRUN_TEST_API_KEY" if "${" in value else "NAME"
    assert message == (
        f"p.yaml:5:7: components.keyed.init_parameters.api_key: expected a secret "
        f"{{type: env_var, env_vars: [{name}]}}, found {found}: a secret is read from the "
        "environment when it is needed, never written into the pipeline; write "
        f"api_key: {{type: env_var, env_vars: [{name}]}}"
    )


def test_a_filled_value_of_the_wrong_type_is_shown_as_its_reference() -> None:
    text = _one("u", f"{S}.Upper", " {times: '${RAGRUN_TEST_API_KEY}'}")
    assert _message(text).endswith(
        "components.u.init_parameters.times: expected int, found '${RAGRUN_TEST_API_KEY}' "
        "(from the environment; its value is not shown)"
    )


def test_a_constructor_quoting_a_filled_secret_is_redacted() -> None:
    text = _one("e", f"{U}.Echoing", " {url: 'https://u:${RAGRUN_TEST_API_KEY}@h'}")
    assert _message(text).endswith(
        "Echoing rejected its init parameters: ValueError: cannot connect to "
        "https://u:${RAGRUN_TEST_API_KEY}@h"
    )


def test_validate_never_prints_the_value(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(_keyed('"${RAGRUN_TEST_API_KEY}"'))
    result = ragrun("validate", "p.yaml", cwd=tmp_path, RAGRUN_TEST_API_KEY=KEY)
    assert result.returncode == 2
    assert result.stderr.startswith("p.yaml:5:7: components.keyed.init_parameters.api_key: ")
    assert KEY not in result.stdout + result.stderr


# -- dumps ----------------------------------------------------------------------------------------


@component
class TakesAKey:
    def __init__(self, api_key: Secret | None = None) -> None:
        self.api_key = api_key

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, str]:
        return {"text": text}


def test_dumps_refuses_a_plain_value_where_a_secret_is_expected() -> None:
    pipeline = Pipeline()
    pipeline.add_component("k", TakesAKey(api_key=KEY))  # type: ignore[arg-type]
    with pytest.raises(DumpError) as caught:
        pipeline.dumps()
    assert "components.k.init_parameters.api_key: holds a plain value" in str(caught.value)
    assert KEY not in str(caught.value)


def test_dumps_writes_a_filled_secret_back_as_its_reference() -> None:
    pipeline = load_text(_one("u", f"{S}.Upper", " {suffix: ' key=${RAGRUN_TEST_API_KEY}'}"))
    assert pipeline.nodes["u"].instance.suffix == f" key={KEY}"
    written = pipeline.dumps()
    assert KEY not in written
    assert "suffix: ' key=${RAGRUN_TEST_API_KEY}'" in written
    assert Pipeline.loads(written).nodes["u"].instance.suffix == f" key={KEY}"
