"""Shared test setup: anyio runs async tests on asyncio; the fake OpenAI server's fixtures;
the test packages allowed as modules pipeline files may import."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ragrun.allowlist import ENV_VAR

# `tests.fakes` imports from the repository root: pyproject's `pythonpath = ["."]` puts it on
# sys.path for the `pytest` script and `python -m pytest` alike.

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop ragrun's CLI uses."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def allow_test_modules() -> Iterator[None]:
    """Pipelines in the tests name test components by dotted path (`tests.runner....Upper`):
    allow the `tests` package explicitly, as a user allows theirs, through the environment so
    child processes (`python -m ragrun`, Ray workers) allow it too. Tests of the allowlist
    itself take it away with `monkeypatch.delenv`."""
    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "tests"
    yield
    if before is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = before
