"""ragrun: declarative YAML pipelines of typed components, run by an anyio scheduler.

The public names are imported on first use (PEP 562), so `import ragrun` and `ragrun --help`
do not pay for pydantic models they never touch; `from ragrun import Pipeline` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported now, not lazily: the name `component` is also a submodule, and importing that
# submodule first would otherwise leave `ragrun.component` bound to the module, not the decorator.
from .component import component, is_component, sockets_of

if TYPE_CHECKING:
    from .chat import ChatMessage, ChatRole, StreamingChunk
    from .documents import ByteStream, Document
    from .errors import (
        ComponentDefinitionError,
        PipelineInputError,
        PipelineRuntimeError,
        PipelineStuckError,
        PipelineValidationError,
        RagrunError,
    )
    from .pipeline import Pipeline
    from .policy import ComponentPolicy
    from .secrets import Secret
    from .sockets import InputSocket, OutputSocket, Variadic

_WHERE = {
    "ByteStream": "documents",
    "ChatMessage": "chat",
    "ChatRole": "chat",
    "ComponentDefinitionError": "errors",
    "ComponentPolicy": "policy",
    "Document": "documents",
    "InputSocket": "sockets",
    "OutputSocket": "sockets",
    "Pipeline": "pipeline",
    "PipelineInputError": "errors",
    "PipelineRuntimeError": "errors",
    "PipelineStuckError": "errors",
    "PipelineValidationError": "errors",
    "RagrunError": "errors",
    "Secret": "secrets",
    "StreamingChunk": "chat",
    "Variadic": "sockets",
}
"""Each public name and the module that defines it."""

__all__ = [
    "ByteStream",
    "ChatMessage",
    "ChatRole",
    "ComponentDefinitionError",
    "ComponentPolicy",
    "Document",
    "InputSocket",
    "OutputSocket",
    "Pipeline",
    "PipelineInputError",
    "PipelineRuntimeError",
    "PipelineStuckError",
    "PipelineValidationError",
    "RagrunError",
    "Secret",
    "StreamingChunk",
    "Variadic",
    "component",
    "is_component",
    "sockets_of",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ragrun' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
