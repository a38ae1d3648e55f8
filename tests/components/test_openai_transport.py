"""The async OpenAI client's HTTP transport: aiohttp when it can be, httpx otherwise.

Both transports must turn the same server faults into the same openai exceptions, since the
engine's retry policy decides on those; and an aiohttp session must be closed on its loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import openai
import pytest

from ragrun import ChatMessage, Pipeline, Secret
from ragrun.components.generators.openai import OpenAIChatGenerator
from ragrun.components.openai_client import TRANSPORT_VARIABLE
from tests.fakes import CHAT, FakeOpenAIServer, Fault

QUESTION = [ChatMessage.from_user("what is ragrun")]
TRANSPORTS = ["aiohttp", "httpx"]


def make(server: FakeOpenAIServer, **kwargs: Any) -> OpenAIChatGenerator:
    key = Secret.from_token("k")
    return OpenAIChatGenerator(api_key=key, api_base_url=server.base_url, **kwargs)


def transport_of(client: openai.AsyncOpenAI) -> str:
    """Which library carries the client's requests."""
    inner = type(client._client)  # the http client openai was given
    return "aiohttp" if "aiohttp" in f"{inner.__module__}.{inner.__name__}".lower() else "httpx"


@pytest.fixture(params=TRANSPORTS)
def transport(request, monkeypatch) -> str:
    monkeypatch.setenv(TRANSPORT_VARIABLE, request.param)
    return request.param


@pytest.mark.anyio
async def test_aiohttp_is_chosen_when_installed(fake_openai, monkeypatch) -> None:
    monkeypatch.delenv(TRANSPORT_VARIABLE, raising=False)
    generator = make(fake_openai)
    assert transport_of(await generator._clients.for_current_loop()) == "aiohttp"
    await generator.aclose()


@pytest.mark.anyio
async def test_httpx_when_forced_or_given_client_kwargs(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv(TRANSPORT_VARIABLE, "httpx")
    forced = make(fake_openai)
    assert transport_of(await forced._clients.for_current_loop()) == "httpx"
    monkeypatch.delenv(TRANSPORT_VARIABLE)
    tuned = make(fake_openai, http_client_kwargs={"headers": {"X-Team": "search"}})
    assert transport_of(await tuned._clients.for_current_loop()) == "httpx"
    await tuned.run_async(QUESTION)
    assert fake_openai.control.requests[-1].headers["x-team"] == "search"
    await forced.aclose()
    await tuned.aclose()


@pytest.mark.anyio
async def test_an_unknown_transport_is_a_clear_error(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv(TRANSPORT_VARIABLE, "curl")
    with pytest.raises(ValueError, match="auto, aiohttp or httpx"):
        await make(fake_openai).run_async(QUESTION)


@pytest.mark.anyio
async def test_replies_are_the_same_on_both(fake_openai, transport) -> None:
    generator = make(fake_openai)
    plain = await generator.run_async(QUESTION)
    streamed = await generator.run_async(QUESTION, generation_kwargs={"stream": True})
    assert plain["replies"][0].text == streamed["replies"][0].text == "echo: what is ragrun"
    assert transport_of(await generator._clients.for_current_loop()) == transport
    await generator.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(Fault.rate_limit(retry_after=3), openai.RateLimitError, id="429"),
        pytest.param(Fault.server_error(503), openai.InternalServerError, id="503"),
        pytest.param(Fault.drop(), openai.APIConnectionError, id="dropped"),
        pytest.param(Fault.stall(60), openai.APITimeoutError, id="timeout"),
    ],
)
async def test_faults_become_the_same_errors_on_both(fake_openai, transport, fault, error) -> None:
    fake_openai.control.fail_next(fault)
    generator = make(fake_openai, timeout=0.3)
    with pytest.raises(error) as info:
        await generator.run_async(QUESTION)
    if isinstance(info.value, openai.RateLimitError):
        assert info.value.response.headers["retry-after"] == "3"  # the retry policy reads it
    assert fake_openai.control.count(CHAT) == 1
    assert (await generator.run_async(QUESTION))["replies"]  # the next request goes through
    await generator.aclose()


@pytest.mark.anyio
async def test_a_dropped_stream_is_a_connection_error_on_both(fake_openai, transport) -> None:
    fake_openai.control.fail_next(Fault.drop(after_chunks=3))
    generator = make(fake_openai, generation_kwargs={"stream": True})
    with pytest.raises(openai.APIConnectionError):
        await generator.run_async(QUESTION)
    await generator.aclose()


@pytest.mark.anyio
async def test_cancelling_a_stream_closes_its_connection_on_both(fake_openai, transport) -> None:
    fake_openai.control.chunk_delay = 0.02
    first = anyio.Event()

    async def callback(chunk: Any) -> None:
        first.set()

    generator = make(fake_openai, streaming_callback=callback)
    async with anyio.create_task_group() as tg:
        tg.start_soon(generator.run_async, [ChatMessage.from_user("a " * 200)])
        await first.wait()
        tg.cancel_scope.cancel()
    assert await fake_openai.control.wait_idle_async(5.0)
    await generator.aclose()


def test_the_client_is_closed_when_its_loop_ends(fake_openai, transport) -> None:
    generator = make(fake_openai)
    clients: list[openai.AsyncOpenAI] = []

    async def ask() -> str:
        reply = await generator.run_async(QUESTION)
        clients.append(await generator._clients.for_current_loop())
        assert not clients[-1].is_closed()
        return reply["replies"][0].text

    # Each asyncio.run is a loop of its own, as each sync pipeline.run() is.
    assert asyncio.run(ask()) == asyncio.run(ask()) == "echo: what is ragrun"
    assert clients[0] is not clients[1]
    assert all(c.is_closed() for c in clients)


def test_pipeline_aclose_closes_the_client(fake_openai, transport) -> None:
    p = Pipeline()
    p.add_component("llm", make(fake_openai))

    async def run_and_close() -> openai.AsyncOpenAI:
        await p.run_async({"llm": {"messages": QUESTION}})
        client = await p.nodes["llm"].instance._clients.for_current_loop()
        await p.aclose()
        assert client.is_closed()
        # closed is not finished: the next run builds a new client
        assert (await p.run_async({"llm": {"messages": QUESTION}}))["llm"]["replies"]
        return client

    asyncio.run(run_and_close())


def test_loops_running_at_once_each_keep_their_own_open_client(fake_openai) -> None:
    import threading

    generator = make(fake_openai)
    both_built = threading.Barrier(2, timeout=30)  # a safety net, not a timing
    seen: dict[str, tuple[openai.AsyncOpenAI, bool]] = {}

    def in_thread(name: str) -> None:
        async def work() -> None:
            client = await generator._clients.for_current_loop()
            both_built.wait()  # the other thread's loop has built its client meanwhile
            reply = await generator.run_async(QUESTION)
            assert reply["replies"][0].text == "echo: what is ragrun"
            seen[name] = (client, client.is_closed())

        asyncio.run(work())

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a, a_closed), (b, b_closed) = seen["a"], seen["b"]
    assert a is not b and not a_closed and not b_closed  # neither closed the other's
    assert a.is_closed() and b.is_closed()  # each closed when its own loop ended


@pytest.mark.anyio
async def test_openai_without_its_aiohttp_extra_falls_back_to_httpx(
    fake_openai, monkeypatch
) -> None:
    class MissingExtra:  # what openai gives when aiohttp is there but its extra is not
        def __init__(self, **_: Any) -> None:
            raise RuntimeError("To use the aiohttp client you must have installed the extra")

    monkeypatch.setattr(openai, "DefaultAioHttpClient", MissingExtra)
    monkeypatch.delenv(TRANSPORT_VARIABLE, raising=False)
    generator = make(fake_openai)
    assert (await generator.run_async(QUESTION))["replies"]
    assert transport_of(await generator._clients.for_current_loop()) == "httpx"
    await generator.aclose()
    monkeypatch.setenv(TRANSPORT_VARIABLE, "aiohttp")
    with pytest.raises(RuntimeError, match="aiohttp"):
        await make(fake_openai).run_async(QUESTION)
