"""The SSRF matrix: LinkContentFetcher against real servers on 127.0.0.1 (and ::1).

Every spelling of a loopback address is refused by default and the server sees no connection
at all; a redirect from an allowed host to a refused one is refused before anything is sent;
names are refused on what they resolve to (the machine's own name, `localhost`, through the
real resolver); each is fetched once allowed; credentials never show. Both `run` (threads) and
`run_async` (the event loop) are exercised, through the `fetch` fixture.

Names that resolve to private or rebinding addresses cannot exist in the real resolver here, so
`FakeDns` answers for made-up `.test` names at the resolution boundary (`socket.getaddrinfo`,
which both the thread and the event-loop paths call) and hands every other name to the real one.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import shutil
import socket
import ssl
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ragrun import ByteStream, Pipeline, PipelineValidationError
from ragrun.components.fetchers.link_content import (
    FetchError,
    FetchRefusedError,
    LinkContentFetcher,
)
from ragrun.jsonl import dumps_line
from ragrun.retry import is_transient
from tests.fakes.http_site import HTML, HttpSite

Fetch = Callable[..., list[ByteStream]]

_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(scope="module")
def site_session() -> Iterator[HttpSite]:
    with HttpSite() as site:
        yield site


@pytest.fixture(scope="module")
def site6_session() -> Iterator[HttpSite]:
    try:
        site = HttpSite("::1").start()
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    yield site
    site.stop()


@pytest.fixture
def site(site_session: HttpSite) -> Iterator[HttpSite]:
    """The IPv4 site (127.0.0.1) with zeroed counters."""
    site_session.reset()
    yield site_session
    site_session.reset()


@pytest.fixture
def site6(site6_session: HttpSite) -> Iterator[HttpSite]:
    """The IPv6 site (::1) with zeroed counters."""
    site6_session.reset()
    yield site6_session
    site6_session.reset()


@pytest.fixture(params=["sync", "async"])
def fetch(request: pytest.FixtureRequest) -> Fetch:
    """Fetch `urls` with a new fetcher (no retries unless asked) through `run` or `run_async`."""

    def run(urls: list[str], **kwargs: Any) -> list[ByteStream]:
        fetcher = LinkContentFetcher(**{"retry_attempts": 0, **kwargs})
        if request.param == "sync":
            try:
                return fetcher.run(urls=urls)["streams"]
            finally:
                fetcher.close()
        return asyncio.run(_run_async(fetcher, urls))

    return run


async def _run_async(fetcher: LinkContentFetcher, urls: list[str]) -> list[ByteStream]:
    try:
        return (await fetcher.run_async(urls=urls))["streams"]
    finally:
        await fetcher.aclose()


class FakeDns:
    """Answers for made-up names at `socket.getaddrinfo`; every other name goes to the real one.

    An answer is a list of addresses, or a function of how many times the name was asked.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list[str] | Callable[[int], list[str]]] = {}
        self.asked: Counter[str] = Counter()

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        self.asked[name] += 1
        answer = self.answers[name]
        addresses = answer(self.asked[name]) if callable(answer) else answer
        number = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number))
            for address in addresses
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def untouched(*sites: HttpSite) -> bool:
    """No site saw a connection, let alone a request."""
    return all(s.connections == 0 and not s.requests for s in sites)


HINT = r'list "{entry}" in allowed_hosts, or set allow_private_hosts: true, to fetch it'


# -- every spelling of loopback, refused by default ------------------------------------------

LOOPBACK = [
    pytest.param("127.0.0.1", "127.0.0.1 is a loopback address", "127.0.0.1", id="dotted"),
    pytest.param(
        "localhost",
        r"localhost resolves to (127\.0\.0\.1|::1), a loopback address",
        "localhost",
        id="localhost",
    ),
    pytest.param(
        "2130706433", "2130706433 is 127.0.0.1, a loopback address", "127.0.0.1", id="decimal"
    ),
    pytest.param(
        "0x7f000001", "0x7f000001 is 127.0.0.1, a loopback address", "127.0.0.1", id="hex"
    ),
    pytest.param(
        "017700000001", "017700000001 is 127.0.0.1, a loopback address", "127.0.0.1", id="octal"
    ),
    pytest.param("127.1", "127.1 is 127.0.0.1, a loopback address", "127.0.0.1", id="short"),
    pytest.param("0x7f.1", "0x7f.1 is 127.0.0.1, a loopback address", "127.0.0.1", id="hex-short"),
    pytest.param(
        "[::ffff:127.0.0.1]",
        "::ffff:127.0.0.1 is an IPv6 form of 127.0.0.1, a loopback address",
        "127.0.0.1",
        id="ipv4-mapped",
    ),
    pytest.param(
        "[::ffff:7f00:1]",
        "::ffff:7f00:1 is an IPv6 form of 127.0.0.1, a loopback address",
        "127.0.0.1",
        id="ipv4-mapped-hex",
    ),
    pytest.param("0.0.0.0", "0.0.0.0 is an unspecified address", "0.0.0.0", id="unspecified"),
]


@pytest.mark.parametrize(("host", "reason", "entry"), LOOPBACK)
def test_loopback_in_any_spelling_is_refused_unseen(
    site: HttpSite, fetch: Fetch, host: str, reason: str, entry: str
) -> None:
    url = site.url("/html", host=host)
    with pytest.raises(FetchRefusedError) as info:
        fetch([url])
    message = str(info.value)
    assert message.startswith(f"LinkContentFetcher could not fetch {url}: ")
    assert re.search(f"{reason}, refused by default; {HINT.format(entry=entry)}", message)
    assert not info.value.transient and info.value.status_code is None
    assert not is_transient(info.value)  # the engine's retry policy does not retry it either
    assert untouched(site)


@pytest.mark.parametrize("host", ["[::1]", "[0:0:0:0:0:0:0:1]"], ids=["short", "long"])
def test_ipv6_loopback_is_refused_unseen(site6: HttpSite, fetch: Fetch, host: str) -> None:
    url = site6.url("/html", host=host)
    with pytest.raises(FetchRefusedError, match=r"is a loopback address, refused by default"):
        fetch([url])
    assert untouched(site6)


def test_the_machines_own_name_is_refused_on_what_it_resolves_to(
    site: HttpSite, fetch: Fetch
) -> None:
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if not addresses <= {"127.0.0.1", "127.0.1.1", "::1"}:
        pytest.skip(f"{name!r} resolves to {sorted(addresses)}, not only to loopback")
    url = site.url("/html", host=name)
    with pytest.raises(FetchRefusedError, match=f"{name} resolves to .*, a loopback address"):
        fetch([url])
    assert untouched(site)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        pytest.param(["10.1.2.3"], "a private address", id="rfc1918-10"),
        pytest.param(["172.20.0.5"], "a private address", id="rfc1918-172"),
        pytest.param(["192.168.1.1"], "a private address", id="rfc1918-192"),
        pytest.param(["169.254.169.254"], "a link-local address", id="cloud-metadata"),
        pytest.param(["100.64.0.1"], "carrier-grade NAT", id="cgnat"),
        pytest.param(["fd12:3456::1"], "unique local", id="ipv6-ula"),
        pytest.param(["fe80::1"], "a link-local address", id="ipv6-link-local"),
        pytest.param(["::ffff:10.0.0.1"], "an IPv6 form of 10.0.0.1, a private", id="mapped"),
        pytest.param(["224.0.0.1"], "a multicast address", id="multicast"),
        pytest.param(["240.0.0.1"], "a reserved address", id="reserved"),
        pytest.param(["8.8.8.8", "127.0.0.1"], "a loopback address", id="one-of-two"),
    ],
)
def test_names_resolving_to_private_addresses_are_refused(
    site: HttpSite, fetch: Fetch, dns: FakeDns, answer: list[str], kind: str
) -> None:
    dns.answers["inside.test"] = answer
    with pytest.raises(FetchRefusedError, match=f"inside.test resolves to .*{kind}"):
        fetch([site.url("/html", host="inside.test")])
    assert dns.asked["inside.test"] == 1


def test_a_name_resolving_to_the_site_is_refused_unseen(
    site: HttpSite, fetch: Fetch, dns: FakeDns
) -> None:
    dns.answers["loopback.test"] = ["127.0.0.1"]
    with pytest.raises(FetchRefusedError, match=r'list "loopback\.test" in allowed_hosts'):
        fetch([site.url("/html", host="loopback.test")])
    assert untouched(site)


def test_a_refusal_is_not_retried(site: HttpSite, fetch: Fetch, dns: FakeDns) -> None:
    dns.answers["loopback.test"] = ["127.0.0.1"]
    with pytest.raises(FetchRefusedError) as info:
        fetch([site.url("/html", host="loopback.test")], retry_attempts=3)
    assert info.value.attempts == 1 and dns.asked["loopback.test"] == 1


def test_refusals_are_reported_like_other_failures(
    site: HttpSite, fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    refused, fine = site.url("/html"), site.url("/json", host="localhost")
    with caplog.at_level(logging.WARNING):
        kept = fetch([refused, fine], allowed_hosts=["localhost"])
        empty, fetched = fetch([refused, fine], allowed_hosts=["localhost"], raise_on_failure=False)
    assert [s.meta["url"] for s in kept] == [fine]  # several URLs: logged and left out
    assert f"could not fetch {refused}: 127.0.0.1 is a loopback address" in caplog.text
    assert empty.data == b"" and "127.0.0.1 is a loopback address" in empty.meta["fetch_error"]
    assert fetched.meta["url"] == fine and site.requests["/html"] == 0


# -- the connection goes to the address that was checked -------------------------------------


@pytest.fixture
def twin(site: HttpSite) -> Iterator[HttpSite]:
    """A second site on 127.0.0.2, on `site`'s port (Linux answers for all of 127/8)."""
    try:
        other = HttpSite("127.0.0.2", port=site.port).start()
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2:{site.port}: {exc}")
    yield other
    other.stop()


def test_dns_rebinding_cannot_switch_the_address_after_the_check(
    site: HttpSite, twin: HttpSite, fetch: Fetch, dns: FakeDns
) -> None:
    # The first answer is allowed, every later one is refused: an implementation that checks
    # one resolution and lets the socket resolve again would connect to 127.0.0.1.
    dns.answers["rebind.test"] = lambda asked: ["127.0.0.2"] if asked == 1 else ["127.0.0.1"]
    (stream,) = fetch([twin.url("/html", host="rebind.test")], allowed_hosts=["127.0.0.2"])
    assert stream.data == HTML
    assert twin.requests["/html"] == 1
    assert untouched(site)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for the name `localhost` (and no address): (cert, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost".split()
    command += ["-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_site(certificate: tuple[str, str]) -> Iterator[HttpSite]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with HttpSite(tls=context) as site:
        yield site


@pytest.mark.parametrize(
    ("host", "fetched"), [("localhost", True), ("tls.test", False)], ids=["name", "other-name"]
)
def test_tls_still_checks_the_name_on_a_pinned_connection(
    tls_site: HttpSite,
    certificate: tuple[str, str],
    fetch: Fetch,
    dns: FakeDns,
    host: str,
    fetched: bool,
) -> None:
    # The connection goes to the checked address, 127.0.0.1, which the certificate does not
    # name: the handshake succeeds only because the URL's name is what TLS verifies (and SNI).
    dns.answers["tls.test"] = ["127.0.0.1"]
    verify = ssl.create_default_context(cafile=certificate[0])
    url = tls_site.url("/html", host=host)
    options = {"allowed_hosts": ["127.0.0.1"], "client_kwargs": {"verify": verify}}
    if fetched:
        (stream,) = fetch([url], **options)
        assert stream.data == HTML
    else:
        with pytest.raises(
            FetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
        ):
            fetch([url], **options)


# -- redirects -------------------------------------------------------------------------------

REDIRECT_TARGETS = [
    pytest.param("127.0.0.1", "127.0.0.1 is a loopback address", id="dotted"),
    pytest.param("2130706433", "2130706433 is 127.0.0.1, a loopback address", id="decimal"),
    pytest.param(
        "[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is an IPv6 form of 127.0.0.1", id="mapped"
    ),
    pytest.param("0.0.0.0", "0.0.0.0 is an unspecified address", id="unspecified"),
    pytest.param("169.254.169.254", "169.254.169.254 is a link-local address", id="metadata"),
    pytest.param("loopback.test", "loopback.test resolves to 127.0.0.1", id="name"),
]


@pytest.mark.parametrize(("target", "reason"), REDIRECT_TARGETS)
def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(
    site: HttpSite, fetch: Fetch, dns: FakeDns, target: str, reason: str
) -> None:
    dns.answers["loopback.test"] = ["127.0.0.1"]
    landing = site.url("/html", host=target)
    url = site.goto(landing, host="localhost")
    with pytest.raises(FetchRefusedError) as info:
        fetch([url], allowed_hosts=["localhost"])
    assert f"could not fetch {url}: it redirects to {landing}, and {reason}" in str(info.value)
    assert site.requests[urlpath(url)] == 1 and site.requests["/html"] == 0


def test_a_redirect_from_an_allowed_ipv6_site_to_the_ipv4_site_is_refused_unseen(
    site: HttpSite, site6: HttpSite, fetch: Fetch
) -> None:
    url = site6.goto(site.url("/html"))
    with pytest.raises(FetchRefusedError, match=r"it redirects to .*127\.0\.0\.1 is a loopback"):
        fetch([url], allowed_hosts=["::1"])
    assert site6.requests[urlpath(url)] == 1
    assert untouched(site)


@pytest.mark.parametrize(
    ("target", "scheme"),
    [
        pytest.param("file:///etc/passwd", "file", id="file"),
        pytest.param("gopher://127.0.0.1:70/_stats", "gopher", id="gopher"),
        pytest.param("ftp://127.0.0.1/pub/", "ftp", id="ftp"),
        pytest.param("dict://127.0.0.1:11211/stat", "dict", id="dict"),
    ],
)
def test_a_redirect_to_another_scheme_is_refused(
    site: HttpSite, fetch: Fetch, target: str, scheme: str
) -> None:
    url = site.goto(target)
    with pytest.raises(FetchRefusedError) as info:
        fetch([url], allow_private_hosts=True)
    assert f"{scheme}: URLs are never fetched, only http: and https:" in str(info.value)
    assert sum(site.requests.values()) == 1


def test_a_redirect_to_a_location_httpx_cannot_read_is_refused(
    site: HttpSite, fetch: Fetch
) -> None:
    url = site.goto("data:text/plain,hello")  # httpx fails to read it as a URL (InvalidURL)
    with pytest.raises(FetchRefusedError, match="a Location that is not a valid URL"):
        fetch([url], allow_private_hosts=True)
    assert sum(site.requests.values()) == 1


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("ftp://127.0.0.1/pub/", id="ftp"),
        pytest.param("gopher://127.0.0.1:70/_stats", id="gopher"),
        pytest.param("data:text/plain,hello", id="data"),
    ],
)
def test_other_schemes_are_refused_without_a_request(fetch: Fetch, url: str) -> None:
    scheme = url.partition(":")[0]
    with pytest.raises(FetchError, match=f"{scheme}: URLs are never fetched") as info:
        fetch([url], allow_private_hosts=True)
    assert info.value.attempts == 0


# -- allowed when asked ----------------------------------------------------------------------


@pytest.mark.parametrize(("host", "reason", "entry"), LOOPBACK)
def test_allow_private_hosts_fetches_every_spelling(
    site: HttpSite, fetch: Fetch, host: str, reason: str, entry: str
) -> None:
    (stream,) = fetch([site.url("/html", host=host)], allow_private_hosts=True)
    assert stream.data == HTML and site.requests["/html"] == 1


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        pytest.param(["127.0.0.1"], "127.0.0.1", id="address"),
        pytest.param(["127.0.0.1"], "2130706433", id="address-other-spelling"),
        pytest.param(["127.0.0.1"], "[::ffff:127.0.0.1]", id="address-ipv6-form"),
        pytest.param(["127.0.0.1"], "loopback.test", id="address-of-a-name"),
        pytest.param(["127.0.0.0/8"], "127.1", id="network"),
        pytest.param(["localhost"], "localhost", id="name"),
        pytest.param(["LOOPBACK.test."], "loopback.test", id="name-any-case"),
        pytest.param(["*.corp.test"], "wiki.corp.test", id="subdomain"),
    ],
)
def test_allowed_hosts_fetches_what_it_lists(
    site: HttpSite, fetch: Fetch, dns: FakeDns, allowed: list[str], host: str
) -> None:
    dns.answers["loopback.test"] = dns.answers["wiki.corp.test"] = ["127.0.0.1"]
    (stream,) = fetch([site.url("/html", host=host)], allowed_hosts=allowed)
    assert stream.data == HTML and site.requests["/html"] == 1


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        pytest.param(["localhost"], "127.0.0.1", id="a-name-is-not-its-address"),
        pytest.param(["127.0.0.2"], "127.0.0.1", id="another-address"),
        pytest.param(["*.corp.test"], "corp.test", id="subdomains-only"),
        pytest.param(["10.0.0.0/8"], "localhost", id="another-network"),
    ],
)
def test_allowed_hosts_fetches_nothing_else(
    site: HttpSite, fetch: Fetch, dns: FakeDns, allowed: list[str], host: str
) -> None:
    dns.answers["corp.test"] = ["127.0.0.1"]
    with pytest.raises(FetchRefusedError):
        fetch([site.url("/html", host=host)], allowed_hosts=allowed)
    assert untouched(site)


def test_allowed_ipv6_site(site6: HttpSite, fetch: Fetch) -> None:
    (stream,) = fetch([site6.url("/html")], allowed_hosts=["::1"])
    assert stream.data == HTML


def test_a_redirect_between_allowed_hosts_is_followed(site: HttpSite, fetch: Fetch) -> None:
    url = site.goto(site.url("/html"), host="localhost")
    (stream,) = fetch([url], allowed_hosts=["localhost", "127.0.0.1"])
    assert stream.data == HTML and stream.meta["final_url"] == site.url("/html")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param("http://intranet", "not a host name, an address or a network", id="url"),
        pytest.param("intranet:8080", "without scheme, port or path", id="port"),
        pytest.param("10.0.0.1/8", "has host bits set", id="host-bits"),
        pytest.param("", "host names, addresses or networks", id="empty"),
    ],
)
def test_a_malformed_allowed_hosts_entry_is_named(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        LinkContentFetcher(allowed_hosts=[entry])
    assert repr(entry) in str(info.value)


@pytest.mark.parametrize(
    ("client_kwargs", "message"),
    [
        pytest.param({"follow_redirects": True}, "follow_redirects as the component", id="follow"),
        pytest.param({"transport": object()}, "transport replace", id="transport"),
        pytest.param({"mounts": {}}, "mounts replace", id="mounts"),
    ],
)
def test_client_kwargs_that_bypass_the_checks_are_refused(
    client_kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LinkContentFetcher(client_kwargs=client_kwargs)


def test_yaml_can_allow_hosts() -> None:
    pipeline = Pipeline.loads(
        "components:\n"
        "  fetch:\n"
        "    type: LinkContentFetcher\n"
        "    init_parameters:\n"
        "      allowed_hosts: [127.0.0.1, '*.corp.example', 10.0.0.0/8]\n"
    )
    fetcher = pipeline.get_component("fetch")
    assert fetcher.allowed_hosts == ["127.0.0.1", "*.corp.example", "10.0.0.0/8"]
    assert "allowed_hosts" in pipeline.dumps()


def test_a_malformed_entry_in_yaml_is_a_located_load_error() -> None:
    text = (
        "components:\n  fetch:\n    type: LinkContentFetcher\n    init_parameters:\n"
        "      allowed_hosts: ['http://wiki']\n"
    )
    with pytest.raises(PipelineValidationError) as info:
        Pipeline.loads(text, source="p.yaml")
    assert str(info.value).startswith("p.yaml:4:5: components.fetch.init_parameters: ")
    assert "'http://wiki' is not a host name, an address or a network" in str(info.value)


# -- proxies ---------------------------------------------------------------------------------


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the proxy variables (and clear any inherited ones)."""
    for name in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{name}_proxy", raising=False)
        monkeypatch.delenv(f"{name.upper()}_PROXY", raising=False)

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_the_environments_proxy_is_still_used(
    site: HttpSite, fetch: Fetch, proxy_env: Callable[..., None]
) -> None:
    proxy_env(HTTP_PROXY=site.url(""))
    (stream,) = fetch(["http://example.test/html"])
    assert stream.data == HTML
    assert site.headers[0]["host"] == "example.test"  # the site answered as the proxy


def test_no_proxy_hosts_go_through_the_checked_transport(
    site: HttpSite, fetch: Fetch, dns: FakeDns, proxy_env: Callable[..., None]
) -> None:
    dns.answers["loopback.test"] = ["127.0.0.1"]
    proxy_env(HTTP_PROXY=site.url(""), NO_PROXY="loopback.test")
    with pytest.raises(FetchRefusedError, match=r"loopback\.test resolves to 127\.0\.0\.1"):
        fetch([site.url("/html", host="loopback.test")])
    assert untouched(site)


def test_through_a_proxy_literal_private_addresses_are_still_refused(
    site: HttpSite, fetch: Fetch
) -> None:
    with pytest.raises(FetchRefusedError, match=r"169\.254\.169\.254 is a link-local address"):
        fetch(
            ["http://169.254.169.254/latest/meta-data/"],
            client_kwargs={"proxy": site.url("")},
        )
    assert untouched(site)


# -- credentials -----------------------------------------------------------------------------

USER, PASSWORD = "alice", "s3cr%40t"  # the password is s3cr@t, percent-encoded


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{PASSWORD}@", 1)


def shows_no_credentials(text: str) -> bool:
    return USER not in text and "s3cr" not in text


def test_credentials_are_sent_as_basic_auth_and_never_in_meta(site: HttpSite, fetch: Fetch) -> None:
    url = site.url("/redirect/1")
    (stream,) = fetch([with_credentials(url)], allowed_hosts=["127.0.0.1"])
    assert stream.meta["url"] == url
    assert stream.meta["final_url"] == site.url("/html")
    token = base64.b64encode(b"alice:s3cr@t").decode()
    assert [h.get("authorization") for h in site.headers] == [f"Basic {token}"] * 2


def test_credentials_are_not_sent_to_another_origin(site: HttpSite, fetch: Fetch) -> None:
    url = with_credentials(site.goto(site.url("/html", host="localhost")))
    (stream,) = fetch([url], allowed_hosts=["127.0.0.1", "localhost"])
    assert shows_no_credentials(repr(stream.meta))
    first, second = site.headers
    assert "authorization" in first and "authorization" not in second


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/html", id="refused"),
        pytest.param("/status/404", id="404"),
        pytest.param("/status/500", id="500"),
    ],
)
def test_credentials_never_appear_in_errors(site: HttpSite, fetch: Fetch, path: str) -> None:
    url = with_credentials(site.url(path))
    allowed = [] if path == "/html" else ["127.0.0.1"]
    with pytest.raises(FetchError) as info:
        fetch([url], allowed_hosts=allowed)
    assert shows_no_credentials(str(info.value)) and shows_no_credentials(info.value.url)
    assert info.value.url == site.url(path)


def test_credentials_never_appear_in_failed_streams_or_logs(
    site: HttpSite, fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    urls = [with_credentials(site.url("/status/404")), with_credentials(site.url("/html"))]
    with caplog.at_level(logging.WARNING):
        streams = fetch(urls, raise_on_failure=False)
    assert [s.meta["url"] for s in streams] == [site.url("/status/404"), site.url("/html")]
    assert all(shows_no_credentials(repr(s.meta)) for s in streams)
    assert "could not fetch" in caplog.text and shows_no_credentials(caplog.text)


def test_credentials_in_a_malformed_url_are_not_echoed(fetch: Fetch) -> None:
    with pytest.raises(FetchError, match="not a valid URL") as info:
        fetch([f"http://{USER}:{PASSWORD}@[::1/html"])
    assert shows_no_credentials(str(info.value))


@pytest.mark.anyio
async def test_credentials_never_appear_in_events(site: HttpSite) -> None:
    pipeline = Pipeline.loads(
        "components:\n  fetch:\n    type: LinkContentFetcher\n"
        "    init_parameters: {retry_attempts: 0}\n"
    )
    url = with_credentials(site.url("/html"))
    events = [e async for e in pipeline.stream({"fetch": {"urls": [url]}})]
    await pipeline.aclose()
    failures = [e for e in events if e.event in ("component_failed", "run_failed")]
    assert [e.event for e in failures] == ["component_failed", "run_failed"]
    assert all(shows_no_credentials(dumps_line(e).decode()) for e in failures)
    assert "127.0.0.1 is a loopback address" in failures[-1].error.message
    assert untouched(site)


def urlpath(url: str) -> str:
    """The path part of one of the site's URLs (its request counter's key)."""
    return "/" + url.split("/", 3)[3]
