"""Loading an untrusted pipeline file: nothing is imported outside the module allowlist, and
nothing is built for a declaration that fails a check (issue 9, items 1 and 2).

The payloads run in child processes where it matters, so `sys.modules` and the working
directory show what a load really imported and created.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragrun import Pipeline, PipelineValidationError
from ragrun.allowlist import ENV_VAR, ModuleAllowlist, allowing, current, matches
from ragrun.loader import load_text
from ragrun.registry import ModuleNotAllowedError, UnknownTypeError, resolve
from tests.cli.clirun import child_env, ragrun
from tests.runner import untrusted_components as uc

ROOT = Path(__file__).resolve().parents[2]
U = "tests.runner.untrusted_components"

POPEN_UNDER_UNKNOWN_PARAMETER = """\
components:
  prompt:
    type: PromptBuilder
    init_parameters:
      template: "hi"
      nope: {type: subprocess.Popen, init_parameters: {args: [touch, pwned]}}
"""
POPEN_UNDER_ANY = f"""\
components:
  loose:
    type: {U}.Loose
    init_parameters:
      thing: {{type: subprocess.Popen, init_parameters: {{args: [touch, pwned]}}}}
"""
ZEN = """\
components:
  zen:
    type: this.Nope
"""


def _messages(text: str, **kwargs: object) -> str:
    with pytest.raises(PipelineValidationError) as caught:
        load_text(text, "p.yaml", **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


@pytest.fixture(autouse=True)
def _forget_what_was_built() -> None:
    uc.BUILT.clear()


# -- payloads in a child process: nothing created, nothing forbidden imported ----------------

_LOAD_AND_REPORT = """\
import json, sys
from ragrun import Pipeline, PipelineValidationError
try:
    Pipeline.load(sys.argv[1], unsafe=sys.argv[2] == "unsafe")
    outcome = "loaded"
except PipelineValidationError as exc:
    outcome = str(exc)
forbidden = [name for name in ("this", "subprocess") if name in sys.modules]
print(json.dumps({"outcome": outcome, "imported": forbidden}))
"""


@pytest.mark.parametrize(
    ("payload", "unsafe", "expected", "imported"),
    [
        pytest.param(
            POPEN_UNDER_UNKNOWN_PARAMETER,
            False,
            "unknown init parameter 'nope'",
            [],
            id="unknown",
        ),
        pytest.param(POPEN_UNDER_ANY, False, "refusing to import 'subprocess'", [], id="any-typed"),
        pytest.param(  # unsafe lets it import subprocess; the value-type rule still refuses
            POPEN_UNDER_ANY,
            True,
            "cannot be built inside init_parameters",
            ["subprocess"],
            id="any-typed-unsafe",
        ),
        pytest.param(ZEN, False, "refusing to import 'this'", [], id="module-not-allowed"),
    ],
)
def test_pipeline_load_of_a_payload_creates_nothing_and_imports_nothing_forbidden(
    tmp_path: Path, payload: str, unsafe: bool, expected: str, imported: list[str]
) -> None:
    pipeline = tmp_path / "payload.yaml"
    pipeline.write_text(payload)
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_REPORT, str(pipeline), "unsafe" if unsafe else "safe"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=child_env(),
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.splitlines()[-1])
    assert expected in report["outcome"]
    assert f"{pipeline}:" in report["outcome"]  # located
    assert report["imported"] == imported
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("command", ["validate", "graph"])
@pytest.mark.parametrize(
    "payload", [POPEN_UNDER_UNKNOWN_PARAMETER, POPEN_UNDER_ANY, ZEN], ids=["unknown", "any", "zen"]
)
def test_validate_and_graph_of_a_payload_create_nothing(
    tmp_path: Path, command: str, payload: str
) -> None:
    (tmp_path / "payload.yaml").write_text(payload)
    result = ragrun(command, "payload.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("payload.yaml:")
    assert "The Zen of Python" not in result.stdout + result.stderr  # `this` never ran
    assert not (tmp_path / "pwned").exists()


# -- item 1: nothing is built for a declaration that fails a check ---------------------------


def test_a_nested_declaration_is_not_built_when_its_parent_has_a_mistake() -> None:
    text = f"""\
components:
  holder:
    type: {U}.Holder
    init_parameters:
      store: {{type: {U}.Tracked, init_parameters: {{label: a}}}}
      count: many
"""
    assert "holder.init_parameters.count: expected int, found 'many' (str)" in _messages(text)
    assert uc.BUILT == []


def test_a_nested_declaration_that_does_not_fit_its_parameter_is_not_built() -> None:
    text = f"""\
components:
  holder:
    type: {U}.Holder
    init_parameters:
      store: {{type: {U}.OtherTracked, init_parameters: {{label: a}}}}
"""
    message = _messages(text)
    assert "p.yaml:5:15: components.holder.init_parameters.store.type: expected" in message
    assert "found a OtherTracked declaration" in message
    assert uc.BUILT == []


def test_a_nested_declaration_of_a_class_that_is_no_value_type_is_refused() -> None:
    text = f"""\
components:
  loose:
    type: {U}.Loose
    init_parameters:
      thing: {{type: {U}.Plain, init_parameters: {{}}}}
"""
    assert "'tests.runner.untrusted_components.Plain' (Plain) cannot be built" in _messages(text)
    assert uc.BUILT == []


def test_a_mistake_deep_inside_a_nested_declaration_builds_nothing() -> None:
    text = f"""\
components:
  holder:
    type: {U}.Holder
    init_parameters:
      store: {{type: {U}.Tracked, init_parameters: {{label: a, colour: red}}}}
"""
    assert "unknown init parameter 'colour' of Tracked" in _messages(text)
    assert uc.BUILT == []


def test_a_valid_declaration_builds_the_value_first_then_its_component() -> None:
    text = f"""\
components:
  holder:
    type: {U}.Holder
    init_parameters:
      store: {{type: {U}.Tracked, init_parameters: {{label: a}}}}
"""
    pipeline = load_text(text)
    assert uc.BUILT == ["Tracked(a)", "Holder"]
    assert pipeline.nodes["holder"].instance.store.label == "a"


def test_a_component_with_a_mistake_in_a_policy_key_is_checked_but_never_built() -> None:
    text = f"""\
components:
  holder:
    type: {U}.Holder
    init_parameters: {{store: {{type: {U}.Tracked, init_parameters: {{label: a}}}}}}
    retry: {{attempts: 0}}
"""
    assert "retry.attempts" in _messages(text)
    assert uc.BUILT == []


# -- item 2: the module allowlist ---------------------------------------------------------------


def test_a_refused_module_is_named_with_how_to_allow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR)
    message = _messages(f"components:\n  h:\n    type: {U}.Holder\n")
    assert message == (
        f"p.yaml:3:5: components.h.type: refusing to import '{U}' for type '{U}.Holder': "
        "the module is not on the allowlist of modules a pipeline file may import; if you "
        f"trust this file, allow the module with --allow-module {U} (command line), "
        f"{ENV_VAR}={U} (environment) or allowed_modules=['{U}'] (Python)"
    )


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"allowed_modules": ["tests.runner"]}, id="argument"),
        pytest.param({"allowed_modules": ["tests.*"]}, id="argument-star"),
        pytest.param({"unsafe": True}, id="unsafe"),
    ],
)
def test_the_python_api_allows_more_modules(
    monkeypatch: pytest.MonkeyPatch, how: dict[str, object]
) -> None:
    monkeypatch.delenv(ENV_VAR)
    text = f"components:\n  h:\n    type: {U}.Holder\n"
    pipeline = Pipeline.loads(text, **how)  # type: ignore[arg-type]
    assert list(pipeline.nodes) == ["h"]
    assert current() == ModuleAllowlist()  # widened for that load only


def test_the_environment_variable_allows_comma_separated_prefixes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VAR, " other , tests.runner.untrusted_components")
    assert list(load_text(f"components:\n  h:\n    type: {U}.Holder\n").nodes) == ["h"]


@pytest.mark.parametrize(
    ("module", "pattern", "allowed"),
    [
        ("tests", "tests", True),
        ("tests.runner.x", "tests", True),
        ("tests_evil", "tests", False),
        ("tests.runner", "tests.*", True),
        ("tests", "tests.*", True),
        ("test_plugin", "test_*", True),
        ("mypkg.sub", "mypkg.sub.deeper", False),
        ("anything.at.all", "*", True),
    ],
)
def test_patterns_are_module_prefixes_or_wildcards(
    module: str, pattern: str, allowed: bool
) -> None:
    assert matches(module, pattern) is allowed


def test_built_ins_haystack_and_entry_point_modules_are_allowed_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_VAR)
    allowlist = ModuleAllowlist()
    assert allowlist.allows("ragrun.components.builders.prompt_builder")
    assert allowlist.allows("haystack.components.builders")
    assert allowlist.allows("haystack_integrations.document_stores.pgvector")
    assert not allowlist.allows("ragrun.registry")  # the engine is not a place to import from
    assert not allowlist.allows("subprocess")


def test_allowing_widens_and_restores() -> None:
    with allowing(["a,b"]) as outer, allowing(["c"], unsafe=True) as inner:
        assert outer.patterns == ("a", "b")
        assert inner.patterns == ("a", "b", "c") and inner.unsafe
    assert current() == ModuleAllowlist()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param(f"{U}.os.PathLike", "'os' is a module that", id="through-a-module"),
        pytest.param(f"{U}.Path", "defined in the module 'pathlib'", id="re-exported-class"),
    ],
)
def test_an_allowed_module_cannot_hand_out_what_it_imported(path: str, message: str) -> None:
    with pytest.raises(UnknownTypeError) as caught:
        resolve(path)
    assert message in str(caught.value)


def test_nothing_is_imported_for_a_refused_module() -> None:
    code = textwrap.dedent(
        """\
        import sys
        from ragrun.registry import ModuleNotAllowedError, UnknownTypeError, resolve
        try:
            resolve("this.Nope")
        except ModuleNotAllowedError:
            pass
        print("this" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout == "False\n"
    with pytest.raises(ModuleNotAllowedError):
        resolve("this.Nope")


@pytest.mark.parametrize("command", ["validate", "graph"])
def test_the_cli_allows_modules_with_allow_module(tmp_path: Path, command: str) -> None:
    (tmp_path / "p.yaml").write_text(f"components:\n  h:\n    type: {U}.Holder\n")
    refused = ragrun(command, "p.yaml", cwd=tmp_path, **{ENV_VAR: ""})
    assert refused.returncode == 2
    assert "--allow-module tests.runner.untrusted_components" in refused.stderr
    allowed = ragrun(
        command, "p.yaml", "--allow-module", "tests.runner", cwd=tmp_path, **{ENV_VAR: ""}
    )
    assert allowed.returncode == 0, allowed.stderr


def test_run_allows_modules_with_allow_module_and_unsafe(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(f"components:\n  h:\n    type: {U}.Holder\n")
    for flags in (["--allow-module", "tests"], ["--unsafe"]):
        result = ragrun("run", "p.yaml", *flags, "-i", "text=hi", cwd=tmp_path, **{ENV_VAR: ""})
        assert result.returncode == 0, result.stderr
        assert '"text":"hi"' in result.stdout.replace(" ", "")
