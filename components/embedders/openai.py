"""OpenAITextEmbedder and OpenAIDocumentEmbedder: vectors from OpenAI's embeddings API.

Both talk to OpenAI or any OpenAI-compatible server (`api_base_url` / `OPENAI_BASE_URL`); the
client rules they share with the generator are in `ragrun.components.openai_client`. The
openai client asks for base64-encoded float32 vectors (smaller on the wire) and decodes them
itself, so the components always hand out `list[float]`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ragrun import Document, Secret, component

from ..openai_client import OpenAIConnected

logger = logging.getLogger(__name__)


class _OpenAIEmbedder(OpenAIConnected):
    """The client settings and request shape both embedders share."""

    def __init__(
        self,
        api_key: Secret,
        model: str,
        dimensions: int | None,
        api_base_url: str | None,
        organization: str | None,
        prefix: str,
        suffix: str,
        timeout: float | None,
        max_retries: int | None,
        http_client_kwargs: dict[str, Any] | None,
    ) -> None:
        self.model = model
        self.dimensions = dimensions
        self.prefix = prefix
        self.suffix = suffix
        self._connect(api_key, api_base_url, organization, timeout, max_retries, http_client_kwargs)

    def warm_up(self) -> None:
        """Check the key, build the sync client and load what calls need (MissingAPIKeyError
        without a key)."""
        self._clients.prepare("embeddings")

    async def warm_up_async(self) -> None:
        """Check the key and build the async client on the running event loop."""
        await self._clients.for_current_loop()

    def close(self) -> None:
        """Release the sync client's connections."""
        self._clients.close()

    async def aclose(self) -> None:
        """Release the async client's connections."""
        await self._clients.aclose()

    def _params(self, texts: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "input": texts}
        if self.dimensions is not None:
            params["dimensions"] = self.dimensions
        return params

    def _embed(self, texts: list[str]) -> tuple[list[list[float]], dict[str, Any]]:
        response = self._clients.sync().embeddings.create(**self._params(texts))
        return _vectors(response, len(texts)), _meta(response)

    async def _embed_async(self, texts: list[str]) -> tuple[list[list[float]], dict[str, Any]]:
        client = await self._clients.for_current_loop()
        response = await client.embeddings.create(**self._params(texts))
        return _vectors(response, len(texts)), _meta(response)


@component
class OpenAITextEmbedder(_OpenAIEmbedder):
    """Embed one text (a query) with an OpenAI embedding model.

    Same name, init parameters and sockets as Haystack's OpenAITextEmbedder.

    Args:
        api_key: the key's secret; read when the client is built (warm_up or first run).
        model: the embedding model.
        dimensions: the vector size, for models that can shorten theirs (text-embedding-3-*).
        api_base_url: the server's URL (default: `OPENAI_BASE_URL`, else OpenAI's API).
        organization: OpenAI organization id (default: `OPENAI_ORG_ID`).
        prefix: text put before the input (some models want an instruction, e.g. "query: ").
        suffix: text put after the input.
        timeout: seconds per request (default `OPENAI_TIMEOUT`, else 30).
        max_retries: the openai client's own retries (default `OPENAI_MAX_RETRIES`, else 0).
        http_client_kwargs: arguments for the underlying HTTP client.
    """

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("OPENAI_API_KEY"),
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        api_base_url: str | None = None,
        organization: str | None = None,
        prefix: str = "",
        suffix: str = "",
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            api_key, model, dimensions, api_base_url, organization, prefix, suffix,
            timeout, max_retries, http_client_kwargs,
        )  # fmt: skip

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """Embed `text`.

        Returns:
            `{"embedding": list[float], "meta": {"model", "usage"}}`.
        """
        vectors, meta = self._embed([self._wrap(text)])
        return {"embedding": vectors[0], "meta": meta}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """`run` with the async client."""
        vectors, meta = await self._embed_async([self._wrap(text)])
        return {"embedding": vectors[0], "meta": meta}

    def _wrap(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(
                f"OpenAITextEmbedder embeds one string, got {type(text).__name__}; "
                "use OpenAIDocumentEmbedder for documents"
            )
        return f"{self.prefix}{text}{self.suffix}"


@component
class OpenAIDocumentEmbedder(_OpenAIEmbedder):
    """Embed documents in batches, returning new Documents that carry their embedding.

    Same name, init parameters and sockets as Haystack's OpenAIDocumentEmbedder. The input
    documents are never changed. The text sent for a document is `prefix`, the values of
    `meta_fields_to_embed` and the content, joined by `embedding_separator`, then `suffix`.

    Unlike Haystack, a failed request raises by default (`raise_on_failure=True`): the
    component's `retry` policy can then retry it, and no document leaves without its vector.

    Args:
        api_key: the key's secret; read when the client is built (warm_up or first run).
        model: the embedding model.
        dimensions: the vector size, for models that can shorten theirs (text-embedding-3-*).
        api_base_url: the server's URL (default: `OPENAI_BASE_URL`, else OpenAI's API).
        organization: OpenAI organization id (default: `OPENAI_ORG_ID`).
        prefix: text put before each document's text.
        suffix: text put after each document's text.
        batch_size: documents per request.
        progress_bar: accepted for Haystack's YAML; ragrun reports progress itself.
        meta_fields_to_embed: meta keys whose values are embedded with the content.
        embedding_separator: what joins the meta values and the content.
        timeout: seconds per request (default `OPENAI_TIMEOUT`, else 30).
        max_retries: the openai client's own retries (default `OPENAI_MAX_RETRIES`, else 0).
        http_client_kwargs: arguments for the underlying HTTP client.
        raise_on_failure: raise when a batch fails; False logs it and leaves that batch's
            documents without embeddings (Haystack's default).
    """

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("OPENAI_API_KEY"),
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        api_base_url: str | None = None,
        organization: str | None = None,
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client_kwargs: dict[str, Any] | None = None,
        *,
        raise_on_failure: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        super().__init__(
            api_key, model, dimensions, api_base_url, organization, prefix, suffix,
            timeout, max_retries, http_client_kwargs,
        )  # fmt: skip
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator
        self.raise_on_failure = raise_on_failure

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed `documents`, `batch_size` per request.

        Returns:
            `{"documents": list[Document], "meta": {"model", "usage"}}`: new documents, in
            the same order, each with its `embedding`; usage summed over the requests.
        """
        out = _Embedded(documents)
        for batch in _batches(self._texts(documents), self.batch_size):
            try:
                out.add(*self._embed(batch))
            except Exception as exc:
                if self.raise_on_failure:
                    raise
                out.skip(len(batch), exc)
        return out.result()

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """`run` with the async client (batches are sent one after another)."""
        out = _Embedded(documents)
        for batch in _batches(self._texts(documents), self.batch_size):
            try:
                out.add(*await self._embed_async(batch))
            except Exception as exc:
                if self.raise_on_failure:
                    raise
                out.skip(len(batch), exc)
        return out.result()

    def _texts(self, documents: list[Document]) -> list[str]:
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError(
                "OpenAIDocumentEmbedder embeds a list of Documents; "
                "use OpenAITextEmbedder for a single string"
            )
        texts = []
        for doc in documents:
            fields = [
                str(doc.meta[key])
                for key in self.meta_fields_to_embed
                if doc.meta.get(key) is not None
            ]
            body = self.embedding_separator.join([*fields, doc.content or ""])
            texts.append(f"{self.prefix}{body}{self.suffix}")
        return texts


def _batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _vectors(response: Any, expected: int) -> list[list[float]]:
    data = sorted(response.data, key=lambda item: item.index)
    if len(data) != expected:
        raise ValueError(f"the server returned {len(data)} embeddings for {expected} inputs")
    return [list(item.embedding) for item in data]


def _meta(response: Any) -> dict[str, Any]:
    usage = response.usage.model_dump(exclude_none=True) if response.usage else {}
    return {"model": response.model, "usage": usage}


class _Embedded:
    """The vectors and summed usage of one `run`, gathered batch by batch."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.vectors: list[list[float] | None] = []
        self.meta: dict[str, Any] = {}

    def add(self, vectors: list[list[float]], meta: dict[str, Any]) -> None:
        """One batch's vectors; its usage is added to the total, the first model name kept."""
        self.vectors += vectors
        self.meta.setdefault("model", meta.get("model"))
        usage = self.meta.setdefault("usage", {})
        for key, value in meta.get("usage", {}).items():
            if isinstance(value, int):
                usage[key] = usage.get(key, 0) + value

    def skip(self, size: int, exc: Exception) -> None:
        """A failed batch (with `raise_on_failure=False`): its documents get no vector."""
        logger.error(
            "OpenAIDocumentEmbedder: a batch of %d documents failed and keeps no embedding: %s",
            size,
            exc,
        )
        self.vectors += [None] * size

    def result(self) -> dict[str, Any]:
        """Copies of the documents carrying their vectors (the inputs stay as they were)."""
        documents = [
            replace(doc, meta=dict(doc.meta), embedding=vector)
            for doc, vector in zip(self.documents, self.vectors, strict=True)
        ]
        return {"documents": documents, "meta": self.meta}
