"""Pytest fixtures for the fake OpenAI server: one server per session, reset for each test.

Load them in `tests/conftest.py` with `pytest_plugins = ["tests.fakes.fixtures"]`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .openai_server import FakeOpenAIServer


@pytest.fixture(scope="session")
def fake_openai_session() -> Iterator[FakeOpenAIServer]:
    """The session's server, started once on 127.0.0.1 (an ephemeral port)."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_session: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The session's server with no faults, no latency and zeroed counters for this test."""
    fake_openai_session.control.reset()
    yield fake_openai_session
    fake_openai_session.control.reset()


# PostgreSQL with pgvector (tests/fakes/postgres.py), started once per session when a test asks.
from .postgres import new_pgvector_store, postgres, postgres_session  # noqa: E402, F401
