"""TextFileToDocument: text files (paths, glob patterns or ByteStreams) into Documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragrun import ByteStream, Document, component

from .sources import decode, load


@component
class TextFileToDocument:
    """Read text files into Documents, one per file, with the file name in `meta["file_path"]`.

    Same name, init parameters and sockets as Haystack's TextFileToDocument; ragrun also expands
    glob patterns among the sources (`docs/**/*.txt`, see `sources.py`).

    Args:
        encoding: how the files are encoded; a ByteStream's `meta["encoding"]` overrides it. The
            default, `utf-8-sig` (Haystack's), reads UTF-8 and drops a byte order mark.
        store_full_path: keep the path as given in `file_path`, instead of the file name only.
    """

    def __init__(self, encoding: str = "utf-8-sig", store_full_path: bool = False) -> None:
        self.encoding = encoding
        self.store_full_path = store_full_path

    @component.output_types(documents=list[Document])
    def run(
        self,
        sources: list[str | Path | ByteStream],
        meta: dict[str, Any] | list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Convert the sources; unreadable or undecodable files are skipped with a warning.

        Args:
            sources: file paths, glob patterns or ByteStreams.
            meta: one dict for every document, or one dict per source (a pattern's dict goes
                to every file it matches).

        Returns:
            `{"documents": list[Document]}`, in source order (matches of a pattern sorted).
        """
        documents = []
        for loaded in load(sources, meta, store_full_path=self.store_full_path):
            text = decode(loaded, self.encoding)
            if text is not None:
                documents.append(Document(content=text, meta=loaded.meta))
        return {"documents": documents}
