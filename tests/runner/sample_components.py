"""Small components the loader tests and the invalid-YAML corpus name by dotted path.

They stand apart from the built-ins so the loader's tests do not depend on them, and they cover
what the loader must handle: required and typed init parameters, a Literal, a secret, a nested
store shared between a writer and a searcher, a Variadic join, and a constructor that refuses
a value.
"""

from __future__ import annotations

from typing import Any, Literal

from ragrun import Document, Secret, Variadic, component


class NoteStore:
    """A document store (not a component): built from a nested `{type, init_parameters}`."""

    def __init__(self, path: str = "", dims: int = 3) -> None:
        self.path = path
        self.dims = dims
        self.documents: list[Document] = []


@component
class Upper:
    """Upper-case a text and add a suffix."""

    def __init__(self, suffix: str = "!", times: int = 1) -> None:
        self.suffix = suffix
        self.times = times

    @component.output_types(text=str, length=int)
    def run(self, text: str) -> dict[str, Any]:
        out = (text.upper() + self.suffix) * self.times
        return {"text": out, "length": len(out)}


@component
class Template:
    """Fill `{text}` into a required template."""

    def __init__(self, template: str, mode: Literal["plain", "shout"] = "plain") -> None:
        self.template = template
        self.mode = mode

    @component.output_types(prompt=str)
    def run(self, text: str, extra: str = "") -> dict[str, Any]:
        prompt = self.template.format(text=text) + extra
        return {"prompt": prompt.upper() if self.mode == "shout" else prompt}


@component
class Counter:
    """Count the characters of a text (an int output, to make a type mismatch)."""

    @component.output_types(count=int)
    def run(self, text: str) -> dict[str, Any]:
        return {"count": len(text)}


@component
class Repeat:
    """Repeat a text: an int input, to feed from a public input of the wrong type."""

    @component.output_types(text=str)
    def run(self, text: str, times: int = 1) -> dict[str, Any]:
        return {"text": text * times}


@component
class Gather:
    """Collect many texts as a list: a Variadic input the graph tests join into."""

    @component.output_types(all=list[str])
    def run(self, texts: Variadic[str]) -> dict[str, Any]:
        return {"all": list(texts)}


@component
class Concat:
    """Join many texts: a Variadic input."""

    def __init__(self, separator: str = " ") -> None:
        self.separator = separator

    @component.output_types(text=str)
    def run(self, texts: Variadic[str]) -> dict[str, Any]:
        return {"text": self.separator.join(texts)}


@component
class Keyed:
    """Holds a secret; never resolves it while loading."""

    def __init__(
        self, api_key: Secret = Secret.from_env_var("SAMPLE_API_KEY"), model: str = "m"
    ) -> None:
        self.api_key = api_key
        self.model = model

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        return {"text": f"{self.model}:{text}"}


@component
class Writer:
    """Write texts as documents into a store."""

    def __init__(self, store: NoteStore) -> None:
        self.store = store

    @component.output_types(written=int)
    def run(self, text: str) -> dict[str, Any]:
        self.store.documents.append(Document(content=text))
        return {"written": len(self.store.documents)}


@component
class Search:
    """Return the store's documents, at most `top_k`."""

    def __init__(self, store: NoteStore, top_k: int = 5) -> None:
        self.store = store
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, query: str) -> dict[str, Any]:
        return {"documents": self.store.documents[: self.top_k]}


@component
class Picky:
    """Refuses a negative limit in its constructor."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        self.limit = limit

    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        return {"text": text[: self.limit]}


def shout(text: str) -> str:
    """A function, not a class: naming it as a `type` is a mistake."""
    return text.upper()
