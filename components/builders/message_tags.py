"""`{% message role="..." %}...{% endmessage %}`: chat messages written inside one string template.

Haystack's ChatPromptBuilder accepts a string template made of message blocks:

    {% message role="system" %}You answer in {{ language }}.{% endmessage %}
    {% message role="user" %}{{ question }}{% endmessage %}

This extension reads that syntax (text parts only; Haystack's `templatize_part` filter and
`{% insert %}` tag are not supported). Each block renders to a JSON payload framed by markers
carrying a random per-environment nonce, so text coming from variables cannot forge a message.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.parser import Parser

from ragrun import ChatMessage, ChatRole

_ROLES = {role.value for role in ChatRole}
_ATTRIBUTES = ("role", "name", "meta")
_USES_TAGS = re.compile(r"\{%-?\s*message\b")


def uses_message_tags(template: str) -> bool:
    """True when a string template is written with `{% message %}` blocks."""
    return bool(_USES_TAGS.search(template))


class MessageTags(Extension):
    """The Jinja2 extension adding the `message` block tag."""

    tags = {"message"}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.nonce = secrets.token_hex(12)

    def parse(self, parser: Parser) -> nodes.Node:
        """Read `role=..., name=..., meta=...` then the body up to `endmessage`."""
        lineno = next(parser.stream).lineno
        given: dict[str, nodes.Expr] = {}
        while parser.stream.current.type != "block_end":
            if given:
                parser.stream.skip_if("comma")
            key = parser.stream.expect("name")
            if key.value not in _ATTRIBUTES or key.value in given:
                raise TemplateSyntaxError(
                    f"message takes role, name and meta once each, not '{key.value}'", key.lineno
                )
            parser.stream.expect("assign")
            given[key.value] = parser.parse_expression()
        role = given.get("role")
        if role is None:
            raise TemplateSyntaxError(
                'message needs a role, e.g. {% message role="user" %}', lineno
            )
        if isinstance(role, nodes.Const) and role.value not in _ROLES:
            raise TemplateSyntaxError(f"message role must be one of {sorted(_ROLES)}", lineno)
        body = parser.parse_statements(("name:endmessage",), drop_needle=True)
        args = [role, given.get("name", nodes.Const(None)), given.get("meta", nodes.Const(None))]
        call = self.call_method("_frame", args)
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _frame(self, role: Any, name: Any, meta: Any, caller: Any) -> str:
        payload = {"role": str(role), "text": caller().strip(), "name": name, "meta": meta or {}}
        return f"<msg:{self.nonce}>{json.dumps(payload, default=str)}</msg:{self.nonce}>"

    def messages(self, rendered: str) -> list[ChatMessage]:
        """Read the messages out of a rendered template; other non-blank text is an error."""
        pattern = re.compile(f"<msg:{self.nonce}>(.*?)</msg:{self.nonce}>", re.DOTALL)
        leftover = pattern.sub("", rendered).strip()
        if leftover:
            raise ValueError(
                "ChatPromptBuilder: a template written with {% message %} blocks has text outside "
                f"them: {leftover[:80]!r}. Put every piece of text inside a message block."
            )
        out = []
        for match in pattern.finditer(rendered):
            data = json.loads(match.group(1))
            if data["role"] not in _ROLES:
                raise ValueError(f"ChatPromptBuilder: message role must be one of {sorted(_ROLES)}")
            out.append(ChatMessage.from_dict(data))
        return out
