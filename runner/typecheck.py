"""Whether a sender socket's type may feed a receiver socket's type, and readable type names.

The rules are Haystack's strict ones, so a graph valid there is valid here:
`Any` on either side matches; equal types match; a class matches its base classes; a receiver
union (including `Optional`) accepts a sender matching any of its arms, and a sender union only
when every arm is accepted; generics match when their origins do and their arguments match
pairwise; a bare `list` receiver accepts any `list[X]`.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Union, get_args, get_origin


def is_compatible(sender: Any, receiver: Any) -> bool:
    """Return True when a value declared as `sender` can be delivered to `receiver`."""
    sender, receiver = _strip_annotated(sender), _strip_annotated(receiver)
    if sender is Any or receiver is Any or sender == receiver:
        return True
    if _is_union(sender):
        return all(is_compatible(arm, receiver) for arm in get_args(sender))
    if _is_union(receiver):
        return any(is_compatible(sender, arm) for arm in get_args(receiver))
    return _generic_compatible(sender, receiver)


def _generic_compatible(sender: Any, receiver: Any) -> bool:
    s_origin, r_origin = get_origin(sender) or sender, get_origin(receiver) or receiver
    if not (isinstance(s_origin, type) and isinstance(r_origin, type)):
        return False
    try:
        if not issubclass(s_origin, r_origin):
            return False
    except TypeError:
        return False
    r_args, s_args = get_args(receiver), get_args(sender)
    if not r_args:
        return True
    if not s_args:
        # A bare `list` sender carries no promise about its items.
        return all(arg is Any for arg in r_args)
    if len(r_args) != len(s_args):
        return False
    return all(is_compatible(s, r) for s, r in zip(s_args, r_args, strict=True))


def _strip_annotated(t: Any) -> Any:
    while get_origin(t) is typing.Annotated:
        t = get_args(t)[0]
    return t


def _is_union(t: Any) -> bool:
    return get_origin(t) in (Union, types.UnionType)


_ABC_NAMES = {getattr(collections.abc, n): n for n in ("Sequence", "Mapping", "Iterable")}


def type_name(t: Any) -> str:
    """A short, readable name for a type: `list[Document]`, `str | None`, `Any`."""
    t = _strip_annotated(t)
    if t is Any:
        return "Any"
    if t is type(None):
        return "None"
    if _is_union(t):
        return " | ".join(type_name(arm) for arm in get_args(t))
    origin, args = get_origin(t), get_args(t)
    if origin is not None:
        base = _ABC_NAMES.get(origin) or getattr(origin, "__name__", repr(origin))
        return f"{base}[{', '.join(type_name(a) for a in args)}]" if args else base
    if t is Ellipsis:  # Callable[..., R]
        return "..."
    if isinstance(t, list):  # Callable's argument list: Callable[[int], str]
        return f"[{', '.join(type_name(a) for a in t)}]"
    if isinstance(t, type):
        return t.__name__
    return repr(t).replace("typing.", "")
