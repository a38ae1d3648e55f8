"""Components and classes the loader's safety tests name by dotted path.

`Tracked` records every construction, so a test can tell that a declaration was not built;
`os` and `Path` are here to be reached through (`...untrusted_components.os.PathLike`), which
the registry must refuse.
"""

from __future__ import annotations

import os  # noqa: F401  (reached through by a test, which must be refused)
from pathlib import Path  # noqa: F401  (a class defined elsewhere, re-exported)
from typing import Any

from ragrun import component

BUILT: list[str] = []
"""The name of each object built, in order: what a test checks stayed empty."""


class Tracked:
    """A value type (a component parameter is annotated with it) that records being built."""

    def __init__(self, label: str = "") -> None:
        BUILT.append(f"Tracked({label})")
        self.label = label


class OtherTracked:
    """A document store (a value type) that is not a `Tracked`: it does not fit `Holder.store`."""

    def __init__(self, label: str = "") -> None:
        BUILT.append(f"OtherTracked({label})")

    def write_documents(self, documents: list[Any]) -> int:
        return len(documents)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Any]:
        return []

    def count_documents(self) -> int:
        return 0


class Plain:
    """A class that is no value type: not registered, not a component, not a store."""

    def __init__(self) -> None:
        BUILT.append("Plain")


@component
class Holder:
    """Takes a `Tracked` and a count."""

    def __init__(self, store: Tracked | None = None, count: int = 1) -> None:
        BUILT.append("Holder")
        self.store = store
        self.count = count

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        return {"text": text * self.count}


@component
class Loose:
    """Takes anything (`Any`): only the value-type rule stands between it and any class."""

    def __init__(self, thing: Any = None) -> None:
        BUILT.append("Loose")
        self.thing = thing

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        return {"text": text}


@component
class Echoing:
    """A constructor whose error quotes the value it was given, as many do."""

    def __init__(self, url: str) -> None:
        raise ValueError(f"cannot connect to {url}")

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        return {"text": text}
