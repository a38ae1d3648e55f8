"""The JSON bodies of an OpenAI-compatible API, built deterministically from each request.

Chat replies are `echo: <last user message>` (or a canned text), split into word tokens that
keep their leading whitespace, so the streamed chunks join back to exactly the whole reply.
Embeddings are hashed bags of words scaled to unit length: the same text always gives the
same vector and texts that share words are close, so retrieval through the fake is meaningful.
Token counts are word counts.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

_TOKEN = re.compile(r"\s*\S+")
_WORD = re.compile(r"\w+")
DEFAULT_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Vector size per model when the request names no `dimensions`; other models get 1536."""
MODEL_IDS = ("gpt-4o-mini", "gpt-4o", *DEFAULT_DIMENSIONS)


class RequestError(Exception):
    """The request is malformed: the server answers with `status` and an OpenAI error body."""

    def __init__(self, message: str, status: int = 400, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.param = param


def error_body(
    message: str, *, kind: str, code: str | None = None, param: str | None = None
) -> dict:
    """OpenAI's error envelope: `{"error": {message, type, param, code}}`."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def tokens(text: str) -> list[str]:
    """Word tokens of `text`, each with the whitespace before it."""
    return _TOKEN.findall(text)


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not body.get("model"):
        raise RequestError("you must provide a model parameter", param="model")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty array", param="messages")
    return messages


def reply_text(body: dict[str, Any], canned: str | None) -> str:
    """The reply to a chat request: `canned`, or `echo: ` and the last user message."""
    messages = _messages(body)
    if canned is not None:
        return canned
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return "echo: " + (_content_text(users[-1].get("content")) if users else "")


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(tokens(_content_text(m.get("content")))) for m in _messages(body))


def _limited(body: dict[str, Any], text: str) -> tuple[list[str], str]:
    """The reply's tokens, cut at `max_completion_tokens` / `max_tokens`, and finish_reason."""
    parts = tokens(text)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and len(parts) > limit:
        return parts[:limit], "length"
    return parts, "stop"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A non-streamed `chat.completion` object with `n` identical choices."""
    parts, finish = _limited(body, text)
    n = int(body.get("n") or 1)
    choice = {
        "message": {"role": "assistant", "content": "".join(parts), "refusal": None},
        "finish_reason": finish,
        "logprobs": None,
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": i, **choice} for i in range(n)],
        "usage": _usage(_prompt_tokens(body), len(parts) * n),
    }


def chat_chunks(body: dict[str, Any], text: str) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects of a streamed reply: a role chunk, one chunk per
    token, a finish chunk, and a usage chunk when `stream_options.include_usage` is set."""
    parts, finish = _limited(body, text)
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_ragrun_fake",
    }
    if with_usage:
        head["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**head, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    for part in parts:
        yield chunk({"content": part})
    yield chunk({}, finish)
    if with_usage:
        yield {**head, "choices": [], "usage": _usage(_prompt_tokens(body), len(parts))}


def embedding_vector(text: str, dimensions: int) -> np.ndarray:
    """A unit float32 vector: each word adds +-1 at a position its hash picks."""
    vector = np.zeros(dimensions, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        vector[h % dimensions] += 1.0 if h >> 63 else -1.0
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:  # no words: a fixed unit vector keeps cosine similarity defined
        vector[0], norm = 1.0, 1.0
    return vector / np.float32(norm)


def _inputs(body: dict[str, Any]) -> list[str]:
    raw = body.get("input")
    if isinstance(raw, str):
        raw = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        raw = [raw]  # one text given as token ids
    if not isinstance(raw, list) or not raw:
        raise RequestError("'input' must be a non-empty string or array", param="input")
    texts = [" ".join(map(str, t)) if isinstance(t, list) else t for t in raw]
    if not all(isinstance(t, str) and t for t in texts):
        raise RequestError("'input' cannot contain an empty string", param="input")
    return texts


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """A `list` of `embedding` objects, as floats or base64 of little-endian float32."""
    model = body.get("model")
    if not model:
        raise RequestError("you must provide a model parameter", param="model")
    texts = _inputs(body)
    dimensions = body.get("dimensions") or DEFAULT_DIMENSIONS.get(model, 1536)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise RequestError("encoding_format must be 'float' or 'base64'", param="encoding_format")
    data = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, int(dimensions))
        value: Any
        if encoding == "base64":
            value = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
        else:
            value = vector.tolist()
        data.append({"object": "embedding", "index": index, "embedding": value})
    used = sum(len(_WORD.findall(t)) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }


def models() -> dict[str, Any]:
    """The `list` of models the fake claims to serve (it answers for any name)."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "ragrun-fake"}
            for name in MODEL_IDS
        ],
    }
