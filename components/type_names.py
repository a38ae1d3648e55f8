"""Type names written in YAML (`"list[Document]"`, `"str | None"`) parsed into real types, safely.

BranchJoiner's `type_` and ConditionalRouter's `output_type` arrive from YAML as strings. Haystack
writes them with full module paths (`list[haystack.dataclasses.document.Document]`,
`typing.Optional[str]`); people write them short (`list[Document]`, `str | None`). Both forms are
read here by a small parser over a whitelist of names, never `eval` nor an import, so a YAML
file cannot name arbitrary Python.
"""

from __future__ import annotations

import collections.abc
import re
import typing
from typing import Any

from ragrun import ByteStream, ChatMessage, Document, StreamingChunk
from ragrun.suggest import did_you_mean

_GENERICS: dict[str, Any] = {
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "type": type,
    "List": list,
    "Dict": dict,
    "Tuple": tuple,
    "Set": set,
    "FrozenSet": frozenset,
    "Sequence": collections.abc.Sequence,
    "Mapping": collections.abc.Mapping,
    "Iterable": collections.abc.Iterable,
    "Iterator": collections.abc.Iterator,
}

_PLAIN: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "bytes": bytes,
    "complex": complex,
    "object": object,
    "None": type(None),
    "NoneType": type(None),
    "Any": Any,
    "Document": Document,
    "ByteStream": ByteStream,
    "ChatMessage": ChatMessage,
    "StreamingChunk": StreamingChunk,
    **{name: generic for name, generic in _GENERICS.items()},
}

# Module prefixes allowed in front of a name; anything else (`os.system`) is refused.
_MODULES = re.compile(
    r"^(builtins|typing|collections\.abc|ragrun(\.[a-z_]+)*|haystack(\.[a-z_]+)*)\.(?=[A-Za-z_]\w*$)"
)
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[\[\],|]))")


class TypeNameError(ValueError):
    """A type name that cannot be read: unknown, not whitelisted, or malformed."""


def known_type_names() -> list[str]:
    """The short names the parser understands (for messages and docs)."""
    return sorted({*_PLAIN, "Optional", "Union", "GeneratedAnswer"})


def parse_type(spec: Any) -> Any:
    """Read a type written as text (`"list[Document]"`); a real type is returned unchanged.

    Raises:
        TypeNameError: the text names something outside the whitelist or is malformed.
    """
    if not isinstance(spec, str):
        return spec
    parser = _Parser(spec)
    result = parser.union()
    parser.expect_end()
    return result


class _Parser:
    """Recursive descent over `name`, `name[args]` and `a | b`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[str]:
        tokens, index = [], 0
        while index < len(text):
            match = _TOKEN.match(text, index)
            if match is None:
                if text[index:].strip() == "":
                    break
                raise TypeNameError(
                    f"cannot read type '{text}': unexpected '{text[index:].strip()}'"
                )
            tokens.append(match.group("name") or match.group("punct"))
            index = match.end()
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            found = f"'{token}'" if token is not None else "the end"
            wanted = f"'{expected}'" if expected else "a type name"
            raise TypeNameError(f"cannot read type '{self.text}': expected {wanted}, found {found}")
        self.pos += 1
        return token

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise TypeNameError(f"cannot read type '{self.text}': unexpected '{self.peek()}'")

    def union(self) -> Any:
        arms = [self.primary()]
        while self.peek() == "|":
            self.take("|")
            arms.append(self.primary())
        return arms[0] if len(arms) == 1 else typing.Union[tuple(arms)]  # noqa: UP007

    def primary(self) -> Any:
        name = self.take()
        if name in "[],|":
            raise TypeNameError(
                f"cannot read type '{self.text}': expected a type name, found '{name}'"
            )
        short = _short_name(name, self.text)
        if self.peek() != "[":
            return _lookup(short, self.text)
        self.take("[")
        args = [self.union()]
        while self.peek() == ",":
            self.take(",")
            args.append(self.union())
        self.take("]")
        return _subscript(short, args, self.text)


def _short_name(name: str, text: str) -> str:
    if "." not in name:
        return name
    match = _MODULES.match(name)
    if match is None:
        raise TypeNameError(
            f"cannot read type '{text}': '{name}' is not an allowed type "
            "(only builtins, typing, collections.abc, ragrun and Haystack data classes)"
        )
    return name[match.end() :]


def _lookup(short: str, text: str) -> Any:
    if short == "GeneratedAnswer":
        from .builders.answer_builder import GeneratedAnswer  # builders import this module's peers

        return GeneratedAnswer
    if short in _PLAIN:
        return _PLAIN[short]
    raise TypeNameError(
        f"cannot read type '{text}': unknown type name '{short}'."
        + did_you_mean(short, known_type_names())
    )


def _subscript(short: str, args: list[Any], text: str) -> Any:
    if short == "Optional":
        if len(args) != 1:
            raise TypeNameError(f"cannot read type '{text}': Optional takes one argument")
        return typing.Optional[args[0]]  # noqa: UP045 - the argument may be Any
    if short == "Union":
        return typing.Union[tuple(args)]  # noqa: UP007 - arms may be Any
    if short not in _GENERICS:
        _lookup(short, text)  # an unknown name is reported as such, with a suggestion
        raise TypeNameError(f"cannot read type '{text}': '{short}' takes no arguments")
    origin = _GENERICS[short]
    return origin[tuple(args)] if len(args) > 1 else origin[args[0]]
