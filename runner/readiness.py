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

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple

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
_NOTHING: Mapping[str, Any] = MappingProxyType({})


class _Delivery(NamedTuple):
    """One connection, as the state settles it: an `Edge` plus precomputed lookups."""

    receiver: str
    socket: str
    slot: int
    variadic: bool
    counter: int
    """Index of the receiver socket's pending-sender counter."""


@dataclass(frozen=True)
class _Plan:
    """A graph's scheduling tables, built once per graph so a run only copies counters."""

    counters: dict[str, dict[str, int]]
    """Index of each fed input socket's pending-sender counter."""
    pending: list[int]
    """Initial pending-sender counts, by counter index."""
    blocked: dict[str, int]
    """Initial number of fed input sockets of each component."""
    outgoing: dict[str, tuple[tuple[str, tuple[_Delivery, ...]], ...]]
    """Each component's consumed output sockets and their deliveries."""
    inputs: dict[str, tuple[tuple[str, bool, bool], ...]]
    """Each component's input sockets: (name, variadic, required), in declaration order."""
    required: dict[str, tuple[str, ...]]
    """Each component's required input sockets, in declaration order."""
    fed: frozenset[str]
    """Components with at least one incoming connection."""

    @classmethod
    def of(cls, graph: Graph) -> _Plan:
        """The plan of `graph` (built on first use)."""
        plan = _PLANS.get(graph)
        if plan is None:
            plan = _PLANS[graph] = cls._build(graph)
        return plan

    @classmethod
    def _build(cls, graph: Graph) -> _Plan:
        counters: dict[str, dict[str, int]] = {}
        pending: list[int] = []
        for name, counts in graph.senders.items():
            counters[name] = {}
            for socket, count in counts.items():
                if count:
                    counters[name][socket] = len(pending)
                    pending.append(count)
        inputs = {
            name: tuple((s, i.variadic, i.is_required) for s, i in node.sockets.inputs.items())
            for name, node in graph.nodes.items()
        }
        outgoing = {
            name: tuple(
                (socket, tuple(_delivery(graph, counters, edge) for edge in edges))
                for socket, edges in by_socket.items()
            )
            for name, by_socket in graph.outgoing.items()
        }
        return cls(
            counters=counters,
            pending=pending,
            blocked={name: len(c) for name, c in counters.items()},
            outgoing=outgoing,
            inputs=inputs,
            required={name: tuple(s for s, _, req in ins if req) for name, ins in inputs.items()},
            fed=frozenset(name for name, cs in graph.incoming.items() if cs),
        )


def _delivery(graph: Graph, counters: dict[str, dict[str, int]], edge: Edge) -> _Delivery:
    variadic = graph.nodes[edge.receiver].sockets.inputs[edge.socket].variadic
    counter = counters[edge.receiver][edge.socket]
    return _Delivery(edge.receiver, edge.socket, edge.slot, variadic, counter)


_PLANS: weakref.WeakKeyDictionary[Graph, _Plan] = weakref.WeakKeyDictionary()


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
        plan = self._plan = _Plan.of(graph)
        self._pending = list(plan.pending)
        self._blocked = dict(plan.blocked)
        self._run_inputs = run_inputs
        self._values: dict[str, dict[str, Any]] = {}
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
        for socket, deliveries in self._plan.outgoing[component]:
            self._settle(deliveries, outputs.get(socket, _MISSING), step)
        return step

    def inputs_for(self, component: str) -> dict[str, Any]:
        """The keyword arguments for a ready component (unset optional inputs left out)."""
        given = self._run_inputs.get(component, _NOTHING)
        values = self._values.get(component, _NOTHING)
        kwargs: dict[str, Any] = {}
        for name, variadic, required in self._plan.inputs[component]:
            if variadic:
                items = _variadic_items(given.get(name, _MISSING), values.get(name))
                if items or required:
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
            for socket, counter in self._plan.counters[name].items():
                if self._pending[counter]:
                    senders = tuple(
                        f"{c.sender}.{c.sender_socket}"
                        for c in self.graph.incoming[name]
                        if c.receiver_socket == socket and self.status[c.sender] is not Status.DONE
                    )
                    out.append(Wait(name, socket, senders))
        return out

    # -- internals -----------------------------------------------------------------------------

    def _settle(self, deliveries: Iterable[_Delivery], value: Any, step: Step) -> None:
        """Settle connections from one sender socket; decide receivers left with no pending."""
        pending, blocked = self._pending, self._blocked
        for delivery in deliveries:
            receiver, _, _, _, counter = delivery
            if value is not _MISSING:
                self._store(delivery, value)
            left = pending[counter] = pending[counter] - 1
            if left == 0:
                left = blocked[receiver] = blocked[receiver] - 1
                if left == 0:
                    self._decide(receiver, step)

    def _store(self, delivery: _Delivery, value: Any) -> None:
        self._triggered.add(delivery.receiver)
        values = self._values.get(delivery.receiver)
        if values is None:
            values = self._values[delivery.receiver] = {}
        if delivery.variadic:
            slots = values.get(delivery.socket)
            if slots is None:
                count = self.graph.senders[delivery.receiver][delivery.socket]
                slots = values[delivery.socket] = [_MISSING] * count
            slots[delivery.slot] = value
        else:
            values[delivery.socket] = value

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
        for _, deliveries in self._plan.outgoing[name]:
            self._settle(deliveries, _MISSING, step)

    def _skip_reason(self, name: str) -> str | None:
        """None when the component can run; otherwise why it is skipped."""
        if name not in self._triggered and name in self._plan.fed:
            return "none of its senders delivered a value"
        given = self._run_inputs.get(name, _NOTHING)
        values = self._values.get(name, _NOTHING)  # a key exists once a value arrived
        for socket in self._plan.required[name]:
            if socket not in given and socket not in values:
                return f"its required input '{socket}' received no value"
        return None


def _variadic_items(given: Any, slots: list[Any] | None) -> list[Any]:
    items = [] if given is _MISSING else [given]
    if slots:
        items.extend(v for v in slots if v is not _MISSING)
    return items
