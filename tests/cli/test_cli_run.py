"""`ragrun run FILE` (and its short form `ragrun FILE`) in a child process, with output piped."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.clirun import CHAIN, SAMPLES, child_env, events, ragrun, write

ADD = f"""
components:
  add: {{type: {SAMPLES}.Add}}
"""

ECHO = f"""
components:
  echo: {{type: {SAMPLES}.Echo}}
  upper: {{type: {SAMPLES}.Upper}}
"""


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    return write(tmp_path / "chain.yaml", CHAIN)


def test_piped_output_is_json_lines_only_in_event_order(chain: Path) -> None:
    done = ragrun("run", chain, "-i", "question=why?", "-i", "text=abc")
    assert done.returncode == 0, done.stderr
    lines = events(done.stdout)
    assert [e["event"] for e in lines] == [
        "run_started",
        "component_finished",
        "component_finished",
        "run_finished",
    ]
    assert [e["component"] for e in lines[1:3]] == ["upper", "prompt"]
    assert len({e["run"] for e in lines}) == 1
    assert lines[-1]["outputs"] == {"prompt": {"prompt": "Q: why? / ABC!"}}
    assert done.stderr == ""


def test_file_alone_means_run(chain: Path) -> None:
    done = ragrun(chain, "-i", "question=q", "-i", "text=t")
    assert done.returncode == 0, done.stderr
    assert events(done.stdout)[-1]["outputs"] == {"prompt": {"prompt": "Q: q / T!"}}


@pytest.mark.parametrize(
    ("pipeline", "args", "expected"),
    [
        pytest.param(ADD, ["-i", "a=2", "-i", "b=3"], {"add": {"total": 5}}, id="json-numbers"),
        pytest.param(
            ECHO,
            ["-i", 'value={"k": [1, true, null]}', "-i", "text=x"],
            {"echo": {"value": {"k": [1, True, None]}}, "upper": {"text": "X!"}},
            id="json-object",
        ),
        pytest.param(
            ECHO,
            ["-i", "value=not json", "-i", "text=x"],
            {"echo": {"value": "not json"}, "upper": {"text": "X!"}},
            id="text-when-not-json",
        ),
        pytest.param(
            ECHO,
            ["-i", "value=42", "-i", "text=42"],
            {"echo": {"value": 42}, "upper": {"text": "42!"}},
            id="text-stays-text-for-str-socket",
        ),
        pytest.param(
            ECHO,
            ["-i", "value=1", "-i", 'text="quoted"'],
            {"echo": {"value": 1}, "upper": {"text": "QUOTED!"}},
            id="json-string-for-str-socket",
        ),
        pytest.param(
            ADD,
            ["--data", '{"a": 1, "b": 1}', "-i", "b=10"],
            {"add": {"total": 11}},
            id="data-then-i-overrides",
        ),
        pytest.param(ADD, ["-i", "add.a=4"], {"add": {"total": 4}}, id="component-dot-socket"),
    ],
)
def test_inputs_are_typed_from_json(
    tmp_path: Path, pipeline: str, args: list[str], expected: dict
) -> None:
    done = ragrun(write(tmp_path / "p.yaml", pipeline), *args)
    assert done.returncode == 0, done.stderr
    assert events(done.stdout)[-1]["outputs"] == expected


def test_data_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "add.yaml", ADD)
    data = write(tmp_path / "data.json", '{"a": 3, "b": 4}')
    from_file = ragrun(pipeline, "--data", f"@{data}")
    from_stdin = ragrun(pipeline, "--data", "@-", stdin='{"a": 5}')
    assert events(from_file.stdout)[-1]["outputs"] == {"add": {"total": 7}}
    assert events(from_stdin.stdout)[-1]["outputs"] == {"add": {"total": 5}}


def test_set_overrides_an_init_parameter(chain: Path) -> None:
    done = ragrun(chain, "--set", "upper.suffix=?", "-i", "question=q", "-i", "text=t")
    assert done.returncode == 0, done.stderr
    assert events(done.stdout)[-1]["outputs"] == {"prompt": {"prompt": "Q: q / T?"}}


def test_set_value_is_parsed_as_json(tmp_path: Path) -> None:
    pipeline = write(
        tmp_path / "split.yaml",
        "components:\n  splitter:\n    type: DocumentSplitter\n"
        "    init_parameters: {split_by: word, split_length: 100}\n",
    )
    docs = '{"documents": [{"content": "one two three four five"}]}'
    done = ragrun(pipeline, "--set", "splitter.split_length=2", "--data", docs)
    assert done.returncode == 0, done.stderr
    chunks = events(done.stdout)[-1]["outputs"]["splitter"]["documents"]
    assert [d["content"].strip() for d in chunks] == ["one two", "three four", "five"]


def test_missing_input_names_it_and_how_to_pass_it(chain: Path) -> None:
    done = ragrun(chain, "-i", "text=t")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "missing input 'question'" in done.stderr
    assert "-i question=VALUE" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_input_gets_a_did_you_mean(chain: Path) -> None:
    done = ragrun(chain, "-i", "questoin=q", "-i", "text=t")
    assert done.returncode == 2
    assert "Did you mean 'question'?" in done.stderr


def test_failed_run_exits_1_with_events_and_a_message(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "fail.yaml", f"components:\n  boom: {{type: {SAMPLES}.Fail}}\n")
    done = ragrun(pipeline, "-i", "text=x")
    assert done.returncode == 1
    last = events(done.stdout)[-1]
    assert last["event"] == "run_failed"
    assert last["component"] == "boom"
    assert last["error"] == {"type": "ValueError", "message": "cannot handle 'x'"}
    assert "failed in component 'boom': ValueError: cannot handle 'x'" in done.stderr
    assert "Traceback" not in done.stderr


def test_chunks_stream_as_events(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "words.yaml", f"components:\n  words: {{type: {SAMPLES}.Words}}\n")
    done = ragrun(pipeline, "-i", "text=a b c", "--verbose")
    assert done.returncode == 0, done.stderr
    kinds = [(e["event"], e.get("content")) for e in events(done.stdout)]
    assert kinds == [
        ("run_started", None),
        ("component_started", None),
        ("chunk", "a "),
        ("chunk", "b "),
        ("chunk", "c "),
        ("component_finished", None),
        ("run_finished", None),
    ]


def test_include_outputs_from(chain: Path) -> None:
    done = ragrun(chain, "--include-outputs-from", "upper", "-i", "question=q", "-i", "text=t")
    assert done.returncode == 0, done.stderr
    outputs = events(done.stdout)[-1]["outputs"]
    assert outputs == {"upper": {"text": "T!"}, "prompt": {"prompt": "Q: q / T!"}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["-i", "novalue"], "expected NAME=VALUE, found 'novalue'", id="i-no-equals"),
        pytest.param(["--data", "[1]"], "expected a JSON object, found list", id="data-not-object"),
        pytest.param(["--data", "{oops"], "--data is not valid JSON", id="data-not-json"),
        pytest.param(
            ["--data", '{"q": ' + "[" * 500 + "]" * 500 + "}"],
            "--data: JSON nested more than 100 levels deep",
            id="data-nested-too-deep",
        ),
        pytest.param(
            ["--data", "[" * 60_000 + "]" * 60_000],  # an argument holds 128 KiB at most
            "--data: JSON nested more than 100 levels deep",
            id="data-nested-past-the-stack",
        ),
        pytest.param(
            ["--data", '{"q": "\\ud800"}'], "holds a lone surrogate", id="data-lone-surrogate"
        ),
        pytest.param(
            ["-i", "deep=" + "[" * 5000 + "]" * 5000],
            "Error: -i deep: JSON nested more than 100 levels deep",
            id="i-nested-too-deep",
        ),
        pytest.param(
            ["-i", "n=" + "9" * 5000], "a number has more than 4300 digits", id="i-huge-number"
        ),
        pytest.param(["--set", "suffix=1"], "expected COMPONENT.PARAM=VALUE", id="set-no-dot"),
        pytest.param(
            ["--set", "uper.suffix=1"], "Did you mean 'upper'?", id="set-unknown-component"
        ),
        pytest.param(
            ["--include-outputs-from", "uper"],
            "no component named 'uper'. Did you mean 'upper'?",
            id="include-unknown-component",
        ),
        pytest.param(["--ordered"], "--ordered: only with --inputs", id="batch-option-alone"),
        pytest.param(["--concurrency", "0"], "0 is not in the range x>=1", id="concurrency-zero"),
    ],
)
def test_usage_mistakes_exit_2_without_traceback(
    chain: Path, args: list[str], message: str
) -> None:
    done = ragrun(chain, *args, "-i", "question=q", "-i", "text=t")
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_non_utf8_data_and_inputs_are_usage_errors(chain: Path, tmp_path: Path) -> None:
    latin1 = tmp_path / "data.json"
    latin1.write_bytes('{"question": "café"}'.encode("latin-1"))
    from_file = ragrun(chain, "--data", f"@{latin1}", "-i", "text=t")
    from_arg = ragrun(chain, "-i", b"question=caf\xe9", "-i", "text=t")
    assert (from_file.returncode, from_arg.returncode) == (2, 2)
    assert f"Error: --data @{latin1} is not valid UTF-8: byte 0xe9 at offset 17" in from_file.stderr
    assert "Error: -i question is not valid UTF-8 text" in from_arg.stderr
    for done in (from_file, from_arg):
        assert "internal error" not in done.stderr and done.stdout == ""


def test_invalid_pipeline_is_reported_located_with_exit_2(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "bad.yaml", f"components:\n  upper:\n    type: {SAMPLES}.Uper\n")
    done = ragrun(pipeline, "-i", "text=t")
    assert done.returncode == 2
    assert done.stderr.startswith(f"{pipeline}:3:5: components.upper.type: ")
    assert "Did you mean 'Upper'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_and_unknown_command(tmp_path: Path) -> None:
    missing = ragrun(tmp_path / "nope.yaml")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    typo = ragrun("validat")
    assert typo.returncode == 2
    assert "No such command 'validat'" in typo.stderr
    assert "validate" in typo.stderr


def test_internal_error_is_one_line_unless_debugging(tmp_path: Path) -> None:
    # A pipeline object whose stream() breaks stands in for a bug inside ragrun.
    module = write(
        tmp_path / "broken_engine.py",
        "import ragrun.pipeline\n"
        "def _broken(self, *a, **k):\n"
        "    raise RuntimeError('engine bug')\n"
        "ragrun.pipeline.Pipeline.stream = _broken\n"
        "from ragrun.cli import main\n"
        "raise SystemExit(main())\n",
    )
    pipeline = write(tmp_path / "add.yaml", ADD)

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(module), "run", str(pipeline), "-i", "a=1"]
        return subprocess.run(argv, capture_output=True, text=True, env=child_env(**env))

    quiet, debug = run(), run(RAGRUN_DEBUG="1")
    assert quiet.returncode == debug.returncode == 1
    assert "internal error: RuntimeError: engine bug" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    assert "RAGRUN_DEBUG=1" in quiet.stderr
    assert "Traceback" in debug.stderr


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "hang.yaml", f"components:\n  hang: {{type: {SAMPLES}.Hang}}\n")
    argv = [sys.executable, "-m", "ragrun", str(pipeline), "-i", "text=x"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        for line in child.stdout:  # the component is running once its chunk has arrived
            if json.loads(line)["event"] == "chunk":
                break
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=60)
        stderr = child.stderr.read()
    assert code == 130
    assert "ragrun: interrupted" in stderr
    assert "Traceback" not in stderr


def test_on_a_terminal_the_view_is_for_reading(chain: Path) -> None:
    controller, terminal = pty.openpty()
    argv = [sys.executable, "-m", "ragrun", str(chain), "-i", "question=q", "-i", "text=t"]
    with subprocess.Popen(
        argv, stdout=terminal, stderr=subprocess.PIPE, text=True, env=child_env()
    ) as child:
        os.close(terminal)
        shown = b""
        while True:
            try:
                piece = os.read(controller, 4096)
            except OSError:  # Linux: the child closed the terminal
                break
            if not piece:
                break
            shown += piece
        assert child.wait(timeout=60) == 0
    os.close(controller)
    text = shown.decode().replace("\r\n", "\n")
    assert "{" not in text  # no JSON lines
    assert "✓ upper  " in text and "✓ prompt  " in text
    assert text.endswith("prompt.prompt:\n  Q: q / T!\n")


def test_closed_stdout_ends_the_process_quietly(tmp_path: Path) -> None:
    # `ragrun ... | head -1`: the run is cancelled while a worker thread still streams chunks;
    # the process must end without a traceback and without waiting for that thread.
    pipeline = write(tmp_path / "words.yaml", f"components:\n  words: {{type: {SAMPLES}.Words}}\n")
    data = write(tmp_path / "data.json", json.dumps({"text": " ".join(["w"] * 300_000)}))
    argv = [sys.executable, "-m", "ragrun", str(pipeline), "--data", f"@{data}"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        assert json.loads(child.stdout.readline())["event"] == "run_started"
        child.stdout.close()
        code = child.wait(timeout=60)  # a safety net: failing here means the process hung
        stderr = child.stderr.read()
    assert code == 1
    assert "Traceback" not in stderr
