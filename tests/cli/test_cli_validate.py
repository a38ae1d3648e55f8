"""`ragrun validate FILE...`: a summary per valid file, every located mistake, light imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.clirun import CHAIN, SAMPLES, child_env, ragrun, write

HEAVY = ("torch", "sentence_transformers", "openai", "ray", "transformers")


LLM = """
inputs:
  question: [prompt.question]
outputs:
  answer: llm.replies
components:
  prompt:
    type: ChatPromptBuilder
    init_parameters:
      template: [{role: user, content: "{{ question }}"}]
  llm:
    type: OpenAIChatGenerator
    init_parameters:
      model: gpt-4o-mini
      api_key: {type: env_var, env_vars: [OPENAI_API_KEY], strict: true}
connections:
  - {sender: prompt.prompt, receiver: llm.messages}
"""

BAD = f"""
components:
  extra:
    type: {SAMPLES}.Upper
    init_parameters: {{sufix: "?"}}
  upper:
    type: {SAMPLES}.Upper
  prompt:
    type: PromptBuilder
    init_parameters: {{template: "{{{{ text }}}}"}}
connections:
  - {{sender: upper.txt, receiver: prompt.text}}
"""


def test_valid_file_prints_counts_and_the_inputs_a_run_needs(tmp_path: Path) -> None:
    done = ragrun("validate", write(tmp_path / "chain.yaml", CHAIN))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"{tmp_path / 'chain.yaml'}: ok — 2 components, 1 connection; "
        "inputs: text (str), question (Any)\n"
    )


def test_declared_inputs_are_listed_by_their_public_name(tmp_path: Path) -> None:
    done = ragrun("validate", write(tmp_path / "llm.yaml", LLM))
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("2 components, 1 connection; inputs: question (Any)\n")


def test_every_mistake_is_located_and_there_is_no_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", BAD)
    done = ragrun("validate", bad)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    # The exact columns and wording belong to the loader's tests; here: located, in order.
    assert re.match(rf"{re.escape(str(bad))}:5:\d+: components\.extra\.init_parameters: ", lines[0])
    assert "Did you mean 'suffix'?" in lines[0]
    assert re.match(rf"{re.escape(str(bad))}:12:\d+: connections\[0\]\.sender: ", lines[1])
    assert "'upper.txt' is not an output of 'upper'" in lines[1]
    assert lines[2:] == [f"{bad}: invalid — 2 problems"]
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_several_files_are_all_checked_and_any_error_exits_2(tmp_path: Path) -> None:
    good, bad = write(tmp_path / "good.yaml", CHAIN), write(tmp_path / "bad.yaml", BAD)
    done = ragrun("validate", bad, good)
    assert done.returncode == 2
    assert done.stdout.startswith(f"{good}: ok")
    assert f"{bad}: invalid — 2 problems" in done.stderr


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.yaml", "components:\n  a: [unclosed\n")
    done = ragrun("validate", broken)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{broken}:")
    assert "Traceback" not in done.stderr


def test_validate_loads_no_heavy_library(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "llm.yaml", LLM)
    code = (
        "import json, sys\n"
        "from ragrun.cli import main\n"
        f"code = main(['validate', {str(pipeline)!r}])\n"
        f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    env = child_env()
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [0, []]
