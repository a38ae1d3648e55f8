"""OpenAIChatGenerator: chat completions from OpenAI or any OpenAI-compatible server."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragrun import ChatMessage, Secret, StreamingChunk, component
from ragrun.allowlist import current
from ragrun.registry import UnknownTypeError, import_callable
from ragrun.streaming import emit_chunk

from ..openai_client import OpenAIConnected

logger = logging.getLogger(__name__)

StreamingCallback = Callable[[StreamingChunk], Any]
"""Called with each streamed token; in `run_async` it may also be a coroutine function."""


@component
class OpenAIChatGenerator(OpenAIConnected):
    """Answer a conversation with a chat model through the Chat Completions API.

    Same name, init parameters and sockets as Haystack's OpenAIChatGenerator (tools aside).
    It talks to OpenAI, or to any OpenAI-compatible server (Ollama, vLLM, llama.cpp) named by
    `api_base_url` or the `OPENAI_BASE_URL` environment variable. Client rules shared with the
    embedders (key, base URL, timeout, why `max_retries` defaults to 0) are in
    `ragrun.components.openai_client`.

    Streaming: with `generation_kwargs: {stream: true}`, or a `streaming_callback`, the reply is
    streamed; each token goes to the callback and to the run's event stream (a `chunk` event),
    and the output is still the whole reply. Usage is requested in the stream
    (`stream_options.include_usage`) unless `generation_kwargs` sets `stream_options`.

    In YAML::

        llm:
          type: OpenAIChatGenerator
          init_parameters:
            model: gpt-4o-mini
            generation_kwargs: {temperature: 0, stream: true}
          retry: {attempts: 4}

    Args:
        api_key: the key's secret; read when the client is built (warm_up or first run).
        model: the model name.
        streaming_callback: a callable (or its dotted import path) given each StreamingChunk.
        api_base_url: the server's URL (default: `OPENAI_BASE_URL`, else OpenAI's API).
        organization: OpenAI organization id (default: `OPENAI_ORG_ID`).
        generation_kwargs: request parameters sent as they are (`temperature`,
            `max_completion_tokens`, `response_format` as a JSON schema dict, `stream`, ...);
            those given to `run` override these key by key.
        timeout: seconds per request (default `OPENAI_TIMEOUT`, else 30).
        max_retries: the openai client's own retries (default `OPENAI_MAX_RETRIES`, else 0,
            leaving retries to the component's `retry` policy).
        tools: not supported yet (accepted empty for Haystack's YAML); a list raises ValueError.
        tools_strict: accepted for Haystack's YAML; without tools it has no effect.
        http_client_kwargs: arguments for the underlying HTTP client (`proxy`, `verify`,
            `limits`, ...).
    """

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("OPENAI_API_KEY"),
        model: str = "gpt-4o-mini",
        streaming_callback: StreamingCallback | str | None = None,
        api_base_url: str | None = None,
        organization: str | None = None,
        generation_kwargs: dict[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        tools: list[Any] | None = None,
        tools_strict: bool = False,
        http_client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if tools:
            raise ValueError(
                "OpenAIChatGenerator: tools are not supported yet; remove 'tools' "
                "(tool definitions in generation_kwargs are sent, but tool calls are not parsed)"
            )
        self.model = model
        self.streaming_callback = streaming_callback
        self._allowlist = current()  # a dotted callback is imported later, under this allowlist
        self.generation_kwargs = dict(generation_kwargs or {})
        self.tools_strict = tools_strict
        self._connect(api_key, api_base_url, organization, timeout, max_retries, http_client_kwargs)

    def warm_up(self) -> None:
        """Check the key, build the sync client and load what calls need (MissingAPIKeyError
        without a key)."""
        self._init_callback()
        self._clients.prepare("chat")

    async def warm_up_async(self) -> None:
        """Check the key and build the async client on the running event loop."""
        self._init_callback()
        await self._clients.for_current_loop()

    def close(self) -> None:
        """Release the sync client's connections."""
        self._clients.close()

    async def aclose(self) -> None:
        """Release the async client's connections."""
        await self._clients.aclose()

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage] | str,
        streaming_callback: StreamingCallback | None = None,
        generation_kwargs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send the conversation and return the model's replies.

        Args:
            messages: the conversation; a string is one user message.
            streaming_callback: a callable given each token; overrides the init one.
            generation_kwargs: request parameters merged over the init ones.

        Returns:
            `{"replies": list[ChatMessage]}`, one per choice; each reply's meta holds
            `model`, `index`, `finish_reason` and `usage` (when the server reports it).
        """
        callback = streaming_callback or self._init_callback()
        if inspect.iscoroutinefunction(callback):
            raise TypeError("run() needs a sync streaming_callback; use run_async for async ones")
        request = self._request(messages, callback, generation_kwargs)
        if not request.kwargs["messages"]:
            return {"replies": []}
        client = self._clients.sync()
        response = client.chat.completions.create(**request.kwargs)
        if not request.stream:
            return {"replies": _replies(response)}
        reply = _StreamedReply()
        with response:  # closes the connection if the run stops mid-stream
            for chunk in response:
                token = reply.add(chunk)
                if token is not None:
                    _deliver(token, callback)
        return {"replies": [reply.message()]}

    @component.output_types(replies=list[ChatMessage])
    async def run_async(
        self,
        messages: list[ChatMessage] | str,
        streaming_callback: StreamingCallback | None = None,
        generation_kwargs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`run` on the event loop with the async client; the callback may be async."""
        callback = streaming_callback or self._init_callback()
        request = self._request(messages, callback, generation_kwargs)
        if not request.kwargs["messages"]:
            return {"replies": []}
        client = await self._clients.for_current_loop()
        response = await client.chat.completions.create(**request.kwargs)
        if not request.stream:
            return {"replies": _replies(response)}
        reply = _StreamedReply()
        async with response:  # closes the connection if the run is cancelled mid-stream
            async for chunk in response:
                token = reply.add(chunk)
                if token is not None:
                    result = _deliver(token, callback)
                    if inspect.isawaitable(result):
                        await result
        return {"replies": [reply.message()]}

    def _init_callback(self) -> StreamingCallback | None:
        """The init `streaming_callback`, imported first when YAML gave its dotted path."""
        if isinstance(self.streaming_callback, str):
            self.streaming_callback = _import_callable(self.streaming_callback, self._allowlist)
        return self.streaming_callback

    def _request(
        self,
        messages: list[ChatMessage] | str,
        callback: StreamingCallback | None,
        generation_kwargs: dict[str, Any] | None,
    ) -> _Request:
        kwargs = {**self.generation_kwargs, **(generation_kwargs or {})}
        stream = bool(kwargs.pop("stream", False)) or callback is not None
        if stream and int(kwargs.get("n") or 1) > 1:
            raise ValueError("OpenAIChatGenerator streams one reply: set n to 1 or stop streaming")
        if stream:
            kwargs["stream"] = True
            kwargs.setdefault("stream_options", {"include_usage": True})
        if isinstance(messages, str):
            messages = [ChatMessage.from_user(messages)]
        kwargs["model"] = kwargs.get("model") or self.model
        kwargs["messages"] = [_as_message(m).to_openai() for m in messages]
        return _Request(kwargs, stream)


@dataclass(frozen=True)
class _Request:
    kwargs: dict[str, Any]
    stream: bool


@dataclass
class _StreamedReply:
    """The pieces of a streamed reply, put together as chunks arrive."""

    parts: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=lambda: {"index": 0, "finish_reason": None})

    def add(self, chunk: Any) -> StreamingChunk | None:
        """Take one `ChatCompletionChunk`; returns the token it carries, if any."""
        self.meta.setdefault("model", chunk.model)
        if chunk.usage is not None:
            self.meta["usage"] = chunk.usage.model_dump(exclude_none=True)
        if not chunk.choices:  # the usage chunk has no choices
            return None
        choice = chunk.choices[0]
        if choice.finish_reason:
            self.meta["finish_reason"] = choice.finish_reason
        content = choice.delta.content if choice.delta is not None else None
        if not content:
            return None
        self.parts.append(content)
        return StreamingChunk(content=content)

    def message(self) -> ChatMessage:
        """The whole reply."""
        _warn_if_cut(self.meta)
        return ChatMessage.from_assistant("".join(self.parts), meta=dict(self.meta))


def _deliver(token: StreamingChunk, callback: StreamingCallback | None) -> Any:
    """Send a token to the run's event stream and to the callback (returning its result)."""
    emit_chunk(token)
    return callback(token) if callback is not None else None


def _replies(completion: Any) -> list[ChatMessage]:
    usage = completion.usage.model_dump(exclude_none=True) if completion.usage else None
    replies = []
    for choice in completion.choices:
        meta: dict[str, Any] = {
            "model": completion.model,
            "index": choice.index,
            "finish_reason": choice.finish_reason,
        }
        if usage is not None:
            meta["usage"] = usage
        _warn_if_cut(meta)
        replies.append(ChatMessage.from_assistant(choice.message.content, meta=meta))
    return replies


def _warn_if_cut(meta: dict[str, Any]) -> None:
    reason = meta.get("finish_reason")
    if reason == "length":
        logger.warning(
            "OpenAIChatGenerator: reply %s was cut at the token limit; raise "
            "max_completion_tokens in generation_kwargs for complete replies",
            meta.get("index"),
        )
    elif reason == "content_filter":
        logger.warning(
            "OpenAIChatGenerator: reply %s was cut by the content filter", meta.get("index")
        )


def _as_message(message: ChatMessage | dict[str, Any]) -> ChatMessage:
    return ChatMessage.from_dict(message) if isinstance(message, dict) else message


def _import_callable(path: str, allowlist: Any) -> StreamingCallback:
    try:
        return import_callable(path, "streaming_callback", allowlist)  # type: ignore[no-any-return]
    except UnknownTypeError as exc:
        raise ValueError(str(exc)) from None
