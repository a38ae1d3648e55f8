"""Graph rules checked after loading, one rule per function, each returning located problems.

Every rule takes a `CheckContext` (the built pipeline, its source and the YAML path of each
connection) and returns the problems it finds; `run_checks` runs them all. The graph search
itself (`find_cycles`) needs no YAML, so the Python API can use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .connections import Connection
from .diagnostics import Problem
from .pipeline import Pipeline
from .source import PathKey, Source
from .typecheck import is_compatible, type_name


@dataclass
class CheckContext:
    """What a rule may look at."""

    pipeline: Pipeline
    source: Source
    connection_paths: list[PathKey] = field(default_factory=list)
    """The YAML path of each of `pipeline.connections`, in the same order."""


def find_cycles(nodes: Iterable[str], connections: Sequence[Connection]) -> list[list[int]]:
    """Each cycle as the indices of its connections, the last one being the one that closes it.

    A depth-first search in declaration order; every back edge closes one reported cycle.
    """
    outgoing: dict[str, list[int]] = {n: [] for n in nodes}
    for index, connection in enumerate(connections):
        outgoing.setdefault(connection.sender, []).append(index)
        outgoing.setdefault(connection.receiver, [])
    state: dict[str, int] = dict.fromkeys(outgoing, 0)  # 0 new, 1 on the path, 2 done
    cycles: list[list[int]] = []
    for start in outgoing:
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(outgoing[start]))]
        path_edges: list[int] = []  # path_edges[k] leads from stack[k] to stack[k + 1]
        while stack:
            node, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                state[node] = 2
                stack.pop()
                if path_edges:
                    path_edges.pop()
                continue
            target = connections[edge].receiver
            if state[target] == 0:
                state[target] = 1
                stack.append((target, iter(outgoing[target])))
                path_edges.append(edge)
            elif state[target] == 1:
                position = next(i for i, (n, _) in enumerate(stack) if n == target)
                cycles.append([*path_edges[position:], edge])
    return cycles


def check_cycles(ctx: CheckContext) -> list[Problem]:
    """Loops are not supported yet: report each connection that closes a cycle."""
    connections = ctx.pipeline.connections
    problems = []
    for cycle in find_cycles(ctx.pipeline.nodes, connections):
        names = [connections[i].sender for i in cycle] + [connections[cycle[0]].sender]
        closing = connections[cycle[-1]]
        message = (
            f"'{closing.sender}.{closing.sender_socket}' -> "
            f"'{closing.receiver}.{closing.receiver_socket}' closes a cycle "
            f"({' -> '.join(names)}); ragrun does not run loops yet, so the graph must be acyclic"
        )
        problems.append(ctx.source.problem(ctx.connection_paths[cycle[-1]], message))
    return problems


def check_public_input_types(ctx: CheckContext) -> list[Problem]:
    """One public input gives one value, so the sockets it feeds must take the same type."""
    problems = []
    nodes = ctx.pipeline.nodes
    for public, addresses in ctx.pipeline.inputs.items():
        first_address, first_type = None, None
        for index, address in enumerate(addresses):
            component, _, socket = address.partition(".")
            kind = nodes[component].sockets.inputs[socket].type
            if first_address is None:
                first_address, first_type = address, kind
                continue
            if is_compatible(first_type, kind) or is_compatible(kind, first_type):
                continue
            path = ("inputs", public, index) if len(addresses) > 1 else ("inputs", public)
            problems.append(
                ctx.source.problem(
                    path,
                    f"'{address}' ({type_name(kind)}) cannot take the same value as "
                    f"'{first_address}' ({type_name(first_type)}); a public input gives one "
                    "value to every socket it feeds",
                )
            )
    return problems


RULES: tuple[Callable[[CheckContext], list[Problem]], ...] = (
    check_cycles,
    check_public_input_types,
)


def run_checks(ctx: CheckContext) -> list[Problem]:
    """Run every rule; return all the problems found."""
    return [problem for rule in RULES for problem in rule(ctx)]
