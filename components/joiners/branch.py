"""BranchJoiner: one output fed by whichever of several branches delivered (loops, routers)."""

from __future__ import annotations

from typing import Any

from ragrun import Variadic, component
from ragrun.typecheck import type_name

from ..type_names import parse_type


@component
class BranchJoiner:
    """Pass on the one value that arrived on `value` from any of several senders.

    Same name, init parameter and sockets as Haystack's BranchJoiner: input `value` (variadic,
    many senders) and output `value`, both of type `type_`. Typical uses: joining the branches
    of a ConditionalRouter, or closing a loop (the first input, then the retried one).

    Args:
        type_: the type of the value, as a type or as text such as `"list[Document]"`,
            `"str"` or Haystack's `"list[haystack.dataclasses.document.Document]"` (read by a
            whitelist parser, never evaluated; see `components/type_names.py`).

    Example:
        >>> joiner = BranchJoiner("str")
        >>> joiner.run(value=["only this"])
        {'value': 'only this'}
    """

    ragrun_on_loop = True
    """Runs on the event loop: a call takes microseconds, less than a worker-thread hop."""

    def __init__(self, type_: Any) -> None:
        self.type_ = parse_type(type_)
        component.set_input_type(self, "value", Variadic[self.type_])
        component.set_output_types(self, value=self.type_)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        """Return the value received.

        Raises:
            ValueError: none or more than one value arrived in this run.
        """
        values = kwargs.get("value") or []
        if len(values) != 1:
            raise ValueError(
                f"BranchJoiner ({type_name(self.type_)}) expects exactly one value per run, "
                f"received {len(values)}; make sure only one of its senders delivers"
            )
        return {"value": values[0]}
