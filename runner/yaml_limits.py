"""The limits a pipeline file must keep, so untrusted YAML cannot exhaust time or memory.

YAML can describe far more than it spells out: nine aliases of nine aliases of nine values
(a "billion laughs" file of a few hundred bytes) stand for hundreds of millions of values once
expanded; an alias inside the list it names never ends; `[[[[...]]]]` a thousand deep
overflows any recursive reader. ruamel's composer sees each node once, before anything expands
it, so the limits are checked there, in time linear in the file:

- `MAX_FILE_BYTES`: the file's size, checked before it is parsed;
- `MAX_NODES`: values (mappings, lists and scalars), as written and once aliases expand;
- `MAX_DEPTH`: nesting, as written and once aliases are expanded;
- `MAX_INT_DIGITS`: Python's own limit for turning text into an integer.

A real pipeline is a few hundred nodes, ten levels deep, a few kilobytes. The same pass
refuses what a pipeline file has no use for and ruamel would choke on: tags other than the
core ones (`!!python/object/apply`, `!!omap`, `%TAG` directives), mappings or lists used as
keys (`? [components]`), and control characters. Each refusal is located (`Refused` carries
ruamel's mark), so it reads `FILE:LINE:COL: what and why`.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.scanner import RoundTripScanner

MAX_FILE_BYTES = 524_288
"""512 KiB: a pipeline file is a few kilobytes; one with a long inline prompt, tens."""
MAX_NODES = 10_000
"""Values (mappings, lists, scalars), as written and once aliases are expanded: rag.yaml holds
about 80, a pipeline of a hundred components a few thousand. ruamel reads about 10,000 values a
second, so this also bounds the time a file can take."""
MAX_DEPTH = 100
"""Levels of nesting; a pipeline nests about ten (a JSON schema in generation_kwargs, twenty)."""
MAX_INT_DIGITS = 4300
"""Python refuses to read longer decimal integers (`sys.get_int_max_str_digits`)."""

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null")}
_SEQUENCE_TAGS = {f"{_CORE}seq", f"{_CORE}python/tuple"}  # Haystack writes tuples this way
_MAPPING_TAGS = {f"{_CORE}map"}
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What YAML 1.2 forbids in a file: control characters (NUL, ESC, DEL...) and surrogates."""


class Refused(MarkedYAMLError):
    """A limit or rule this module enforces; its `problem` is the whole message."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(problem=message, problem_mark=mark)


def check_text(text: str) -> tuple[int, str] | None:
    """`(offset, message)` of the first thing in `text` a pipeline file may not hold, or None."""
    if len(text) > MAX_FILE_BYTES:
        return 0, (
            f"the pipeline holds {len(text):,} characters; a pipeline file may hold at most "
            f"{MAX_FILE_BYTES:,} (512 KiB)"
        )
    bad = _NOT_PRINTABLE.search(text)
    if bad is None:
        return None
    char = bad.group(0)
    name = {"\0": " (NUL)", "\x1b": " (ESC)", "\x7f": " (DEL)"}.get(char, "")
    hint = ""
    if char == "\0" and text.count("\0") * 3 > len(text):
        hint = "; a file that is mostly NUL characters is usually UTF-16: save it as UTF-8"
    escape = f'"\\x{ord(char):02x}"' if ord(char) < 256 else f'"\\u{ord(char):04x}"'
    return bad.start(), (
        f"the character U+{ord(char):04X}{name} is not allowed in a YAML file (control "
        f"characters and lone surrogates are not); write it as the escape {escape} inside a "
        f"double-quoted string{hint}"
    )


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character `offset` of `text`."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class BoundedScanner(RoundTripScanner):
    """ruamel's scanner, refusing flow collections (`[`, `{`) nested past `MAX_DEPTH`.

    Checked here, before the composer sees anything: the scanner reads a whole line of flow
    YAML ahead, and its work per token grows with the flow nesting, so `[[[[...` on one line
    would cost quadratic time before the composer could refuse it.
    """

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise Refused(
                f"the YAML nests deeper than {MAX_DEPTH} levels here; a pipeline file may nest "
                f"at most {MAX_DEPTH}",
                self.reader.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass, to_push)


class BoundedComposer(Composer):
    """ruamel's composer, measuring each node as it completes and refusing what breaks a rule.

    For each node it keeps the expanded size and height of what it stands for; an alias adds
    those of the node it names, so a bomb is refused at the first alias that crosses a limit,
    before anything is expanded. An alias to a node still being composed is a cycle.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # redefining an anchor is valid YAML
        self._nesting = 0
        self._composed = 0
        self._measures: dict[int, tuple[int, int]] = {}

    def compose_document(self) -> Any:
        event = self.parser.peek_event()
        if getattr(event, "tags", None):
            raise Refused(
                "%TAG directives are not supported: a pipeline file holds plain values, and "
                "needs no tags of its own",
                event.start_mark,
            )
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._measures:
                raise Refused(
                    f"the alias *{event.anchor} names a mapping or list that contains it: "
                    "it would never end",
                    event.start_mark,
                )
            return node
        self._nesting += 1
        self._composed += 1
        if self._composed > MAX_NODES:  # counted as they come: a long flat list stops here
            raise Refused(
                f"the file holds more than {MAX_NODES:,} values; a pipeline file may hold at "
                f"most {MAX_NODES:,}",
                event.start_mark,
            )
        if self._nesting > MAX_DEPTH:
            raise Refused(
                f"the YAML nests deeper than {MAX_DEPTH} levels here; a pipeline file may nest "
                f"at most {MAX_DEPTH}",
                event.start_mark,
            )
        self._check_tag(event)
        node = super().compose_node(parent, index)
        self._nesting -= 1
        self._measure(node)
        return node

    def _check_tag(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            return
        if isinstance(event, ScalarEvent):
            allowed = _SCALAR_TAGS
        elif type(event).__name__ == "SequenceStartEvent":
            allowed = _SEQUENCE_TAGS
        else:
            allowed = _MAPPING_TAGS
        shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
        if tag not in allowed:
            raise Refused(
                f"the YAML tag {shown} is not supported: a pipeline file holds plain values "
                "(strings, numbers, true/false, null, lists and mappings); remove the tag",
                event.start_mark,
            )
        if isinstance(event, ScalarEvent) and tag != f"{_CORE}str":
            implicit = str(self.resolver.resolve(ScalarNode, event.value, (True, False)))
            if implicit != tag and not (tag == f"{_CORE}float" and implicit == f"{_CORE}int"):
                kind = tag[len(_CORE) :]
                raise Refused(
                    f"{shown} {_short(event.value)}: the value is not a {kind}", event.start_mark
                )

    def _measure(self, node: Any) -> None:
        if isinstance(node, ScalarNode):
            size, height = 1, 1
            if str(node.tag) == f"{_CORE}int" and _digits(node.value) > MAX_INT_DIGITS:
                raise Refused(
                    f"an integer of {_digits(node.value):,} digits; at most {MAX_INT_DIGITS} "
                    "are allowed (quote it to keep it as text)",
                    node.start_mark,
                )
        else:
            if isinstance(node, MappingNode):
                for key, _ in node.value:
                    if not isinstance(key, ScalarNode):
                        raise Refused(
                            "a mapping key must be a plain value such as a name; found a "
                            f"{'list' if isinstance(key, SequenceNode) else 'mapping'} used as "
                            "a key ('? [...]' or '? {...}')",
                            key.start_mark,
                        )
                children = [child for pair in node.value for child in pair]
            else:
                children = node.value
            measured = [self._measures[id(child)] for child in children]
            size = 1 + sum(m[0] for m in measured)
            height = 1 + max((m[1] for m in measured), default=0)
        if size > MAX_NODES:
            raise Refused(
                f"this value stands for more than {MAX_NODES:,} values once its aliases are "
                f"expanded; a pipeline file may hold at most {MAX_NODES:,}",
                node.start_mark,
            )
        if height > MAX_DEPTH:
            raise Refused(
                f"this value nests deeper than {MAX_DEPTH} levels once its aliases are "
                f"expanded; a pipeline file may nest at most {MAX_DEPTH}",
                node.start_mark,
            )
        self._measures[id(node)] = (size, height)


class GuardedConstructor(RoundTripConstructor):
    """ruamel's round-trip constructor; a value it cannot build is a located error."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except YAMLError:
            raise
        except Exception as exc:  # a timestamp such as 2024-13-45, a merge of a scalar, ...
            raise Refused(
                f"cannot read this value: {type(exc).__name__}: {exc}", node.start_mark
            ) from None


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
