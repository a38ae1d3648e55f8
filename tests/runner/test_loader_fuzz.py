"""A hypothesis property over the loader: whatever the text, loading it either gives a pipeline
or raises `PipelineValidationError` with every problem located, in bounded time.

Three kinds of input: YAML-ish token soup, a valid pipeline with random edits, and random
structures dumped as YAML into a pipeline's shape (so the declarations are exercised, not
only the parser). `RAGRUN_FUZZ_EXAMPLES` raises the number of examples of each (the suite
runs 150; docs/security.md records a longer run).
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ragrun.errors import PipelineValidationError
from ragrun.loader import load_text
from tests.invalid.malformed import VALID

EXAMPLES = int(os.environ.get("RAGRUN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),  # generous: only a hang (a bomb, a loop) trips it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("RAGRUN_FUZZ_RANDOM", "") == "",  # the suite: the same each run
    database=None,  # no .hypothesis folder in the checkout
)

TOKENS = [
    "components",
    "connections",
    "init_parameters",
    "type",
    "template",
    "metadata",
    "inputs",
    "outputs",
    "sender",
    "receiver",
    "max_runs_per_component",
    "PromptBuilder",
    "DocumentSplitter",
    "prompt.prompt",
    "tests.runner.sample_components.Upper",
    "this.Nope",
    "subprocess.Popen",
    "env_var",
    "env_vars",
    "x-d",
    ":",
    ": ",
    " ",
    "  ",
    "\n",
    "\n  ",
    "\n    ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a",
    "*a",
    "&b",
    "*b",
    "<<",
    "<<: *a",
    "? ",
    "!!str",
    "!!int",
    "!!float",
    "!!python/tuple",
    "!!omap",
    "!x",
    "%TAG ! x:\n---\n",
    "---",
    "...",
    "'",
    '"',
    "|",
    ">",
    "#",
    "${X}",
    "${RAGRUN_FUZZ_UNSET}",
    "$${",
    "~",
    "true",
    "null",
    "1e999",
    "0x1F",
    "0o17",
    "-.inf",
    "2024-13-45",
    "12:30:00",
    "\t",
    "\\",
    "\\x00",
    "@",
    "`",
    "%",
    "\x00",
    "\x1b",
    "\ufeff",
    "\u2028",
    "é",
    "9" * 50,
]
TYPES = [
    "PromptBuilder", "ChatPromptBuilder", "AnswerBuilder", "DocumentSplitter",
    "DocumentCleaner", "DocumentJoiner", "BranchJoiner",
    "tests.runner.sample_components.Upper", "tests.runner.sample_components.Template",
    "tests.runner.sample_components.Picky", "tests.runner.sample_components.Keyed",
    "tests.runner.untrusted_components.Holder", "tests.runner.untrusted_components.Loose",
    "tests.runner.untrusted_components.Tracked", "this.Nope", "subprocess.Popen", "nope",
]  # fmt: skip
KEYS = ["template", "split_by", "split_length", "suffix", "times", "limit", "store", "thing",
        "api_key", "type", "init_parameters", "env_vars", "strict", "count", "nope"]  # fmt: skip


def _assert_loads_or_is_located(text: str) -> None:
    try:
        load_text(text, "fuzz.yaml")
    except PipelineValidationError as exc:
        assert exc.problems
        assert exc.exit_code == 2
        unlocated = [p.render() for p in exc.problems if p.location is None]
        assert unlocated == []
        assert all(p.location is not None and p.location.file == "fuzz.yaml" for p in exc.problems)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_token_soup_loads_or_fails_located(text: str) -> None:
    _assert_loads_or_is_located(text)


_EDIT = st.tuples(
    st.integers(min_value=0, max_value=len(VALID)),
    st.integers(min_value=0, max_value=8),
    st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)),
)


@FUZZ
@given(st.lists(_EDIT, min_size=1, max_size=6))
@example(edits=[(1, 0, "!!str"), (30, 8, "!!str")])  # found by a long run: a `!!str` key
def test_a_valid_pipeline_with_random_edits_loads_or_fails_located(
    edits: list[tuple[int, int, str]],
) -> None:
    text = VALID
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut :]
    _assert_loads_or_is_located(text)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(TOKENS + TYPES),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
        st.fixed_dictionaries({"type": st.sampled_from(TYPES), "init_parameters": inner}),
        st.fixed_dictionaries(
            {"type": st.just("env_var"), "env_vars": inner, "strict": st.booleans()}
        ),
    ),
    max_leaves=25,
)
_COMPONENT = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={
        "init_parameters": st.dictionaries(st.sampled_from(KEYS), _VALUES, max_size=4),
        "timeout": _SCALARS,
        "retry": _VALUES,
    },
)
_PIPELINE = st.fixed_dictionaries(
    {"components": st.dictionaries(st.sampled_from(["a", "b", "c.d", "prompt"]), _COMPONENT)},
    optional={
        "connections": st.lists(
            st.fixed_dictionaries(
                {"sender": st.sampled_from(["a", "b.text", "prompt.prompt", "x.y"]),
                 "receiver": st.sampled_from(["a.text", "b", "prompt.question", "z"])}
            ),
            max_size=3,
        ),
        "max_runs_per_component": _SCALARS,
        "inputs": _VALUES,
        "metadata": _VALUES,
    },
)  # fmt: skip


def _yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.dump(data, stream)
    return stream.getvalue()


@FUZZ
@given(_PIPELINE)
def test_random_pipeline_structures_load_or_fail_located(data: dict[str, Any]) -> None:
    _assert_loads_or_is_located(_yaml(data))
