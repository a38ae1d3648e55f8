"""`Graph`: a pipeline compiled once for running — indexes the executor reads on every run.

`Pipeline.graph()` builds it on first use and keeps it until the pipeline changes, so a run only
copies a few counters instead of rescanning connections. The graph must be acyclic: loops are
not supported yet, and a cycle is reported as `a -> b -> a` before anything runs.

A required input socket that nothing feeds is fine here: its value comes from the run's data
(see `inputs.py`, which says what is missing).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .connections import Connection
from .diagnostics import Problem
from .errors import PipelineValidationError

if TYPE_CHECKING:
    from .pipeline import Node, Pipeline


@dataclass(frozen=True)
class Edge:
    """Where one connection delivers: a receiver's input socket, and its place among the senders
    of that socket (a Variadic socket lists values in connection order, not arrival order)."""

    receiver: str
    socket: str
    slot: int


@dataclass(frozen=True, eq=False)
class Graph:
    """The indexes one run needs, computed once per pipeline definition."""

    nodes: Mapping[str, Node]
    """Every component by name, in the order they were added."""
    senders: Mapping[str, Mapping[str, int]]
    """For each component, each input socket's number of feeding connections (0 when unfed)."""
    incoming: Mapping[str, tuple[Connection, ...]]
    """For each component, the connections feeding it, in declaration order."""
    outgoing: Mapping[str, Mapping[str, tuple[Edge, ...]]]
    """For each component, where each of its output sockets goes (consumed sockets only)."""
    order: tuple[str, ...]
    """Components in topological order (senders before receivers, ties in insertion order)."""

    @classmethod
    def build(cls, pipeline: Pipeline, *, allow_cycles: bool = False) -> Graph:
        """Compile `pipeline`; raises `PipelineValidationError` naming a cycle if there is one.

        Args:
            pipeline: the definition to compile.
            allow_cycles: build a cyclic graph anyway (for drawing it, or for tests of the
                executor's stuck-run report); `order` then holds only the acyclic part.
        """
        nodes = dict(pipeline.nodes)
        senders = {name: dict.fromkeys(node.sockets.inputs, 0) for name, node in nodes.items()}
        incoming: dict[str, list[Connection]] = {name: [] for name in nodes}
        outgoing: dict[str, dict[str, list[Edge]]] = {name: {} for name in nodes}
        for c in pipeline.connections:
            edge = Edge(c.receiver, c.receiver_socket, senders[c.receiver][c.receiver_socket])
            senders[c.receiver][c.receiver_socket] += 1
            incoming[c.receiver].append(c)
            outgoing[c.sender].setdefault(c.sender_socket, []).append(edge)
        order = _topological_order(nodes, incoming, outgoing)
        if len(order) < len(nodes) and not allow_cycles:
            cycle = _find_cycle([n for n in nodes if n not in set(order)], outgoing)
            raise PipelineValidationError([_cycle_problem(cycle)])
        return cls(
            nodes=nodes,
            senders=senders,
            incoming={name: tuple(cs) for name, cs in incoming.items()},
            outgoing={n: {s: tuple(cs) for s, cs in by.items()} for n, by in outgoing.items()},
            order=tuple(order),
        )

    def is_consumed(self, component: str, socket: str) -> bool:
        """True when a connection takes this output socket to another component."""
        return socket in self.outgoing[component]


_Outgoing = Mapping[str, Mapping[str, list[Edge]]]


def _topological_order(
    nodes: Mapping[str, object], incoming: Mapping[str, list[Connection]], outgoing: _Outgoing
) -> list[str]:
    """Kahn's algorithm; components left out of the result sit on (or behind) a cycle."""
    indegree = {name: len(incoming[name]) for name in nodes}
    ready = deque(name for name in nodes if indegree[name] == 0)
    order: list[str] = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for edges in outgoing[name].values():
            for c in edges:
                indegree[c.receiver] -= 1
                if indegree[c.receiver] == 0:
                    ready.append(c.receiver)
    return order


def _find_cycle(candidates: list[str], outgoing: _Outgoing) -> list[str]:
    """One cycle among `candidates` (components Kahn's algorithm could not order), closed."""
    inside = set(candidates)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in candidates:
        if start in state:
            continue
        path: list[str] = [start]
        stack = [iter(_successors(start, outgoing, inside))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(_successors(nxt, outgoing, inside)))
    raise AssertionError(f"no cycle among {candidates}")  # Kahn's leftovers always hold one


def _successors(name: str, outgoing: _Outgoing, inside: set[str]) -> list[str]:
    seen: dict[str, None] = {}
    for edges in outgoing[name].values():
        for edge in edges:
            if edge.receiver in inside:
                seen[edge.receiver] = None
    return list(seen)


def _cycle_problem(cycle: list[str]) -> Problem:
    path = " -> ".join(cycle)
    return Problem(
        "connections",
        f"the connections form a cycle: {path}; loops are not supported yet "
        "(remove one of these connections)",
    )
