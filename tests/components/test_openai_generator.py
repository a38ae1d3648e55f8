"""OpenAIChatGenerator against the fake OpenAI server, through the real `openai` client."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import anyio
import openai
import pytest

from ragrun import ChatMessage, ChatRole, Secret, StreamingChunk
from ragrun.allowlist import allowing
from ragrun.components.generators import openai as generator_module
from ragrun.components.generators.openai import OpenAIChatGenerator
from ragrun.components.openai_client import PLACEHOLDER_KEY, MissingAPIKeyError
from tests.fakes import CHAT, FakeOpenAIServer, Fault
from tests.runner.sample_components import shout

KEY = "sk-test-do-not-print"
QUESTION = [ChatMessage.from_user("what is ragrun")]


def make(server: FakeOpenAIServer, **kwargs: Any) -> OpenAIChatGenerator:
    kwargs.setdefault("api_key", Secret.from_token(KEY))
    return OpenAIChatGenerator(api_base_url=server.base_url, **kwargs)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[StreamingChunk]:
    """Chunks the generator hands to `ragrun.streaming.emit_chunk`."""
    chunks: list[StreamingChunk] = []
    monkeypatch.setattr(generator_module, "emit_chunk", chunks.append)
    return chunks


# -- construction and keys -------------------------------------------------------------------


def test_construction_needs_no_key_and_warm_up_names_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    generator = OpenAIChatGenerator()  # cheap: the loader builds components while validating
    with pytest.raises(MissingAPIKeyError) as info:
        generator.warm_up()
    message = str(info.value)
    assert "OPENAI_API_KEY" in message
    assert "OPENAI_BASE_URL" in message and "Ollama" in message


def test_run_without_key_raises_the_same_error(monkeypatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    generator = OpenAIChatGenerator(api_key=Secret.from_env_var("MY_KEY"))
    with pytest.raises(MissingAPIKeyError, match="MY_KEY"):
        generator.run(QUESTION)


def test_the_key_never_shows_in_repr_or_str(fake_openai) -> None:
    generator = make(fake_openai)
    generator.warm_up()
    assert KEY not in repr(generator) and KEY not in str(generator)
    assert "gpt-4o-mini" in repr(generator)


def test_key_is_sent_as_bearer_token(fake_openai) -> None:
    make(fake_openai).run(QUESTION)
    assert fake_openai.control.requests[-1].authorization == f"Bearer {KEY}"


def test_non_strict_unset_key_sends_a_placeholder(fake_openai, monkeypatch) -> None:
    monkeypatch.delenv("LOCAL_KEY", raising=False)
    secret = Secret.from_env_var("LOCAL_KEY", strict=False)
    make(fake_openai, api_key=secret).run(QUESTION)
    assert fake_openai.control.requests[-1].authorization == f"Bearer {PLACEHOLDER_KEY}"


def test_tools_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="tools are not supported"):
        OpenAIChatGenerator(tools=[{"type": "function"}])


# -- replies ---------------------------------------------------------------------------------


def test_run_returns_the_reply_with_meta(fake_openai) -> None:
    result = make(fake_openai).run([ChatMessage.from_system("be brief"), *QUESTION])
    (reply,) = result["replies"]
    assert reply.role is ChatRole.ASSISTANT
    assert reply.text == "echo: what is ragrun"
    assert reply.meta["model"] == "gpt-4o-mini"
    assert reply.meta["finish_reason"] == "stop"
    assert reply.meta["index"] == 0
    assert reply.meta["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    body = fake_openai.control.requests[-1].body
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert "stream" not in body


def test_a_string_is_one_user_message(fake_openai) -> None:
    assert make(fake_openai).run("hello")["replies"][0].text == "echo: hello"


def test_no_messages_means_no_request(fake_openai) -> None:
    assert make(fake_openai).run([]) == {"replies": []}
    assert fake_openai.control.count() == 0


def test_run_generation_kwargs_override_init_ones_key_by_key(fake_openai) -> None:
    generator = make(fake_openai, generation_kwargs={"temperature": 0.5, "max_tokens": 50})
    generator.run(QUESTION, generation_kwargs={"max_tokens": 2, "n": 2})
    body = fake_openai.control.requests[-1].body
    assert (body["temperature"], body["max_tokens"], body["n"]) == (0.5, 2, 2)


def test_several_choices_and_a_cut_reply_warns(fake_openai, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        replies = make(fake_openai).run(QUESTION, generation_kwargs={"n": 2, "max_tokens": 2})
    assert [r.text for r in replies["replies"]] == ["echo: what"] * 2
    assert [r.meta["finish_reason"] for r in replies["replies"]] == ["length"] * 2
    assert "max_completion_tokens" in caplog.text


def test_base_url_falls_back_to_the_environment(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    generator = OpenAIChatGenerator(api_key=Secret.from_token(KEY))
    assert generator.run(QUESTION)["replies"][0].text == "echo: what is ragrun"


# -- streaming -------------------------------------------------------------------------------


def test_streaming_callback_gets_each_token_and_the_run_each_chunk(fake_openai, emitted) -> None:
    seen: list[str] = []
    generator = make(fake_openai, streaming_callback=lambda c: seen.append(c.content))
    (reply,) = generator.run(QUESTION)["replies"]
    assert seen == ["echo:", " what", " is", " ragrun"]
    assert [c.content for c in emitted] == seen
    assert reply.text == "echo: what is ragrun"
    assert reply.meta["finish_reason"] == "stop"
    assert reply.meta["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    body = fake_openai.control.requests[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_true_in_generation_kwargs_streams_without_a_callback(fake_openai, emitted) -> None:
    generator = make(fake_openai, generation_kwargs={"stream": True})
    (reply,) = generator.run("a b c")["replies"]
    assert "".join(c.content for c in emitted) == reply.text == "echo: a b c"


def test_streaming_callback_from_a_dotted_path(fake_openai, emitted) -> None:
    with allowing(["tests.runner"]):  # a dotted path names a function of an allowed module
        generator = make(fake_openai, streaming_callback="tests.runner.sample_components.shout")
    generator.warm_up()
    assert generator.streaming_callback is shout


def test_streaming_callback_from_a_module_that_is_not_allowed_is_refused(fake_openai) -> None:
    generator = make(fake_openai, streaming_callback="os.system")
    with pytest.raises(ValueError, match="refusing to import 'os' for streaming_callback"):
        generator.warm_up()


def test_streaming_refuses_several_choices(fake_openai) -> None:
    generator = make(fake_openai, generation_kwargs={"stream": True, "n": 2})
    with pytest.raises(ValueError, match="n to 1"):
        generator.run(QUESTION)


def test_sync_run_refuses_an_async_callback(fake_openai) -> None:
    async def callback(chunk: StreamingChunk) -> None:
        pass

    with pytest.raises(TypeError, match="run_async"):
        make(fake_openai).run(QUESTION, streaming_callback=callback)


# -- async -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_run_async_returns_the_same_reply(fake_openai) -> None:
    generator = make(fake_openai)
    await generator.warm_up_async()
    result = await generator.run_async(QUESTION)
    assert result["replies"][0].text == "echo: what is ragrun"
    assert result["replies"][0].meta["usage"]["total_tokens"] == 7
    await generator.aclose()


@pytest.mark.anyio
async def test_run_async_streams_to_an_async_callback(fake_openai, emitted) -> None:
    seen: list[str] = []

    async def callback(chunk: StreamingChunk) -> None:
        seen.append(chunk.content)

    result = await make(fake_openai).run_async(QUESTION, streaming_callback=callback)
    assert seen == [c.content for c in emitted] == ["echo:", " what", " is", " ragrun"]
    assert result["replies"][0].text == "echo: what is ragrun"


def test_run_async_works_on_a_new_event_loop_each_time(fake_openai) -> None:
    generator = make(fake_openai)

    async def ask() -> str:
        return (await generator.run_async(QUESTION))["replies"][0].text

    # A sync pipeline.run() starts a fresh loop per call; the client must follow it.
    assert anyio.run(ask) == anyio.run(ask) == "echo: what is ragrun"


# -- errors reach the engine unchanged, after exactly one request ----------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(Fault.rate_limit(retry_after=3), openai.RateLimitError, id="429"),
        pytest.param(Fault.server_error(500), openai.InternalServerError, id="500"),
        pytest.param(Fault.server_error(503), openai.InternalServerError, id="503"),
        pytest.param(Fault.drop(), openai.APIConnectionError, id="dropped"),
        pytest.param(Fault.stall(60), openai.APITimeoutError, id="timeout"),
    ],
)
def test_errors_propagate_unchanged_without_client_retries(fake_openai, fault, error) -> None:
    fake_openai.control.fail_next(fault)
    with pytest.raises(error) as info:
        make(fake_openai, timeout=0.3).run(QUESTION)
    if isinstance(info.value, openai.RateLimitError):
        assert info.value.status_code == 429
        assert info.value.response.headers["retry-after"] == "3"
    assert fake_openai.control.count(CHAT) == 1


@pytest.mark.anyio
async def test_async_errors_propagate_unchanged(fake_openai) -> None:
    fake_openai.control.fail_next(Fault.rate_limit(retry_after=2))
    with pytest.raises(openai.RateLimitError) as info:
        await make(fake_openai).run_async(QUESTION)
    assert info.value.response.headers["retry-after"] == "2"
    assert fake_openai.control.count(CHAT) == 1


def test_a_dropped_stream_raises_a_connection_error(fake_openai, emitted) -> None:
    fake_openai.control.fail_next(Fault.drop(after_chunks=3))
    with pytest.raises(openai.APIConnectionError):
        make(fake_openai, generation_kwargs={"stream": True}).run(QUESTION)
    assert [c.content for c in emitted] == ["echo:", " what"]


def test_max_retries_turns_client_retries_back_on(fake_openai, monkeypatch) -> None:
    fake_openai.control.fail_next(Fault.server_error(503, retry_after=0.01))
    assert make(fake_openai, max_retries=1).run(QUESTION)["replies"]
    assert fake_openai.control.count(CHAT) == 2
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "1")
    fake_openai.control.fail_next(Fault.server_error(503, retry_after=0.01))
    assert make(fake_openai).run(QUESTION)["replies"]
    assert fake_openai.control.count(CHAT) == 4


def test_organization_and_http_client_kwargs_reach_the_request(fake_openai) -> None:
    generator = make(
        fake_openai, organization="org-42", http_client_kwargs={"headers": {"X-Team": "search"}}
    )
    generator.run(QUESTION)
    generator.close()
    headers = fake_openai.control.requests[-1].headers
    assert headers["openai-organization"] == "org-42"
    assert headers["x-team"] == "search"


def test_importing_the_components_loads_no_openai() -> None:
    code = (
        "import sys, ragrun.components.generators.openai, ragrun.components.embedders.openai;"
        "print('openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
