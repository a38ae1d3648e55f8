"""Which addresses LinkContentFetcher may connect to: public ones, and those the user allows.

URLs come from untrusted places (a batch line, a link on a crawled page), so a fetch must not
reach the machine's own services, the cloud metadata service or the private network behind it
(server-side request forgery). By default every address that is not public is refused:

- IPv4: loopback 127/8, private 10/8, 172.16/12, 192.168/16, link-local 169.254/16 (the cloud
  metadata service at 169.254.169.254), shared (carrier-grade NAT) 100.64/10, "this network"
  0/8 with the unspecified 0.0.0.0, multicast 224/4, reserved 240/4 and broadcast, the IETF,
  benchmarking and documentation blocks;
- IPv6: loopback ::1, unspecified ::, unique local fc00::/7, link-local fe80::/10, site-local
  fec0::/10, multicast ff00::/8, the IETF-reserved and documentation blocks; and an address
  that carries an IPv4 address (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16)
  is judged by the IPv4 address it carries;
- anything else Python's `ipaddress` does not call global.

The table is ours rather than `ipaddress`'s flags alone, whose answers differ between Python
versions. The check is made on addresses: a literal address in a URL, in any spelling the
system resolver accepts (`2130706433`, `0x7f000001`, `127.1`), is checked before anything is
sent, and a name is checked on the addresses it resolves to, at connect time (`backends.py`).

`allowed_hosts` lists what may be fetched anyway: host names (`intranet.example`, or
`*.corp.example` for its subdomains), addresses (`127.0.0.1`) and networks (`10.0.0.0/8`).
A listed name is fetched whatever it resolves to; an address is allowed when a listed network
holds it. `allow_private_hosts` allows everything.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_PRIVATE = "a private address"
_RESERVED = "a reserved address"
_DOCUMENTATION = "a documentation address"
_LINK_LOCAL = "a link-local address"
_MULTICAST = "a multicast address"

_REFUSED_V4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", 'a "this network" address'),
    ("10.0.0.0/8", _PRIVATE),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", f"{_LINK_LOCAL} (where cloud metadata services answer)"),
    ("172.16.0.0/12", _PRIVATE),
    ("192.0.0.0/24", _RESERVED),  # IETF protocol assignments
    ("192.0.2.0/24", _DOCUMENTATION),
    ("192.88.99.0/24", _RESERVED),  # the retired 6to4 relay anycast
    ("192.168.0.0/16", _PRIVATE),
    ("198.18.0.0/15", _RESERVED),  # benchmarking
    ("198.51.100.0/24", _DOCUMENTATION),
    ("203.0.113.0/24", _DOCUMENTATION),
    ("224.0.0.0/4", _MULTICAST),
    ("240.0.0.0/4", _RESERVED),  # future use, and the broadcast 255.255.255.255
)

_REFUSED_V6: tuple[tuple[str, str], ...] = (
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", _PRIVATE),  # local-use NAT64 (the well-known 64:ff9b::/96 carries IPv4)
    ("::/8", _RESERVED),  # IPv4-compatible and other IETF-reserved forms
    ("100::/64", _RESERVED),  # discard-only
    ("2001::/23", _RESERVED),  # IETF protocol assignments, Teredo among them
    ("2001:db8::/32", _DOCUMENTATION),
    ("3fff::/20", _DOCUMENTATION),
    ("5f00::/16", _RESERVED),  # segment routing
    ("fc00::/7", "a private (unique local) address"),
    ("fe80::/10", _LINK_LOCAL),
    ("fec0::/10", "a private (site-local) address"),
    ("ff00::/8", _MULTICAST),
)

_TABLE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), kind) for network, kind in _REFUSED_V4 + _REFUSED_V6
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERIC_V4 = re.compile(r"[0-9a-fA-FxX.]+")
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")
_HINT = 'list "{entry}" in allowed_hosts, or set allow_private_hosts: true, to fetch it'


class DestinationRefused(Exception):
    """A URL leads to an address (or a scheme) LinkContentFetcher does not fetch.

    Raised below httpx (at connect time) and by the redirect loop; the attempt loop turns it
    into a `FetchRefusedError` that names the URL.

    Attributes:
        reason: what was refused and why, e.g. "localhost resolves to 127.0.0.1, a loopback
            address, refused by default".
        hint: how to allow it, or "" when it cannot be allowed.
        redirected_to: the redirect's target (without credentials) when a redirect led there.
    """

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.redirected_to: str | None = None


def classify(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is ("a loopback address"), None if public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind = classify(embedded)
        return None if kind is None else f"an IPv6 form of {embedded}, {kind}"
    if address.is_unspecified:
        return "an unspecified address"
    for network, kind in _TABLE:
        if address.version == network.version and address in network:
            return kind
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64 or 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any form the system resolver reads as one, else None.

    `ipaddress` reads the canonical forms (`127.0.0.1`, `::1`); `inet_aton` the others that
    getaddrinfo would turn into an address without asking DNS: `2130706433`, `0x7f000001`,
    `127.1`, `0177.0.0.1`.
    """
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not _NUMERIC_V4.fullmatch(bare) or not any(c.isdigit() for c in bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """What a fetcher may connect to: public addresses, plus what `allowed_hosts` lists."""

    allow_all: bool = False
    """`allow_private_hosts`: every address is allowed."""
    names: frozenset[str] = frozenset()
    """Host names allowed whatever they resolve to (lower case, no trailing dot)."""
    suffixes: tuple[str, ...] = ()
    """`.corp.example` for an entry `*.corp.example`: its subdomains are allowed."""
    networks: tuple[IPNetwork, ...] = ()
    """Addresses (as /32 or /128) and networks that are allowed."""

    @classmethod
    def of(cls, allow_private_hosts: bool, allowed_hosts: Iterable[str]) -> AddressPolicy:
        """The policy of the init parameters; raises ValueError naming a malformed entry."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for entry in allowed_hosts:
            value = _parse_entry(entry)
            if not isinstance(value, str):
                networks.append(value)
            elif value.startswith("."):
                suffixes.append(value)
            else:
                names.add(value)
        return cls(bool(allow_private_hosts), frozenset(names), tuple(suffixes), tuple(networks))

    def allows_name(self, host: str) -> bool:
        """Whether `host` was listed by name (so whatever it resolves to is fetched)."""
        name = host.lower().rstrip(".")
        return (
            self.allow_all
            or name in self.names
            or any(name.endswith(suffix) for suffix in self.suffixes)
        )

    def refusal(self, address: IPAddress) -> str | None:
        """The kind of refused address `address` is, or None when it may be fetched."""
        if self.allow_all:
            return None
        kind = classify(address)
        if kind is None or self._listed(address):
            return None
        return kind

    def _listed(self, address: IPAddress) -> bool:
        forms = [address, _embedded_ipv4(address)]
        return any(
            form is not None and form.version == network.version and form in network
            for form in forms
            for network in self.networks
        )

    def check_literal(self, host: str) -> None:
        """Refuse `host` if it spells a refused address (nothing is resolved or sent)."""
        address = literal_address(host)
        if address is None or self.allows_name(host):
            return
        kind = self.refusal(address)
        if kind is not None:
            spelled = host.strip("[]")
            said = f"{spelled} is" if _is_canonical(spelled) else f"{spelled} is {address},"
            entry = _embedded_ipv4(address) or address  # an allowed IPv4 covers its IPv6 forms
            raise DestinationRefused(
                f"{said} {kind}, refused by default", _HINT.format(entry=entry)
            )

    def check_resolved(self, host: str, addresses: Iterable[str]) -> None:
        """Refuse `host` if any address it resolved to is refused (names it resolved to)."""
        if literal_address(host) is not None:
            self.check_literal(host)  # it resolves to itself: say so as the URL check does
            return
        if self.allows_name(host):
            return
        for text in addresses:
            address = ipaddress.ip_address(text)
            kind = self.refusal(address)
            if kind is None:
                continue
            raise DestinationRefused(
                f"{host} resolves to {address}, {kind}, refused by default",
                _HINT.format(entry=host),
            )


def _is_canonical(spelled: str) -> bool:
    """Whether `ipaddress` reads `spelled` as it is (so it need not be spelled out again)."""
    try:
        ipaddress.ip_address(spelled)
    except ValueError:
        return False
    return True


def _parse_entry(entry: object) -> IPNetwork | str:
    """One `allowed_hosts` entry: a network, a suffix (".corp.example") or a name."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError(f"allowed_hosts entries are host names, addresses or networks: {entry!r}")
    text = entry.strip()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=True)
    except ValueError as exc:
        if "/" in text and "://" not in text:
            raise ValueError(
                f"allowed_hosts: {entry!r} is not a network ({exc}); write it as 10.0.0.0/8"
            ) from None
    name = text.lower().rstrip(".")
    if not _HOST_NAME.fullmatch(name):
        raise ValueError(
            f"allowed_hosts: {entry!r} is not a host name, an address or a network; "
            "write a bare name without scheme, port or path (intranet.example, "
            "*.corp.example), an address (127.0.0.1, ::1) or a network (10.0.0.0/8)"
        )
    return name[1:] if name.startswith("*.") else name
