"""`RunState`: which components of one run may start, kept with counters rather than rescans.

Every input socket counts the senders that have not settled yet. A sender settles a connection
either by delivering a value or by not delivering one: its output key is absent from the dict it
returned (a branch not taken, e.g. a ConditionalRouter's other routes), or it was skipped itself.
When the last pending sender of a component settles, the component is decided once:

- it is **ready** when every required input has a value (from a sender or from the run's data)
  and something triggered it: a sender delivered, the run's data fed it, or nothing can feed it
  (a component with no incoming connections);
- otherwise it is **skipped**, and its own outputs count as not delivered, so skipping flows
  down a branch that was not taken.

A Variadic socket receives the list of values that arrived, in connection order (a run's own
value first); a required Variadic socket needs at least one. An optional socket that got nothing
is left out of the call, so the component's default applies. The whole run costs
O(components + connections): each connection is settled exactly once.

The state is pure (no I/O, no clock): the executor feeds it finished components and starts what
it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .graph import Edge, Graph


class Status(Enum):
    """Where a component stands in one run."""

    WAITING = "waiting"
    READY = "ready"
    DONE = "done"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Skip:
    """A component that will not run in this run, and why."""

    component: str
    reason: str


@dataclass
class Step:
    """What changed after a component finished: components now ready, and those skipped."""

    ready: list[str] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


@dataclass(frozen=True)
class Wait:
    """One input socket a component still waits on, and the senders it waits for."""

    component: str
    socket: str
    senders: tuple[str, ...]
    """`component.socket` addresses that have neither delivered nor been skipped."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class RunState:
    """The scheduling state of one run of a compiled graph.

    Args:
        graph: the compiled pipeline.
        run_inputs: the run's own values, `{component: {socket: value}}` (see `inputs.py`);
            a value for a Variadic socket is one item of its list.
    """

    def __init__(self, graph: Graph, run_inputs: Mapping[str, Mapping[str, Any]]) -> None:
        self.graph = graph
        self.status: dict[str, Status] = dict.fromkeys(graph.nodes, Status.WAITING)
        self._pending = {name: dict(counts) for name, counts in graph.senders.items()}
        self._blocked = {
            name: sum(1 for n in counts.values() if n) for name, counts in graph.senders.items()
        }
        self._run_inputs = run_inputs
        self._values: dict[str, dict[str, Any]] = {name: {} for name in graph.nodes}
        self._triggered: set[str] = {name for name, given in run_inputs.items() if given}

    # -- transitions ---------------------------------------------------------------------------

    def start(self) -> Step:
        """Decide every component that waits on no sender; call once, before anything runs."""
        step = Step()
        for name in self.graph.order:
            if self._blocked[name] == 0 and self.status[name] is Status.WAITING:
                self._decide(name, step)
        return step

    def finish(self, component: str, outputs: Mapping[str, Any]) -> Step:
        """Record that `component` returned `outputs`; returns what that makes ready or skipped.

        An output socket whose key is absent from `outputs` did not deliver (branch not taken).
        """
        if self.status[component] is not Status.READY:
            raise RuntimeError(f"'{component}' finished while {self.status[component].value}")
        self.status[component] = Status.DONE
        step = Step()
        for socket, edges in self.graph.outgoing[component].items():
            self._settle(edges, outputs.get(socket, _MISSING), step)
        return step

    def inputs_for(self, component: str) -> dict[str, Any]:
        """The keyword arguments for a ready component (unset optional inputs left out)."""
        node = self.graph.nodes[component]
        given = self._run_inputs.get(component, {})
        values = self._values[component]
        kwargs: dict[str, Any] = {}
        for name, socket in node.sockets.inputs.items():
            if socket.variadic:
                items = _variadic_items(given.get(name, _MISSING), values.get(name))
                if items or socket.is_required:
                    kwargs[name] = items
            elif name in values:
                kwargs[name] = values[name]
            elif name in given:
                kwargs[name] = given[name]
        return kwargs

    # -- questions -----------------------------------------------------------------------------

    def unfinished(self) -> list[str]:
        """Components neither done nor skipped, in topological order."""
        done = (Status.DONE, Status.SKIPPED)
        return [n for n in self.graph.nodes if self.status[n] not in done]

    def waits(self) -> list[Wait]:
        """For every waiting component, each socket with senders still pending (stuck reports)."""
        out: list[Wait] = []
        for name in self.unfinished():
            if self.status[name] is not Status.WAITING:
                continue
            for socket, pending in self._pending[name].items():
                if pending:
                    senders = tuple(
                        f"{c.sender}.{c.sender_socket}"
                        for c in self.graph.incoming[name]
                        if c.receiver_socket == socket and self.status[c.sender] is not Status.DONE
                    )
                    out.append(Wait(name, socket, senders))
        return out

    # -- internals -----------------------------------------------------------------------------

    def _settle(self, edges: Iterable[Edge], value: Any, step: Step) -> None:
        """Settle connections from one sender socket; decide receivers left with no pending."""
        for edge in edges:
            if value is not _MISSING:
                self._store(edge, value)
            pending = self._pending[edge.receiver]
            pending[edge.socket] -= 1
            if pending[edge.socket] == 0:
                self._blocked[edge.receiver] -= 1
                if self._blocked[edge.receiver] == 0:
                    self._decide(edge.receiver, step)

    def _store(self, edge: Edge, value: Any) -> None:
        self._triggered.add(edge.receiver)
        values = self._values[edge.receiver]
        socket = self.graph.nodes[edge.receiver].sockets.inputs[edge.socket]
        if socket.variadic:
            slots = values.get(edge.socket)
            if slots is None:
                count = self.graph.senders[edge.receiver][edge.socket]
                slots = values[edge.socket] = [_MISSING] * count
            slots[edge.slot] = value
        else:
            values[edge.socket] = value

    def _decide(self, name: str, step: Step) -> None:
        reason = self._skip_reason(name)
        if reason is None:
            self.status[name] = Status.READY
            step.ready.append(name)
            return
        self._skip(name, reason, step)

    def _skip(self, name: str, reason: str, step: Step) -> None:
        self.status[name] = Status.SKIPPED
        step.skipped.append(Skip(name, reason))
        for edges in self.graph.outgoing[name].values():
            self._settle(edges, _MISSING, step)

    def _skip_reason(self, name: str) -> str | None:
        """None when the component can run; otherwise why it is skipped."""
        if name not in self._triggered and self.graph.incoming[name]:
            return "none of its senders delivered a value"
        given = self._run_inputs.get(name, {})
        values = self._values[name]  # a key exists only once a value arrived (Variadic too)
        for socket_name, socket in self.graph.nodes[name].sockets.inputs.items():
            if socket.is_required and socket_name not in given and socket_name not in values:
                return f"its required input '{socket_name}' received no value"
        return None


def _variadic_items(given: Any, slots: list[Any] | None) -> list[Any]:
    items = [] if given is _MISSING else [given]
    if slots:
        items.extend(v for v in slots if v is not _MISSING)
    return items
