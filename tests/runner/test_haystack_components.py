"""Classes decorated with Haystack's @component are read through ragrun's socket view."""

from __future__ import annotations

from typing import Any

import pytest

from ragrun import sockets_of

haystack = pytest.importorskip("haystack")
from haystack.core.component.types import Variadic as HaystackVariadic  # noqa: E402


@haystack.component
class HayJoin:
    @haystack.component.output_types(out=str)
    def run(self, parts: HaystackVariadic[str], sep: str = "-") -> dict[str, Any]:
        return {"out": sep.join(parts)}


def test_haystack_sockets_resolve_string_annotations_and_variadics() -> None:
    sockets = sockets_of(HayJoin())
    assert sockets.inputs["parts"].variadic and sockets.inputs["parts"].type is str
    assert sockets.inputs["sep"].default == "-" and not sockets.inputs["sep"].is_required
    assert sockets.outputs["out"].type is str
