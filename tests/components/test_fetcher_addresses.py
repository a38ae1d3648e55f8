"""The fetcher's address table, literal spellings, allowed_hosts entries, credential stripping
and proxy-variable mounts, without a network (the server matrix is in
test_link_content_fetcher_ssrf.py)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from ragrun.components.fetchers.addresses import (
    AddressPolicy,
    DestinationRefused,
    classify,
    literal_address,
)
from ragrun.components.fetchers.transports import checked_transport, environment_mounts
from ragrun.components.fetchers.userinfo import without_credentials

REFUSED = [
    ("0.0.0.0", "an unspecified address"),
    ("0.1.2.3", '"this network"'),
    ("10.0.0.1", "a private address"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("127.0.0.1", "a loopback address"),
    ("127.255.255.254", "a loopback address"),
    ("169.254.169.254", "a link-local address (where cloud metadata services answer)"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.254", "a private address"),
    ("192.0.0.8", "a reserved address"),
    ("192.0.2.10", "a documentation address"),
    ("192.88.99.1", "a reserved address"),
    ("192.168.0.1", "a private address"),
    ("198.18.0.1", "a reserved address"),
    ("198.51.100.7", "a documentation address"),
    ("203.0.113.9", "a documentation address"),
    ("224.0.0.251", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("::", "an unspecified address"),
    ("::1", "a loopback address"),
    ("::127.0.0.1", "a reserved address"),
    ("::ffff:127.0.0.1", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("::ffff:169.254.169.254", "an IPv6 form of 169.254.169.254, a link-local"),
    ("64:ff9b::a00:1", "an IPv6 form of 10.0.0.1, a private address"),
    ("64:ff9b:1::1", "a private address"),
    ("100::1", "a reserved address"),
    ("2001::1", "a reserved address"),
    ("2001:db8::1", "a documentation address"),
    ("2002:7f00:1::1", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("3fff::1", "a documentation address"),
    ("fc00::1", "a private (unique local) address"),
    ("fd12:3456:789a::1", "a private (unique local) address"),
    ("fe80::1", "a link-local address"),
    ("fe80::1%eth0", "a link-local address"),
    ("fec0::1", "a private (site-local) address"),
    ("ff02::1", "a multicast address"),
]

PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "kind"), REFUSED, ids=[a for a, _ in REFUSED])
def test_every_non_public_range_is_refused(address: str, kind: str) -> None:
    found = classify(ipaddress.ip_address(address))
    assert found is not None and kind in found


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_fetched(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("example.com", None),
        ("cafe.bad", None),
        ("0x.example", None),
        ("1e100.net", None),
    ],
)
def test_literal_addresses_in_every_spelling_the_resolver_reads(
    host: str, address: str | None
) -> None:
    found = literal_address(host)
    assert (None if found is None else found) == (
        None if address is None else ipaddress.ip_address(address)
    )


def test_a_refusal_names_the_spelling_the_address_and_how_to_allow_it() -> None:
    with pytest.raises(DestinationRefused) as info:
        AddressPolicy().check_literal("2130706433")
    assert info.value.reason == "2130706433 is 127.0.0.1, a loopback address, refused by default"
    assert info.value.hint == (
        'list "127.0.0.1" in allowed_hosts, or set allow_private_hosts: true, to fetch it'
    )


def test_a_refused_resolution_names_the_host_and_the_address() -> None:
    with pytest.raises(DestinationRefused) as info:
        AddressPolicy().check_resolved("intranet.example", ["93.184.216.34", "10.0.0.7"])
    assert info.value.reason == (
        "intranet.example resolves to 10.0.0.7, a private address, refused by default"
    )
    assert '"intranet.example"' in info.value.hint


def test_allowed_hosts_entries_are_read() -> None:
    policy = AddressPolicy.of(False, ["Intranet.Example.", "*.corp.example", "10.0.0.0/8", "::1"])
    assert policy.names == {"intranet.example"}
    assert policy.suffixes == (".corp.example",)
    assert [str(n) for n in policy.networks] == ["10.0.0.0/8", "::1/128"]
    assert policy.allows_name("INTRANET.example") and policy.allows_name("a.b.corp.example")
    assert not policy.allows_name("corp.example") and not policy.allows_name("xcorp.example")
    assert policy.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.9.9.9")) is None
    assert policy.refusal(ipaddress.ip_address("192.168.0.1")) == "a private address"


def test_allow_private_hosts_allows_everything() -> None:
    policy = AddressPolicy.of(True, [])
    policy.check_literal("169.254.169.254")
    policy.check_resolved("localhost", ["127.0.0.1", "::1"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:s3cret@example.com/a?b#c", "http://example.com/a?b#c"),
        ("https://alice@example.com:8443/", "https://example.com:8443/"),
        ("http://a%40b:p%3Aq@example.com", "http://example.com"),
        ("http://alice:p@ss@example.com/x", "http://example.com/x"),
        ("http://example.com/path/with@sign", "http://example.com/path/with@sign"),
        ("http://example.com/?next=http://u:p@x/", "http://example.com/?next=http://u:p@x/"),
        ("http://u:p@[::1/broken", "http://[::1/broken"),
        ("u:p@example.com/no-scheme", "example.com/no-scheme"),
        ("HTTP://Example.COM:80/Keep", "HTTP://Example.COM:80/Keep"),
    ],
)
def test_credentials_are_stripped_and_nothing_else_changes(url: str, shown: str) -> None:
    assert without_credentials(url) == shown


@pytest.mark.parametrize(
    ("no_proxy", "pattern"),
    [
        ("example.com", "all://*example.com"),
        (".example.com", "all://*.example.com"),
        ("localhost", "all://localhost"),
        ("10.0.0.1", "all://10.0.0.1"),
        ("::1", "all://[::1]"),
        ("http://intranet", "http://intranet"),
    ],
)
def test_no_proxy_hosts_are_mounted_on_the_checked_transport(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, pattern: str
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", f"{no_proxy}, other.example")
    direct = object()
    mounts = environment_mounts(lambda url: f"proxy {url}", direct)
    assert mounts["https://"] == "proxy http://proxy.example:3128"
    assert mounts[pattern] is direct and mounts["all://*other.example"] is direct
    assert all(httpx._utils.URLPattern(key) for key in mounts)  # httpx reads each pattern


def test_no_proxy_star_means_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "*")
    assert environment_mounts(lambda url: url, object()) == {}


def test_the_checked_transport_connects_through_the_guard() -> None:
    from ragrun.components.fetchers.backends import AsyncGuardedBackend, GuardedBackend

    sync = checked_transport(AddressPolicy(), {}, asynchronous=False)
    asynchronous = checked_transport(AddressPolicy(), {}, asynchronous=True)
    assert isinstance(sync._pool._network_backend, GuardedBackend)
    assert isinstance(asynchronous._pool._network_backend, AsyncGuardedBackend)
    sync.close()


def test_an_httpx_without_the_pool_fails_loudly_rather_than_unchecked() -> None:
    from ragrun.components.fetchers.transports import _swap_backend

    class Elsewhere(httpx.HTTPTransport):
        def __init__(self) -> None:  # a transport that keeps its pool under another name
            pass

    with pytest.raises(RuntimeError, match="checks each address it connects to"):
        _swap_backend(Elsewhere(), lambda inner: inner)
