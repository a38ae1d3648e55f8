"""Problems found while loading or checking a pipeline, with the place in the file they come from.

A `Problem` renders as `FILE:LINE:COL: where: what` so editors and terminals can jump to it.
Validation collects problems and raises one `PipelineValidationError` holding them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A position in a source file; line and column count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One mistake: where it is (a path in the YAML), what was expected and what was found."""

    where: str
    """The YAML path of the offending value, such as `connections[2].receiver`."""
    message: str
    """What was expected, what was found, and a did-you-mean when a name is misspelt."""
    location: Location | None = None

    def render(self) -> str:
        """`FILE:LINE:COL: where: message`, or `where: message` without a location."""
        prefix = f"{self.location}: " if self.location else ""
        where = f"{self.where}: " if self.where else ""
        return f"{prefix}{where}{self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        """Problems sort by file position; those without one come last."""
        if self.location is None:
            return ("\uffff", 0, 0, self.where)
        loc = self.location
        return (loc.file, loc.line, loc.column, self.where)
