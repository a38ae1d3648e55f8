"""Batch runs against the OpenAI-compatible test server while it injects 429s, 500s, stalls and
dropped connections: the engine's retry policy recovers every run, and nothing is lost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ragrun import Pipeline
from tests.fakes.control import Fault
from tests.fakes.openai_server import FakeOpenAIServer

YAML = """
components:
  prompt:
    type: ChatPromptBuilder
    init_parameters: {template: "Say {{ word }}"}
  llm:
    type: OpenAIChatGenerator
    init_parameters:
      model: gpt-4o-mini
      api_key: {type: env_var, env_vars: [OPENAI_API_KEY]}
      api_base_url: BASE_URL
      timeout: 0.5
    retry: {attempts: 6, initial_delay: 0.01, max_delay: 0.05}
connections:
  - {sender: prompt.prompt, receiver: llm.messages}
"""

FAULTS = [
    pytest.param(Fault.rate_limit(retry_after=0), id="429-with-retry-after"),
    pytest.param(Fault.server_error(500), id="500"),
    pytest.param(Fault.server_error(503), id="503"),
    pytest.param(Fault.stall(5.0), id="stall-past-the-timeout"),
    pytest.param(Fault.drop(), id="dropped-connection"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("fault", FAULTS)
async def test_injected_faults_are_retried_and_no_run_is_lost(
    fake_openai: FakeOpenAIServer, fault: Fault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    pipeline = Pipeline.loads(YAML.replace("BASE_URL", fake_openai.base_url))
    fake_openai.control.fail_every(3, fault, endpoint="/v1/chat/completions")
    events: list[Any] = []
    items = [{"word": f"w{i}"} for i in range(24)]
    results = [r async for r in pipeline.run_batch(items, concurrency=6, sink=events.append)]

    assert sorted(r.index for r in results) == list(range(24))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    replies = {r.index: r.outputs["llm"]["replies"][0].text for r in results}
    assert replies == {i: f"echo: Say w{i}" for i in range(24)}
    endings = Counter(e.index for e in events if e.event in ("run_finished", "run_failed"))
    assert endings == dict.fromkeys(range(24), 1)
    retried = [e for e in events if e.event == "component_failed"]
    assert retried and all(e.will_retry and e.component == "llm" for e in retried)
