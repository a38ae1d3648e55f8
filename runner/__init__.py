"""ragrun: declarative YAML pipelines of typed components, run by an anyio scheduler."""

from __future__ import annotations

from .chat import ChatMessage, ChatRole, StreamingChunk
from .component import component, is_component, sockets_of
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
