"""`ChatMessage` and `StreamingChunk`: what prompt builders, generators and events exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic_core import core_schema

from .documents import _from_dict_schema


class ChatRole(StrEnum):
    """Who wrote a message."""

    USER = "user"
    SYSTEM = "system"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass
class ChatMessage:
    """One message of a conversation."""

    role: ChatRole
    text: str | None = None
    name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.role = ChatRole(self.role)

    @classmethod
    def from_user(
        cls, text: str, *, name: str | None = None, meta: dict[str, Any] | None = None
    ) -> ChatMessage:
        """A message from the user."""
        return cls(ChatRole.USER, text, name, dict(meta or {}))

    @classmethod
    def from_system(
        cls, text: str, *, name: str | None = None, meta: dict[str, Any] | None = None
    ) -> ChatMessage:
        """A system instruction."""
        return cls(ChatRole.SYSTEM, text, name, dict(meta or {}))

    @classmethod
    def from_assistant(
        cls, text: str | None = None, *, name: str | None = None, meta: dict[str, Any] | None = None
    ) -> ChatMessage:
        """A reply from the model."""
        return cls(ChatRole.ASSISTANT, text, name, dict(meta or {}))

    def to_dict(self) -> dict[str, Any]:
        """`{role, text, name?, meta?}`: compact JSON."""
        out: dict[str, Any] = {"role": self.role.value, "text": self.text}
        if self.name is not None:
            out["name"] = self.name
        if self.meta:
            out["meta"] = self.meta
        return out

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI chat-completions message form."""
        out: dict[str, Any] = {"role": self.role.value, "content": self.text or ""}
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatMessage:
        """Accept `{role, text}`, `{role, content: str}` and Haystack's serialized form
        `{role, content: [{text: ...}], meta, name}` (also with `_role`/`_content` keys)."""
        role = data.get("role", data.get("_role", "user"))
        text = data.get("text")
        content = data.get("content", data.get("_content"))
        if text is None and isinstance(content, str):
            text = content
        elif text is None and isinstance(content, list):
            parts = [p.get("text") for p in content if isinstance(p, dict) and "text" in p]
            text = "".join(parts) if parts else None
        return cls(
            ChatRole(role),
            text,
            data.get("name", data.get("_name")),
            dict(data.get("meta", data.get("_meta")) or {}),
        )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return _from_dict_schema(cls)


@dataclass
class StreamingChunk:
    """One piece of a streamed reply; the engine turns each into a `chunk` event."""

    content: str
    meta: dict[str, Any] = field(default_factory=dict)
    component: str | None = None
    """Name of the component that produced it (set by the engine)."""
