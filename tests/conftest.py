"""Shared test setup: anyio runs async tests on asyncio; the fake OpenAI server's fixtures."""

from __future__ import annotations

import pytest

# `tests.fakes` imports from the repository root: pyproject's `pythonpath = ["."]` puts it on
# sys.path for the `pytest` script and `python -m pytest` alike.

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop ragrun's CLI uses."""
    return "asyncio"
