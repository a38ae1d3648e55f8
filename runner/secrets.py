"""`Secret`: a credential read from the environment, never written to YAML, events or logs.

In YAML a secret is `{type: env_var, env_vars: [OPENAI_API_KEY], strict: true}` (Haystack's form).
`resolve()` reads the first variable that is set. `repr`, `str`, the JSON encoder and `dumps`
show only the variable names, never the value. Every value `resolve()` returns is registered
with `redaction.py`, so wherever it turns up later (echoed by a server in an error, say) the
events, messages and logs show `***` instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from . import redaction


class SecretNotFoundError(LookupError):
    """A strict secret's variables are all unset."""


@dataclass(frozen=True)
class Secret:
    """A reference to a credential held in environment variables (or, for tests, a token)."""

    env_vars: tuple[str, ...] = ()
    strict: bool = True
    _token: str | None = None

    @classmethod
    def from_env_var(
        cls, env_vars: str | list[str] | tuple[str, ...], *, strict: bool = True
    ) -> Secret:
        """A secret read from the first of `env_vars` that is set."""
        names = (env_vars,) if isinstance(env_vars, str) else tuple(env_vars)
        return cls(env_vars=names, strict=strict)

    @classmethod
    def from_token(cls, token: str) -> Secret:
        """A secret holding its value directly (for code and tests; cannot be serialized)."""
        return cls(_token=token)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Secret:
        """Build from `{type: env_var, env_vars: [...], strict: bool}`."""
        if data.get("type") != "env_var":
            raise ValueError("only secrets of type 'env_var' can be loaded from YAML")
        return cls.from_env_var(data.get("env_vars") or [], strict=bool(data.get("strict", True)))

    def to_dict(self) -> dict[str, Any]:
        """`{type: env_var, env_vars, strict}`; a token secret refuses to be written."""
        if self._token is not None:
            raise ValueError("a token secret cannot be serialized; use Secret.from_env_var")
        return {"type": "env_var", "env_vars": list(self.env_vars), "strict": self.strict}

    def resolve(self) -> str | None:
        """The value, or None for a non-strict secret whose variables are unset.

        Raises:
            SecretNotFoundError: a strict secret none of whose variables is set.
        """
        if self._token is not None:
            redaction.register(self._token)
            return self._token
        for name in self.env_vars:
            value = os.environ.get(name)
            if value:
                redaction.register(value)
                return value
        if self.strict:
            names = ", ".join(self.env_vars)
            raise SecretNotFoundError(f"none of the environment variables {names} is set")
        return None

    def __repr__(self) -> str:
        if self._token is not None:
            return "Secret(<token>)"
        return f"Secret(env_vars={list(self.env_vars)!r})"

    __str__ = __repr__


def is_secret_dict(value: Any) -> bool:
    """True for a YAML mapping of the form `{type: env_var, env_vars: [...]}`."""
    return isinstance(value, dict) and value.get("type") == "env_var" and "env_vars" in value
