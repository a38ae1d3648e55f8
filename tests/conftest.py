"""Shared test setup: anyio runs async tests on asyncio; the fake OpenAI server's fixtures."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop ragrun's CLI uses."""
    return "asyncio"
