"""Connections between sockets: parsing `component.socket`, short forms, and the type rules.

Both `Pipeline.connect` and the YAML loader resolve connections here, so the same mistake gets the
same message whichever way the pipeline was built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .sockets import Sockets
from .suggest import did_you_mean
from .typecheck import is_compatible, type_name


@dataclass(frozen=True)
class Connection:
    """An edge of the graph: `sender.sender_socket -> receiver.receiver_socket`."""

    sender: str
    sender_socket: str
    receiver: str
    receiver_socket: str

    def __str__(self) -> str:
        return f"{self.sender}.{self.sender_socket} -> {self.receiver}.{self.receiver_socket}"


class ConnectionProblem(ValueError):
    """A connection that cannot be made; `field` is `sender` or `receiver` (or "" for both)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def split_address(address: str) -> tuple[str, str | None]:
    """`'llm.messages'` -> `('llm', 'messages')`; `'llm'` -> `('llm', None)`."""
    component, dot, socket = address.partition(".")
    return component, (socket if dot else None)


def resolve(
    sockets: Mapping[str, Sockets],
    classes: Mapping[str, str],
    sender: str,
    receiver: str,
    existing: list[Connection] | tuple[Connection, ...] = (),
) -> Connection:
    """Resolve `sender` and `receiver` addresses into a checked `Connection`.

    Args:
        sockets: the sockets of every component, by component name.
        classes: the class name of every component, for messages.
        sender: `component.output` or `component` when it has one compatible output.
        receiver: `component.input` or `component` when it has one compatible input.
        existing: connections already made, to reject feeding a non-variadic socket twice.

    Raises:
        ConnectionProblem: with a message saying what was expected and what was found.
    """
    s_name, s_socket = split_address(sender)
    r_name, r_socket = split_address(receiver)
    _check_component("sender", s_name, sockets)
    _check_component("receiver", r_name, sockets)
    outs, ins = sockets[s_name].outputs, sockets[r_name].inputs
    if s_socket is not None and s_socket not in outs:
        raise ConnectionProblem(
            "sender",
            f"'{sender}' is not an output of '{s_name}' ({classes[s_name]}); "
            f"its outputs are {_listing(outs)}.{did_you_mean(s_socket, outs)}",
        )
    if r_socket is not None and r_socket not in ins:
        raise ConnectionProblem(
            "receiver",
            f"'{receiver}' is not an input of '{r_name}' ({classes[r_name]}); "
            f"its inputs are {_listing(ins)}.{did_you_mean(r_socket, ins)}",
        )
    pairs = [
        (o, i)
        for o in ([s_socket] if s_socket else list(outs))
        for i in ([r_socket] if r_socket else list(ins))
        if is_compatible(outs[o].type, ins[i].type)
    ]
    if not pairs:
        raise ConnectionProblem("", _incompatible(sender, receiver, s_socket, r_socket, outs, ins))
    if len(pairs) > 1:
        options = ", ".join(f"{s_name}.{o} -> {r_name}.{i}" for o, i in pairs)
        raise ConnectionProblem(
            "", f"'{sender}' -> '{receiver}' is ambiguous: name the sockets; candidates: {options}"
        )
    out, inp = pairs[0]
    connection = Connection(s_name, out, r_name, inp)
    _check_not_fed_twice(connection, ins[inp].variadic, existing)
    return connection


def _check_component(field: str, name: str, sockets: Mapping[str, Sockets]) -> None:
    if name not in sockets:
        known = ", ".join(sorted(sockets)) or "none"
        raise ConnectionProblem(
            field,
            f"no component named '{name}'; components are {known}.{did_you_mean(name, sockets)}",
        )


def _incompatible(sender, receiver, s_socket, r_socket, outs, ins) -> str:  # type: ignore[no-untyped-def]
    if s_socket and r_socket:
        return (
            f"'{sender}' ({type_name(outs[s_socket].type)}) cannot feed '{receiver}' "
            f"({type_name(ins[r_socket].type)}): the types are incompatible"
        )
    return (
        f"no compatible sockets between '{sender}' (outputs {_listing(outs)}) and "
        f"'{receiver}' (inputs {_listing(ins)})"
    )


def _check_not_fed_twice(connection: Connection, variadic: bool, existing) -> None:  # type: ignore[no-untyped-def]
    if variadic:
        return
    for other in existing:
        if (other.receiver, other.receiver_socket) == (
            connection.receiver,
            connection.receiver_socket,
        ):
            raise ConnectionProblem(
                "receiver",
                f"'{connection.receiver}.{connection.receiver_socket}' is already fed by "
                f"'{other.sender}.{other.sender_socket}'; only a Variadic input accepts many "
                "senders (join them with a joiner component)",
            )


def _listing(sockets: Mapping) -> str:  # type: ignore[type-arg]
    if not sockets:
        return "none"
    return ", ".join(f"{s.name} ({type_name(s.type)})" for s in sockets.values())
