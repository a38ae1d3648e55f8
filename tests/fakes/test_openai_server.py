"""The fake OpenAI server, checked through the real `openai` client (and raw httpx)."""

from __future__ import annotations

import math

import anyio
import httpx
import openai
import pytest

from tests.fakes import CHAT, EMBEDDINGS, MODELS, FakeOpenAIServer, Fault
from tests.fakes.process import configure, spawn_server, stats

USER = [{"role": "user", "content": "what is ragrun"}]


@pytest.fixture
def client(fake_openai: FakeOpenAIServer) -> openai.OpenAI:
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# -- chat ------------------------------------------------------------------------------------


def test_chat_echoes_the_last_user_message_with_usage(client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "be brief"}, *USER]
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    choice = completion.choices[0]
    assert choice.message.content == "echo: what is ragrun"
    assert choice.finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 4


def test_chat_answers_the_canned_reply_and_n_choices(client, fake_openai) -> None:
    fake_openai.control.reply = "forty two"
    completion = client.chat.completions.create(model="m", messages=USER, n=3)
    assert [c.message.content for c in completion.choices] == ["forty two"] * 3
    assert [c.index for c in completion.choices] == [0, 1, 2]


def test_chat_cuts_the_reply_at_max_tokens(client) -> None:
    completion = client.chat.completions.create(model="m", messages=USER, max_tokens=2)
    assert completion.choices[0].message.content == "echo: what"
    assert completion.choices[0].finish_reason == "length"


def test_stream_sends_one_word_per_chunk_and_usage_when_asked(client) -> None:
    stream = client.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert contents == ["echo:", " what", " is", " ragrun"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 3 + 4


def test_stream_without_include_usage_has_no_usage(client) -> None:
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_without_messages_is_a_bad_request(client) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="m", messages=[])
    assert info.value.status_code == 400


# -- embeddings and models -------------------------------------------------------------------


def test_base64_and_float_encodings_give_the_same_unit_vectors(client, fake_openai) -> None:
    texts = ["the cat sat", "a dog ran"]
    as_base64 = client.embeddings.create(model="text-embedding-3-small", input=texts)
    as_float = client.embeddings.create(
        model="text-embedding-3-small", input=texts, encoding_format="float"
    )
    sent = [r.body["encoding_format"] for r in fake_openai.control.requests]
    assert sent == ["base64", "float"]  # the client asks for base64 unless told otherwise
    assert [d.embedding for d in as_base64.data] == [d.embedding for d in as_float.data]
    assert len(as_float.data[0].embedding) == 1536
    assert math.isclose(
        _cosine(as_float.data[0].embedding, as_float.data[0].embedding), 1.0, rel_tol=1e-5
    )
    assert as_float.usage.prompt_tokens == 6


def test_embeddings_are_deterministic_and_close_for_shared_words(client) -> None:
    def embed(text: str) -> list[float]:
        return client.embeddings.create(model="m", input=text, dimensions=256).data[0].embedding

    query = embed("how do I install ragrun")
    assert embed("how do I install ragrun") == query
    assert len(query) == 256
    related, unrelated = embed("install ragrun with pip"), embed("bananas are yellow")
    assert _cosine(query, related) > _cosine(query, unrelated)


def test_empty_embedding_input_is_a_bad_request(client) -> None:
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="m", input=[""])


def test_models_are_listed(client) -> None:
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]


def test_unknown_route_is_404(fake_openai) -> None:
    assert httpx.get(f"{fake_openai.base_url}/nothing").status_code == 404


# -- injected failures and counters ----------------------------------------------------------


def test_rate_limit_carries_retry_after(client, fake_openai) -> None:
    fake_openai.control.fail_next(Fault.rate_limit(retry_after=7))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "7"
    assert client.chat.completions.create(model="m", messages=USER).choices  # next one passes


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(client, fake_openai, status: int) -> None:
    fake_openai.control.fail_next(Fault.server_error(status))
    with pytest.raises(openai.InternalServerError) as info:
        client.embeddings.create(model="m", input="x")
    assert info.value.status_code == status


def test_an_unauthorized_echo_repeats_the_key_in_the_error(client, fake_openai) -> None:
    """The careless server the redaction tests need: the key comes back in the error text."""
    fake_openai.control.fail_next(Fault.unauthorized(echo_headers=True))
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert info.value.status_code == 401
    assert "authorization: Bearer sk-test" in str(info.value)
    assert info.value.body["request_headers"]["authorization"] == "Bearer sk-test"


def test_stall_longer_than_the_client_timeout_times_out(client, fake_openai) -> None:
    fake_openai.control.fail_next(Fault.stall(60))
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="m", messages=USER)


def test_dropped_connection_is_a_connection_error(client, fake_openai) -> None:
    fake_openai.control.fail_next(Fault.drop())
    with pytest.raises(openai.APIConnectionError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert not isinstance(info.value, openai.APITimeoutError)


def test_drop_in_the_middle_of_a_stream(client, fake_openai) -> None:
    fake_openai.control.fail_next(Fault.drop(after_chunks=2))
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="m", messages=USER, stream=True):
            received.append(chunk)
    assert len(received) == 2


def test_client_retries_are_counted_once_per_request(fake_openai) -> None:
    # Short Retry-After values keep the client's own backoff out of the test's time.
    fake_openai.control.fail_next(
        Fault.rate_limit(retry_after=0.01), Fault.server_error(503, retry_after=0.01)
    )
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=2) as c:
        c.chat.completions.create(model="m", messages=USER)
    assert fake_openai.control.count(CHAT) == 3


def test_faults_can_target_one_endpoint(client, fake_openai) -> None:
    fake_openai.control.fail_next(Fault.server_error(), endpoint=EMBEDDINGS)
    client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="m", input="x")


def test_fail_every_kth_request(client, fake_openai) -> None:
    fake_openai.control.fail_every(3, Fault.server_error())
    outcomes = []
    for _ in range(7):
        try:
            client.models.list()
            outcomes.append("ok")
        except openai.InternalServerError:
            outcomes.append("500")
    assert outcomes == ["ok", "ok", "500", "ok", "ok", "500", "ok"]
    assert fake_openai.control.count(MODELS) == 7
    assert fake_openai.control.count() == 7


def test_authorization_is_recorded_but_never_shown(client, fake_openai) -> None:
    client.models.list()
    request = fake_openai.control.requests[-1]
    assert request.authorization == "Bearer sk-test"
    assert "sk-test" not in repr(request)


@pytest.mark.anyio
async def test_held_requests_overlap_and_are_counted_in_flight(fake_openai) -> None:
    fake_openai.control.pause()
    fake_openai.control.latency = 0.01
    replies: list[str] = []
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0)

    async def ask(i: int) -> None:
        r = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": str(i)}]
        )
        replies.append(r.choices[0].message.content)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(ask, i)
        assert await fake_openai.control.wait_in_flight_async(50)
        assert replies == []
        fake_openai.control.resume()
    await client.close()
    assert sorted(replies) == sorted(f"echo: {i}" for i in range(50))
    assert fake_openai.control.peak_in_flight == 50
    assert fake_openai.control.in_flight == 0


# -- out of process --------------------------------------------------------------------------


def test_control_over_http(client, fake_openai) -> None:
    configure(fake_openai.base_url, reply="canned", fail_next=[Fault.rate_limit(3).to_dict()])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=USER)
    assert (
        client.chat.completions.create(model="m", messages=USER).choices[0].message.content
        == "canned"
    )
    assert stats(fake_openai.base_url)["counts"] == {CHAT: 2}


def test_reset_over_http_answers_at_once(fake_openai) -> None:
    fake_openai.control.latency = 5.0
    configure(fake_openai.base_url, reset=True)
    assert fake_openai.control.latency == 0.0


def test_server_in_a_child_process() -> None:
    with spawn_server(reply="from afar") as base_url:
        with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as c:
            reply = c.chat.completions.create(model="m", messages=USER)
        assert reply.choices[0].message.content == "from afar"
        assert stats(base_url)["counts"] == {CHAT: 1}


def test_a_stopped_server_refuses_connections() -> None:
    server = FakeOpenAIServer().start()
    url = server.base_url
    assert httpx.get(f"{url}/models").status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")
