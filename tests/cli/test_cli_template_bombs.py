"""Template bombs through the real CLI: a bomb line fails alone while the others finish, and a
bomb in a YAML file is a located validation error, in milliseconds rather than forever."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.clirun import events, ragrun, write

# No `inputs:`, so (as in Haystack) run data may set the builder's `template` socket.
OPEN_PROMPT = """
components:
  prompt:
    type: PromptBuilder
    init_parameters: {template: "Say {{ word }}", required_variables: [word]}
"""
POWER_BOMB = "{{ 7 ** 123456789 }}"
LOOP_BOMB = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
GOOD = 20


def test_bomb_lines_fail_alone_while_twenty_good_lines_finish(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "prompt.yaml", OPEN_PROMPT)
    lines = [json.dumps({"word": f"w{n}"}) for n in range(GOOD)]
    lines.insert(3, json.dumps({"word": "x", "prompt": {"template": LOOP_BOMB}}))
    lines.insert(10, json.dumps({"word": "x", "prompt": {"template": POWER_BOMB}}))
    inputs = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")
    done = ragrun(pipeline, "--inputs", inputs, "--concurrency", "4")  # its timeout: a hang guard
    assert done.returncode == 1, done.stderr
    found = events(done.stdout)
    ends = [e for e in found if e["event"] in ("run_finished", "run_failed")]
    failed = {e["line"]: e["error"] for e in ends if e["event"] == "run_failed"}
    assert sorted(failed) == [4, 11]
    assert failed[4]["type"] == "TemplateTimeoutError"
    assert "would be an integer of about 246913578 bits" in failed[11]["message"]
    assert sum(e["event"] == "run_finished" for e in ends) == GOOD
    # The loop bomb renders in a worker thread for its two seconds: the loop runs the others
    # meanwhile, so every good line ends before it does.
    assert ends[-1]["line"] == 4
    assert f"{GOOD} ok, 2 failed (lines 4, 11)" in done.stderr


def test_validate_reports_a_bomb_in_a_yaml_template_located(tmp_path: Path) -> None:
    pipeline = write(
        tmp_path / "bomb.yaml",
        "components:\n"
        "  prompt:\n"
        "    type: PromptBuilder\n"
        f'    init_parameters: {{template: "Hi {{{{ name }}}}, {POWER_BOMB}"}}\n'
        "  router:\n"
        "    type: ConditionalRouter\n"
        "    init_parameters:\n"
        "      routes:\n"
        "        - {condition: \"{{ 'x' * 10**10 }}\", output: '{{ name }}', output_name: a,"
        " output_type: str}\n",
    )
    done = ragrun("validate", pipeline)  # its timeout is the hang guard
    assert done.returncode == 2
    assert f"{pipeline}:4:5: components.prompt.init_parameters: " in done.stderr
    assert "line 1 of the template: 7 ** 123456789 would be an integer" in done.stderr
    assert f"{pipeline}:7:5: components.router.init_parameters: " in done.stderr
    assert "repeating a str would build 10,000,000,000 characters" in done.stderr
    assert "internal error" not in done.stderr
