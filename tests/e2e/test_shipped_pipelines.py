"""pipelines/index.yaml, search.yaml and rag.yaml end to end, through the real `ragrun` command.

The real embedding model, a real store file, and for rag.yaml the real openai client talking to
the OpenAI-compatible test server on 127.0.0.1. Each test indexes a small corpus of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
CORPUS = {
    "retries.md": "# Retries\n\nA component's retry policy waits with exponential backoff "
    "between attempts and honours Retry-After from a rate-limited server.",
    "stores.md": "# Stores\n\nThe in-memory document store keeps embeddings in one float32 "
    "matrix and writes its file atomically.",
    "cats.md": "# Cats\n\nCats sleep for most of the day and purr when they are content.",
}


def ragrun(*args: str, env: dict[str, str], cwd: Path) -> list[dict]:
    """Run `python -m ragrun ARGS` piped; the JSON lines it printed (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "ragrun", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A folder with a docs/ corpus, indexed by pipelines/index.yaml into its own store."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "docs").mkdir()
    for name, text in CORPUS.items():
        (folder / "docs" / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "RAGRUN_STORE": str(folder / ".ragrun" / "docs.store")}
    events = ragrun(str(ROOT / "pipelines" / "index.yaml"), env=env, cwd=folder)
    assert events[-1] == {**events[-1], "event": "run_finished"}
    assert events[-1]["outputs"] == {"documents_written": 3, "skipped": 0, "removed": 0}
    return folder, env


def test_index_writes_one_persistent_store(indexed: tuple[Path, dict[str, str]]) -> None:
    folder, _ = indexed
    assert (folder / ".ragrun" / "docs.store").exists()


def test_search_finds_the_relevant_file(indexed: tuple[Path, dict[str, str]]) -> None:
    folder, env = indexed
    events = ragrun(
        str(ROOT / "pipelines" / "search.yaml"), "-i", "query=how are failed attempts retried?",
        env=env, cwd=folder,
    )  # fmt: skip
    finished = events[-1]
    assert finished["event"] == "run_finished"
    documents = finished["outputs"]["documents"]
    assert documents[0]["meta"]["file_path"] == "docs/retries.md"
    assert {e["component"] for e in events if e["event"] == "component_finished"} == {
        "embedder", "dense", "bm25", "joiner",
    }  # fmt: skip


def test_rag_streams_the_answer_from_an_openai_compatible_server(
    indexed: tuple[Path, dict[str, str]], fake_openai: FakeOpenAIServer
) -> None:
    folder, env = indexed
    fake_openai.control.reply = "Backoff grows exponentially [retries.md]."
    env = {**env, "OPENAI_API_KEY": "sk-test-secret", "OPENAI_BASE_URL": fake_openai.base_url}
    events = ragrun(
        str(ROOT / "pipelines" / "rag.yaml"), "-i", "question=How do retries wait?",
        env=env, cwd=folder,
    )  # fmt: skip
    chunks = [e["content"] for e in events if e["event"] == "chunk"]
    finished = events[-1]
    assert finished["event"] == "run_finished"
    answer = finished["outputs"]["answer"][0]
    assert "".join(chunks) == answer["text"] == "Backoff grows exponentially [retries.md]."
    assert "docs/retries.md" in {d["meta"]["file_path"] for d in finished["outputs"]["documents"]}
    prompt = fake_openai.control.requests[-1].body["messages"][-1]["content"]
    assert "How do retries wait?" in prompt and "exponential backoff" in prompt
    assert "sk-test-secret" not in json.dumps(events)


def test_rag_without_a_key_says_what_to_set(indexed: tuple[Path, dict[str, str]]) -> None:
    folder, env = indexed
    env = {k: v for k, v in env.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "ragrun", str(ROOT / "pipelines" / "rag.yaml"), "-i", "question=x"],
        capture_output=True, text=True, env=env, cwd=folder, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "OPENAI_API_KEY" in done.stderr and "OPENAI_BASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_reindexing_embeds_only_what_changed(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for name, text in CORPUS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "RAGRUN_STORE": str(tmp_path / "docs.store")}
    index = str(ROOT / "pipelines" / "index.yaml")

    def outputs() -> dict:
        events = ragrun(index, env=env, cwd=tmp_path)
        embedded = [e for e in events if e.get("component") == "embedder"]
        return {**events[-1]["outputs"], "embedded": len(embedded[0]["outputs"]["documents"])}

    assert outputs() == {"documents_written": 3, "skipped": 0, "removed": 0, "embedded": 3}
    assert outputs() == {"documents_written": 0, "skipped": 3, "removed": 0, "embedded": 0}
    (tmp_path / "docs" / "cats.md").write_text("# Cats\n\nCats hunt at dusk.", encoding="utf-8")
    assert outputs() == {"documents_written": 1, "skipped": 2, "removed": 1, "embedded": 1}
    search = ragrun(
        str(ROOT / "pipelines" / "search.yaml"), "-i", "query=when do cats hunt?",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    found = search[-1]["outputs"]["documents"]
    cats = [d["content"] for d in found if "Cats" in d["content"]]
    assert len(cats) == 1 and "hunt at dusk" in cats[0]  # the old chunk is gone


def test_index_pg_writes_to_postgres_and_reindexes_nothing(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    (tmp_path / "docs").mkdir()
    for name, text in CORPUS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "PG_CONN_STR": postgres.uri, "RAGRUN_TABLE": postgres.new_table()}
    index = str(ROOT / "pipelines" / "index-pg.yaml")
    first = ragrun(index, env=env, cwd=tmp_path)[-1]["outputs"]
    again = ragrun(index, env=env, cwd=tmp_path)[-1]["outputs"]
    assert first == {"documents_written": 3, "skipped": 0, "removed": 0}
    assert again == {"documents_written": 0, "skipped": 3, "removed": 0}
