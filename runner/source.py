"""YAML text read into plain data, with the line and column of every mapping key and list item.

Validation reports each mistake at its place in the file, so the parser keeps positions beside
the data: `Source.locate(("components", "llm", "init_parameters", "model"))` gives the
`Location` of the `model:` key. ruamel.yaml's round-trip loader records these positions; the
data handed on is plain `dict` / `list` / `str` / `int` / `float` / `bool` / `None`.
A YAML syntax error becomes a located `PipelineValidationError`, never a traceback.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Location, Problem
from .errors import PipelineValidationError

PathKey = tuple[str | int, ...]
"""A path into the data: mapping keys and list indices, such as `("connections", 2, "receiver")`."""


@dataclass(frozen=True)
class Filled:
    """A string whose `${VAR}` references were filled from the environment."""

    written: str
    """The text as the file has it, `${OPENAI_API_KEY}`: what messages show."""
    variables: tuple[str, ...]
    """The variables whose values were put in."""


@dataclass
class Source:
    """Parsed YAML: the plain data, where each part of it came from, and the file's name."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """1-based (line, column) of each mapping key and list item, by path."""
    overridden: set[PathKey] = field(default_factory=set)
    """Paths set from the command line (`--set`): they have no place in the file."""
    unfilled: set[PathKey] = field(default_factory=set)
    """Paths whose `${VAR}` could not be filled: already reported, so later checks skip them."""
    filled: dict[PathKey, Filled] = field(default_factory=dict)
    """Paths whose string was filled from the environment, with the text as written."""
    filled_values: dict[str, str] = field(default_factory=dict, repr=False)
    """The value of each variable used, kept only to take it out of messages (`redact`)."""

    def locate(self, path: Sequence[str | int]) -> Location | None:
        """The location of `path`, or of its nearest ancestor present in the file."""
        path = tuple(path)
        while True:
            if path in self.overridden:
                return None
            position = self.positions.get(path)
            if position is not None:
                return Location(self.file, *position)
            if not path:
                return Location(self.file, 1, 1)
            path = path[:-1]

    def problem(self, path: Sequence[str | int], message: str, where: str | None = None) -> Problem:
        """A `Problem` located at `path`; `where` defaults to the path written as YAML."""
        text = path_text(path) if where is None else where
        return Problem(text, message, self.locate(path))


def path_text(path: Sequence[str | int]) -> str:
    """`("connections", 2, "receiver")` -> `connections[2].receiver`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_file(path: str | Path) -> Source:
    """Parse a YAML file; an unreadable file, a file that is not UTF-8, or bad YAML raises
    `PipelineValidationError`, located as closely as the mistake allows."""
    from .yaml_limits import MAX_FILE_BYTES

    file = str(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # never more: the file may be endless
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PipelineValidationError(
            [Problem(file, f"cannot read the pipeline file: {reason}")]
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise PipelineValidationError(
            [
                Problem(
                    "",
                    f"the file is larger than {MAX_FILE_BYTES:,} bytes (512 KiB), the most a "
                    "pipeline file may hold",
                    Location(file, 1, 1),
                )
            ]
        )
    return parse(decode(data, file), file)


_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)


def decode(data: bytes, file: str) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped); anything else is a located error."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            raise PipelineValidationError(
                [
                    Problem(
                        "",
                        f"the file is {encoding} (it starts with a {encoding} byte-order mark); "
                        "pipeline files are UTF-8: save it as UTF-8",
                        Location(file, 1, 1),
                    )
                ]
            )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        byte = data[exc.start]
        raise PipelineValidationError(
            [
                Problem(
                    "",
                    f"the file is not valid UTF-8: byte 0x{byte:02x} cannot "
                    f"{'start' if 'start' in exc.reason else 'continue'} a character here "
                    "(is it Latin-1 or Windows-1252?); save it as UTF-8",
                    Location(file, line, column),
                )
            ]
        ) from None


def parse(text: str, file: str = "<string>") -> Source:
    """Parse YAML text within the limits of `yaml_limits.py`; bad YAML raises
    `PipelineValidationError` located at the mistake."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from .yaml_limits import check_text, line_and_column

    text = text.removeprefix("\ufeff")
    refused = check_text(text)
    if refused is not None:
        offset, message = refused
        raise PipelineValidationError(
            [Problem("", message, Location(file, *line_and_column(text, offset)))]
        )
    try:
        tree = _yaml().load(text)
    except MarkedYAMLError as exc:
        raise PipelineValidationError([_syntax_problem(exc, file)]) from None
    except YAMLError as exc:  # errors without a mark (a reader error has a position)
        position = getattr(exc, "position", None)
        where = (
            Location(file, *line_and_column(text, position))
            if position is not None
            else Location(file, 1, 1)
        )
        raise PipelineValidationError([Problem("", f"invalid YAML: {exc}", where)]) from None
    source = Source(file, None)
    problems: list[Problem] = []
    source.data = _plain(tree, (), source, problems)
    if problems:
        raise PipelineValidationError(problems)
    return source


def _yaml() -> Any:
    """A round-trip loader (it keeps positions) that enforces the limits as it composes."""
    from ruamel.yaml import YAML

    from .yaml_limits import BoundedComposer, BoundedScanner, GuardedConstructor

    yaml = YAML(typ="rt")
    yaml.Scanner = BoundedScanner
    yaml.Composer = BoundedComposer
    yaml.Constructor = GuardedConstructor
    return yaml


_DUPLICATE = re.compile(r'found duplicate key "(?P<key>.*?)" with value')


def _syntax_problem(exc: Any, file: str) -> Problem:
    from .yaml_limits import Refused

    mark = exc.problem_mark or exc.context_mark
    location = Location(file, mark.line + 1, mark.column + 1) if mark is not None else None
    if isinstance(exc, Refused):
        return Problem("", exc.problem, location)
    message = f"invalid YAML: {exc.problem or exc.context}"
    duplicate = _DUPLICATE.match(exc.problem or "")
    if duplicate:  # ruamel's message quotes both values in full; the key is what matters
        message = f"invalid YAML: duplicate key '{duplicate['key']}'; each key may appear once"
    if exc.context and exc.problem:
        context = exc.context
        if exc.context_mark is not None and exc.context_mark is not mark:
            context += f" that starts at {exc.context_mark.line + 1}:{exc.context_mark.column + 1}"
        message += f" ({context})"
    return Problem("", message, location)


def _plain(node: Any, path: PathKey, source: Source, problems: list[Problem]) -> Any:
    """Copy ruamel's round-trip nodes into plain Python values, recording positions.

    Keys merged in with `<<: *defaults` take the position where the anchored mapping writes
    them. The limits were checked while composing, so this recursion is shallow and bounded.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            position = _key_position(node, key)
            key = _plain_key(key)
            if position is not None:
                source.positions[(*path, key)] = position
            out[key] = _plain(value, (*path, key), source, problems)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            position = _item_position(node, index)
            if position is not None:
                source.positions[(*path, index)] = position
            items.append(_plain(value, (*path, index), source, problems))
        return items
    if isinstance(node, TaggedScalar):
        if str(node.tag) == "tag:yaml.org,2002:str":
            return str(node.value)
        problems.append(
            source.problem(path, f"unsupported YAML tag '{node.tag}'; write plain values")
        )
        return None
    return _plain_scalar(node)


def _key_position(node: Any, key: Any) -> tuple[int, int] | None:
    data = getattr(node.lc, "data", None) or {}
    if key in data:
        line, column = data[key][:2]
        return line + 1, column + 1
    for merged in getattr(node, "merge", None) or ():
        # ruamel 0.18 keeps (index, mapping) pairs, 0.19 the mappings themselves
        mapping = merged[1] if isinstance(merged, tuple) else merged
        if key in mapping:
            return _key_position(mapping, key)
    return _own_position(node)


def _item_position(node: Any, index: int) -> tuple[int, int] | None:
    data = getattr(node.lc, "data", None) or {}
    if index in data:
        line, column = data[index][:2]
        return line + 1, column + 1
    return _own_position(node)  # a tagged list keeps no item positions


def _own_position(node: Any) -> tuple[int, int] | None:
    line, column = getattr(node.lc, "line", None), getattr(node.lc, "col", None)
    return (line + 1, column + 1) if line is not None and column is not None else None


def _plain_key(key: Any) -> Any:
    # Keys such as `1:` or `true:` stay what YAML says they are; strings lose ruamel's subclass,
    # and `!!str 5:` (ruamel keeps the tag) is the string "5".
    if isinstance(key, str):
        return str(key)
    if type(key).__name__ == "TaggedScalar":
        return str(key.value)
    return _plain_scalar(key)


def _plain_scalar(value: Any) -> Any:
    # ruamel returns subclasses (ScalarFloat, LiteralScalarString, ScalarBoolean, ...) that
    # carry formatting; plain types compare, hash and serialize like the user expects.
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, bool) or type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.datetime):
        return datetime.datetime.fromisoformat(value.isoformat())
    return value
