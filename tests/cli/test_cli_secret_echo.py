"""A resolved secret never shows, wherever it turns up: echoed by a server, logged, raised, output.

Every case runs the real CLI in a child process against a real HTTP server on 127.0.0.1 (the
OpenAI-compatible fake, told to echo the request's headers in its 401) through the real OpenAI
components, and looks for the key in everything the job wrote: stdout, stderr, `--output`.
Each case also checks the echo did happen (`Bearer ***`), so it cannot pass by not leaking
anything in the first place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.clirun import ragrun, write
from tests.fakes import CHAT, FakeOpenAIServer, Fault

KEY = "sk-echo-5f3a9c1e7b2d4a6f8e0c"
SPLIT_KEY = "sk-split-41c7 9e2b-d05f"  # the fake streams one word per chunk: two chunks
ASK = """
components:
  prompt:
    type: ChatPromptBuilder
    init_parameters:
      template: [{role: user, content: "Answer {{ question }}"}]
  llm:
    type: OpenAIChatGenerator
    init_parameters:
      model: gpt-4o-mini
      api_base_url: BASE_URL
      api_key: {type: env_var, env_vars: [RAGRUN_ECHO_KEY], strict: true}
      generation_kwargs: {stream: STREAM}
connections:
  - {sender: prompt.prompt, receiver: llm.messages}
"""
KEY_USER = """
components:
  use:
    type: tests.cli.batch_components.KeyUser
    init_parameters: {api_key: {type: env_var, env_vars: [RAGRUN_ECHO_KEY], strict: true}}
    executor: EXECUTOR
"""


def ask(tmp_path: Path, server: FakeOpenAIServer, *, stream: bool = False) -> Path:
    text = ASK.replace("BASE_URL", server.base_url).replace("STREAM", str(stream).lower())
    return write(tmp_path / "ask.yaml", text)


def everything(done, *files: Path) -> str:
    return done.stdout + done.stderr + "".join(f.read_text() for f in files if f.exists())


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param([], id="one-run-piped"),
        pytest.param(["--verbose"], id="one-run-verbose"),
        pytest.param(["--inputs", "-"], id="batch-to-stdout"),
        pytest.param(["--inputs", "-", "--output", "OUT"], id="batch-to-a-file"),
    ],
)
def test_a_key_echoed_in_a_401_is_redacted_from_events_and_messages(
    tmp_path: Path, fake_openai: FakeOpenAIServer, mode: list[str]
) -> None:
    fake_openai.control.fail_every(1, Fault.unauthorized(echo_headers=True), endpoint=CHAT)
    out = tmp_path / "out.jsonl"
    args = [str(out) if a == "OUT" else a for a in mode]
    batch = "--inputs" in mode
    done = ragrun(
        ask(tmp_path, fake_openai),
        *args,
        *([] if batch else ["-i", "question=why"]),
        stdin='{"question": "why"}\n{"question": "how"}\n' if batch else None,
        RAGRUN_ECHO_KEY=KEY,
    )
    assert done.returncode == 1, done.stderr
    seen = fake_openai.control.requests
    assert seen and all(r.authorization == f"Bearer {KEY}" for r in seen)  # the key was sent
    written = everything(done, out)
    assert KEY not in written
    assert "authorization: Bearer ***" in written  # ... and echoed back, then redacted
    assert "AuthenticationError" in done.stderr  # the human line on stderr is there too


def test_a_key_in_a_debug_traceback_is_redacted(tmp_path: Path) -> None:
    """With RAGRUN_DEBUG, a job that cannot start prints its traceback, chained causes and all."""
    text = KEY_USER.replace("EXECUTOR", "thread").replace(
        "strict: true}}", "strict: true}, fail_warm_up: true}"
    )
    pipeline = write(tmp_path / "use.yaml", text)
    done = ragrun(
        pipeline, "--inputs", "-", stdin='{"word": "ok"}\n', RAGRUN_ECHO_KEY=KEY, RAGRUN_DEBUG="1"
    )
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert KEY not in everything(done)
    assert "ConnectionRefusedError: cannot sign in with ***" in done.stderr


def test_a_key_streamed_back_across_chunks_is_redacted(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.control.reply = f"your key is {SPLIT_KEY} indeed"
    done = ragrun(
        ask(tmp_path, fake_openai, stream=True),
        "--verbose",
        "-i",
        "question=why",
        RAGRUN_ECHO_KEY=SPLIT_KEY,
    )
    assert done.returncode == 0, done.stderr
    found = [json.loads(line) for line in done.stdout.splitlines()]
    chunks = [e["content"] for e in found if e["event"] == "chunk"]
    assert "".join(chunks) == "your key is *** indeed"
    assert not any(part in chunk for chunk in chunks for part in SPLIT_KEY.split())
    assert found[-1]["outputs"]["llm"]["replies"][0]["text"] == "your key is *** indeed"
    assert "sk-split" not in done.stderr


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_key_logged_raised_and_output_by_a_component_is_redacted(
    tmp_path: Path, executor: str
) -> None:
    """In a process pool, the worker resolves the key: it redacts its error and log lines,
    and tells the driver the value, which then redacts the worker's outputs."""
    pipeline = write(tmp_path / "use.yaml", KEY_USER.replace("EXECUTOR", executor))
    out = tmp_path / "out.jsonl"
    stdin = '{"word": "ok"}\n{"word": "fail"}\n'
    done = ragrun(pipeline, "--inputs", "-", "--output", out, stdin=stdin, RAGRUN_ECHO_KEY=KEY)
    assert done.returncode == 1, done.stderr
    written = everything(done, out)
    assert KEY not in written
    assert "calling the service with key ***" in done.stderr  # the log line, redacted
    assert "the service refused key ***" in written  # the error, in the event and on stderr
    finished = [json.loads(x) for x in out.read_text().splitlines()]
    outputs = [e["outputs"] for e in finished if e["event"] == "run_finished"]
    assert outputs == [{"use": {"text": "ok with ***"}}]
