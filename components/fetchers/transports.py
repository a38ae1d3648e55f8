"""The transports of LinkContentFetcher's httpx clients: each direct connection is checked.

ragrun gives httpx its transport instead of letting httpx build one: httpx's own
`HTTPTransport` (so verify, cert, HTTP/2 and the pool limits behave as in httpx), whose httpcore
pool connects through `backends.GuardedBackend`. httpx has no public way to choose the pool's
network backend, so it is swapped on the pool the transport built (`_pool._network_backend`, as
in httpx 0.27 to 0.29 over httpcore 1); should another httpx lay this out differently,
building the client fails with a clear error rather than fetching unchecked.

Giving httpx a transport turns off its reading of `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and
`NO_PROXY`, so they are read here, with the meaning httpx (and curl) give them, and mounted: a
URL the environment proxies goes to its proxy; any other, `NO_PROXY` hosts included, through
the checked transport. Through a proxy (from the environment or `client_kwargs["proxy"]`) it
is the proxy that resolves the name and connects, so only the URL's literal address is
checked here (`redirects.py`); refusing internal names is then the proxy's job.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from .addresses import AddressPolicy
from .backends import AsyncGuardedBackend, GuardedBackend

TRANSPORT_OPTIONS = ("verify", "cert", "trust_env", "http1", "http2", "limits")
"""httpx.Client arguments that configure its transport (and so must reach ours)."""

Transport = TypeVar("Transport", httpx.HTTPTransport, httpx.AsyncHTTPTransport)


def routing(policy: AddressPolicy, settings: dict[str, Any], asynchronous: bool) -> dict[str, Any]:
    """`transport` (and `mounts` for proxies from the environment) for `httpx.Client(**settings)`.

    Args:
        policy: what the checked transport may connect to.
        settings: the client's other arguments (their transport options are used here too).
        asynchronous: build `AsyncHTTPTransport`s rather than `HTTPTransport`s.
    """
    options = {name: settings[name] for name in TRANSPORT_OPTIONS if name in settings}
    direct = checked_transport(policy, options, asynchronous)
    routes: dict[str, Any] = {"transport": direct}
    if settings.get("proxy") is None and settings.get("trust_env", True):
        kind = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
        mounts = environment_mounts(lambda url: kind(proxy=url, **options), direct)
        if mounts:
            routes["mounts"] = mounts
    return routes


def checked_transport(
    policy: AddressPolicy, options: dict[str, Any], asynchronous: bool
) -> httpx.HTTPTransport | httpx.AsyncHTTPTransport:
    """httpx's transport, connecting only where `policy` allows (see the module docstring)."""
    if asynchronous:
        transport = httpx.AsyncHTTPTransport(**options)
        return _swap_backend(transport, lambda inner: AsyncGuardedBackend(policy, inner))
    return _swap_backend(
        httpx.HTTPTransport(**options), lambda inner: GuardedBackend(policy, inner)
    )


def _swap_backend(transport: Transport, guard: Callable[[Any], Any]) -> Transport:
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        raise RuntimeError(
            f"LinkContentFetcher checks each address it connects to through httpx's "
            f"connection pool, which this httpx ({httpx.__version__}) no longer exposes; "
            "pin httpx to a version from 0.27 to 0.29, or report it to ragrun"
        )
    pool._network_backend = guard(pool._network_backend)
    return transport


def environment_mounts(make_proxy: Callable[[str], Any], direct: Any) -> dict[str, Any]:
    """httpx mounts for the proxy environment variables: proxied schemes, `NO_PROXY` hosts.

    Args:
        make_proxy: the transport for a proxy URL.
        direct: the transport for hosts `NO_PROXY` exempts.
    """
    found = urllib.request.getproxies()
    proxied = {scheme: found[scheme] for scheme in ("http", "https", "all") if found.get(scheme)}
    exempt = [host.strip() for host in found.get("no", "").split(",") if host.strip()]
    if not proxied or "*" in exempt:
        return {}
    mounts = {
        f"{scheme}://": make_proxy(url if "://" in url else f"http://{url}")
        for scheme, url in proxied.items()
    }
    for host in exempt:
        mounts[_exempt_pattern(host)] = direct
    return mounts


def _exempt_pattern(host: str) -> str:
    """The mount pattern of one `NO_PROXY` entry, as httpx reads it (curl's rules)."""
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and address.version == 6:
        return f"all://[{address}]"
    if address is not None or host.lower() == "localhost":
        return f"all://{host}"
    return f"all://*{host}"  # example.com: it and its subdomains; .example.com: subdomains
