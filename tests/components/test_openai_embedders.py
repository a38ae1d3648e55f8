"""OpenAITextEmbedder and OpenAIDocumentEmbedder against the fake OpenAI server."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ragrun import Document, Secret
from ragrun.components.embedders.openai import OpenAIDocumentEmbedder, OpenAITextEmbedder
from ragrun.components.openai_client import MissingAPIKeyError
from tests.fakes import EMBEDDINGS, FakeOpenAIServer, Fault
from tests.fakes.openai_replies import embedding_vector

KEY = "sk-embed-test-secret"


def expected(text: str, dimensions: int = 1536) -> list[float]:
    """What the fake server computes for `text` (float32 values, as the client decodes them)."""
    return embedding_vector(text, dimensions).tolist()


def text_embedder(server: FakeOpenAIServer, **kwargs: Any) -> OpenAITextEmbedder:
    return OpenAITextEmbedder(
        api_key=Secret.from_token(KEY), api_base_url=server.base_url, **kwargs
    )


def doc_embedder(server: FakeOpenAIServer, **kwargs: Any) -> OpenAIDocumentEmbedder:
    return OpenAIDocumentEmbedder(
        api_key=Secret.from_token(KEY), api_base_url=server.base_url, **kwargs
    )


def corpus(n: int) -> list[Document]:
    return [Document(content=f"document number {i}", meta={"title": f"T{i}"}) for i in range(n)]


# -- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [OpenAITextEmbedder, OpenAIDocumentEmbedder])
def test_missing_key_is_reported_at_warm_up_not_construction(cls, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = cls()
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY") as info:
        embedder.warm_up()
    assert cls.__name__ in str(info.value)


@pytest.mark.parametrize("make", [text_embedder, doc_embedder])
def test_the_key_never_shows_in_repr(make, fake_openai) -> None:
    embedder = make(fake_openai)
    embedder.warm_up()
    assert KEY not in repr(embedder) and KEY not in str(embedder)


# -- text embedder ---------------------------------------------------------------------------


def test_text_embedding_with_prefix_and_suffix(fake_openai) -> None:
    embedder = text_embedder(fake_openai, prefix="query: ", suffix=" ?")
    result = embedder.run("how to install")
    assert result["embedding"] == expected("query: how to install ?")
    assert result["meta"] == {
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},  # query how to install
    }
    body = fake_openai.control.requests[-1].body
    assert body["input"] == ["query: how to install ?"]
    assert body["encoding_format"] == "base64"  # decoded to floats by the client


def test_text_embedding_dimensions(fake_openai) -> None:
    result = text_embedder(fake_openai, dimensions=64).run("short")
    assert result["embedding"] == expected("short", 64)
    assert fake_openai.control.requests[-1].body["dimensions"] == 64


def test_text_embedder_refuses_documents(fake_openai) -> None:
    with pytest.raises(TypeError, match="OpenAIDocumentEmbedder"):
        text_embedder(fake_openai).run([Document(content="x")])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_text_embedding_async(fake_openai) -> None:
    embedder = text_embedder(fake_openai)
    await embedder.warm_up_async()
    assert (await embedder.run_async("hello"))["embedding"] == expected("hello")
    await embedder.aclose()


def test_text_embedder_errors_propagate_after_one_request(fake_openai) -> None:
    fake_openai.control.fail_next(Fault.rate_limit(retry_after=5))
    with pytest.raises(openai.RateLimitError) as info:
        text_embedder(fake_openai).run("x")
    assert info.value.response.headers["retry-after"] == "5"
    assert fake_openai.control.count(EMBEDDINGS) == 1


# -- document embedder -----------------------------------------------------------------------


def test_documents_are_embedded_in_batches_as_new_documents(fake_openai) -> None:
    docs = corpus(5)
    result = doc_embedder(fake_openai, batch_size=2).run(docs)
    out = result["documents"]
    assert [d.embedding for d in out] == [expected(d.content) for d in docs]
    assert [d.id for d in out] == [d.id for d in docs]
    assert [d.meta for d in out] == [d.meta for d in docs]
    assert all(
        new is not old and new.meta is not old.meta for new, old in zip(out, docs, strict=True)
    )
    assert all(d.embedding is None for d in docs)  # inputs untouched
    sizes = [len(r.body["input"]) for r in fake_openai.control.requests]
    assert sizes == [2, 2, 1]
    assert result["meta"] == {
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 15, "total_tokens": 15},
    }


def test_meta_fields_are_embedded_with_the_content(fake_openai) -> None:
    docs = [Document(content="body", meta={"title": "Intro", "page": None})]
    embedder = doc_embedder(
        fake_openai,
        meta_fields_to_embed=["title", "page", "absent"],
        embedding_separator=" | ",
        prefix="passage: ",
    )
    out = embedder.run(docs)["documents"]
    assert fake_openai.control.requests[-1].body["input"] == ["passage: Intro | body"]
    assert out[0].embedding == expected("passage: Intro | body")


def test_no_documents_means_no_request(fake_openai) -> None:
    assert doc_embedder(fake_openai).run([]) == {"documents": [], "meta": {}}
    assert fake_openai.control.count() == 0


def test_document_embedder_refuses_a_string(fake_openai) -> None:
    with pytest.raises(TypeError, match="OpenAITextEmbedder"):
        doc_embedder(fake_openai).run("text")  # type: ignore[arg-type]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        OpenAIDocumentEmbedder(batch_size=0)


def test_a_failed_batch_raises_by_default(fake_openai) -> None:
    fake_openai.control.fail_next(Fault.server_error(500))
    with pytest.raises(openai.InternalServerError):
        doc_embedder(fake_openai, batch_size=2).run(corpus(4))
    assert fake_openai.control.count(EMBEDDINGS) == 1


def test_a_failed_batch_is_skipped_when_asked(fake_openai, caplog) -> None:
    fake_openai.control.fail_every(2, Fault.server_error(503))
    docs = corpus(5)
    result = doc_embedder(fake_openai, batch_size=2, raise_on_failure=False).run(docs)
    vectors = [d.embedding for d in result["documents"]]
    assert vectors[2:4] == [None, None]
    assert vectors[:2] + vectors[4:] == [expected(d.content) for d in docs[:2] + docs[4:]]
    assert result["meta"]["usage"]["total_tokens"] == 9
    assert "failed" in caplog.text


@pytest.mark.anyio
async def test_document_embedding_async(fake_openai) -> None:
    docs = corpus(3)
    result = await doc_embedder(fake_openai, batch_size=2).run_async(docs)
    assert [d.embedding for d in result["documents"]] == [expected(d.content) for d in docs]
    assert fake_openai.control.count(EMBEDDINGS) == 2


@pytest.mark.anyio
async def test_document_embedding_async_raises_on_failure(fake_openai) -> None:
    fake_openai.control.fail_next(Fault.drop())
    with pytest.raises(openai.APIConnectionError):
        await doc_embedder(fake_openai).run_async(corpus(2))
