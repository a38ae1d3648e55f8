"""Test servers shared by the suite and the benchmarks: an OpenAI-compatible fake.

`FakeOpenAIServer` serves on 127.0.0.1 from a background thread; its `control` injects
latency and failures and counts requests. `tests.fakes.fixtures` holds the pytest fixtures,
`tests.fakes.process` runs the server in a child process for benchmarks.
"""

from __future__ import annotations

from .control import CHAT, EMBEDDINGS, MODELS, Fault, RecordedRequest, ServerControl
from .openai_server import FakeOpenAIServer

__all__ = [
    "CHAT",
    "EMBEDDINGS",
    "MODELS",
    "FakeOpenAIServer",
    "Fault",
    "RecordedRequest",
    "ServerControl",
]
