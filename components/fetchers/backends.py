"""httpcore network backends that check each address before connecting to it, and pin it.

httpcore opens every TCP connection through its pool's network backend, with the URL's host
name (and does TLS afterwards on that stream, with the host name for SNI and the certificate
check). These backends resolve the name once, refuse it if any address it resolves to is
refused by the `AddressPolicy`, then connect to those very addresses, in order, until one
answers. There is no second resolution between the check and the connection, so a DNS server
that answers a public address to the check and a private one to the connection (DNS
rebinding) gets nowhere. Every new connection is checked: the first request, each redirect to
a new origin and each retry. A kept-alive connection was checked when it was opened.

This is the approach of `advocate` (urllib3's connection, validating each getaddrinfo answer)
and Smokescreen (Go's dialer `Control` hook), at httpcore's seam.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore

from .addresses import AddressPolicy

SocketOption = Any  # httpcore's SOCKET_OPTION union, which it does not export


class GuardedBackend(httpcore.NetworkBackend):
    """A sync backend (worker threads) that checks and pins addresses."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.NetworkBackend) -> None:
        self.policy = policy
        self.inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve `host`, check every address, connect to the first that answers."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = _checked(self.policy, host, infos)
        last: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} resolved to no address")

    def sleep(self, seconds: float) -> None:
        """The inner backend's sleep (httpcore uses it between connection retries)."""
        self.inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The async twin: resolution on anyio's resolver thread, bounded by the connect timeout."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self.policy = policy
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve `host`, check every address, connect to the first that answers."""
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = _checked(self.policy, host, infos)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} resolved to no address")

    async def sleep(self, seconds: float) -> None:
        """The inner backend's sleep."""
        await self.inner.sleep(seconds)


def _checked(policy: AddressPolicy, host: str, infos: Iterable[tuple[Any, ...]]) -> list[str]:
    """The distinct IPv4/IPv6 addresses of getaddrinfo's answer, after the policy's check."""
    families = (socket.AF_INET, socket.AF_INET6)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos if info[0] in families))
    policy.check_resolved(host, addresses)
    return addresses
