"""LinkContentFetcher against a real HTTP server on 127.0.0.1 (`tests.fakes.http_site`).

The site is on a loopback address, which LinkContentFetcher refuses by default, so every
fetcher built here allows it explicitly (`SITE_HOSTS`); the refusals themselves are tested in
test_link_content_fetcher_ssrf.py.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib.util import find_spec
from typing import Any

import anyio
import httpx
import pytest

from ragrun import ByteStream, sockets_of
from ragrun.components.converters.txt import TextFileToDocument
from ragrun.components.fetchers.attempts import (
    Backoff,
    Failure,
    failure_of_response,
    fetch_error,
)
from ragrun.components.fetchers.link_content import (
    FetchConnectionError,
    FetchError,
    FetchTimeoutError,
    LinkContentFetcher,
)
from tests.fakes.http_site import HTML, JSON, PDF, TEXT, HttpSite

Make = Callable[..., LinkContentFetcher]

SITE_HOSTS = ["127.0.0.1", "localhost"]
"""The test site's hosts, allowed by every fetcher of this module."""


@pytest.fixture(scope="module")
def site_session() -> Iterator[HttpSite]:
    with HttpSite() as site:
        yield site


@pytest.fixture
def site(site_session: HttpSite) -> Iterator[HttpSite]:
    """The module's site with zeroed counters and a closed gate (held requests let go after)."""
    site_session.reset()
    yield site_session
    site_session.reset()


@pytest.fixture
def make() -> Iterator[Make]:
    """Build fetchers; their sync clients are closed after the test."""
    built: list[LinkContentFetcher] = []

    def build(**kwargs: Any) -> LinkContentFetcher:
        built.append(LinkContentFetcher(**{"allowed_hosts": SITE_HOSTS, **kwargs}))
        return built[-1]

    yield build
    for fetcher in built:
        fetcher.close()


@pytest.fixture
async def amake() -> AsyncIterator[Make]:
    """Build fetchers for async tests; their async clients are closed on the test's loop."""
    built: list[LinkContentFetcher] = []

    def build(**kwargs: Any) -> LinkContentFetcher:
        built.append(LinkContentFetcher(**{"allowed_hosts": SITE_HOSTS, **kwargs}))
        return built[-1]

    yield build
    for fetcher in built:
        await fetcher.aclose()


# -- the component's shape -------------------------------------------------------------------


def test_sockets_match_haystack() -> None:
    sockets = sockets_of(LinkContentFetcher())
    assert list(sockets.inputs) == ["urls"]
    assert sockets.inputs["urls"].type == list[str]
    assert sockets.outputs["streams"].type == list[ByteStream]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"per_host_concurrency": 0}, "per_host_concurrency", id="per-host"),
        pytest.param({"max_connections": 0}, "max_connections", id="connections"),
        pytest.param({"timeout": 0}, "timeout", id="timeout"),
        pytest.param({"retry_attempts": -1}, "retry_attempts", id="retries"),
        pytest.param({"user_agents": []}, "user_agents", id="no-agents"),
    ],
)
def test_bad_init_parameters_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LinkContentFetcher(**kwargs)


def test_a_single_string_is_refused_with_a_hint(make: Make) -> None:
    with pytest.raises(TypeError, match=r"urls=\[url\]"):
        make().run(urls="http://127.0.0.1/")  # type: ignore[arg-type]


def test_no_urls_no_streams(make: Make) -> None:
    assert make().run(urls=[]) == {"streams": []}


# -- content types ---------------------------------------------------------------------------

CONTENT = [
    pytest.param("/html", "text/html", HTML, {"encoding": "utf-8"}, id="html"),
    pytest.param("/text", "text/plain", TEXT, {"encoding": "iso-8859-1"}, id="text-latin1"),
    pytest.param("/json", "application/json", JSON, {}, id="json"),
    pytest.param("/pdf", "application/pdf", PDF, {}, id="pdf"),
    pytest.param("/bytes", "application/octet-stream", bytes(range(256)), {}, id="no-type"),
]


@pytest.mark.parametrize(("path", "mime", "data", "extra"), CONTENT)
def test_content_type_becomes_the_mime_type(
    site: HttpSite, make: Make, path: str, mime: str, data: bytes, extra: dict[str, str]
) -> None:
    url = site.url(path)
    (stream,) = make().run(urls=[url])["streams"]
    assert stream.data == data
    assert stream.mime_type == mime
    assert stream.meta == {"url": url, "content_type": mime, **extra}


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "mime", "data", "extra"), CONTENT)
async def test_content_type_becomes_the_mime_type_async(
    site: HttpSite, amake: Make, path: str, mime: str, data: bytes, extra: dict[str, str]
) -> None:
    url = site.url(path)
    (stream,) = (await amake().run_async(urls=[url]))["streams"]
    assert (stream.data, stream.mime_type) == (data, mime)
    assert stream.meta == {"url": url, "content_type": mime, **extra}


def test_text_is_decoded_by_the_converter_with_the_charset(site: HttpSite, make: Make) -> None:
    streams = make().run(urls=[site.url("/text")])["streams"]
    (document,) = TextFileToDocument().run(sources=streams)["documents"]
    assert document.content == "café au lait\n"


# -- redirects -------------------------------------------------------------------------------


def test_a_redirect_chain_is_followed(site: HttpSite, make: Make) -> None:
    url = site.url("/redirect/3")
    (stream,) = make().run(urls=[url])["streams"]
    assert stream.data == HTML
    assert stream.meta["url"] == url
    assert stream.meta["final_url"] == site.url("/html")
    assert [site.requests[f"/redirect/{n}"] for n in (3, 2, 1)] == [1, 1, 1]


def test_redirects_off_makes_a_redirect_a_failure(site: HttpSite, make: Make) -> None:
    with pytest.raises(FetchError, match=r"302.*follow_redirects") as info:
        make(follow_redirects=False).run(urls=[site.url("/redirect/1")])
    assert info.value.status_code == 302 and site.requests["/html"] == 0


def test_too_many_redirects_is_not_retried(site: HttpSite, make: Make) -> None:
    with pytest.raises(FetchError, match="too many redirects"):
        make(client_kwargs={"max_redirects": 2}).run(urls=[site.url("/redirect/5")])
    assert site.requests["/redirect/5"] == 1


# -- failures and retries ----------------------------------------------------------------------


def test_404_raises_for_a_single_url_without_retrying(site: HttpSite, make: Make) -> None:
    url = site.url("/status/404")
    with pytest.raises(FetchError) as info:
        make().run(urls=[url])
    error = info.value
    assert str(error) == f"LinkContentFetcher could not fetch {url}: HTTP 404 Not Found"
    assert (error.status_code, error.attempts, error.transient) == (404, 1, False)
    assert site.requests["/status/404"] == 1


@pytest.mark.anyio
async def test_500_is_retried_then_raised(site: HttpSite, amake: Make) -> None:
    with pytest.raises(FetchError, match=r"HTTP 500.*after 3 attempts") as info:
        await amake(retry_attempts=2).run_async(urls=[site.url("/status/500")])
    assert (info.value.status_code, info.value.transient) == (500, True)
    assert site.requests["/status/500"] == 3


def test_429_is_retried(site: HttpSite, make: Make) -> None:
    with pytest.raises(FetchError, match="HTTP 429") as info:
        make(retry_attempts=1).run(urls=[site.url("/status/429")])
    assert site.requests["/status/429"] == 2
    assert info.value.retry_after == 0


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_transient_failures_recover_with_the_next_user_agent(
    site: HttpSite, make: Make, use_async: bool
) -> None:
    fetcher = make(retry_attempts=2, user_agents=["agent-a", "agent-b"])
    urls = [site.url("/flaky/k/2")]
    result = asyncio.run(run_then_close(fetcher, urls)) if use_async else fetcher.run(urls=urls)
    assert [s.data for s in result["streams"]] == [b"flaky k ok"]
    assert site.user_agents == ["agent-a", "agent-b", "agent-a"]


def test_headers_sent(site: HttpSite, make: Make) -> None:
    fetcher = make(request_headers={"X-Request": "r"}, client_kwargs={"headers": {"X-Client": "c"}})
    fetcher.run(urls=[site.url("/html")])
    (headers,) = site.headers
    assert headers["x-request"] == "r" and headers["x-client"] == "c"
    assert headers["user-agent"].startswith("ragrun/LinkContentFetcher")


def test_failed_urls_among_several_are_skipped_and_logged(
    site: HttpSite, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    urls = [site.url("/html"), site.url("/status/404"), site.url("/json")]
    with caplog.at_level(logging.WARNING):
        streams = make().run(urls=urls)["streams"]
    assert [s.meta["url"] for s in streams] == [urls[0], urls[2]]
    assert f"could not fetch {urls[1]}: HTTP 404" in caplog.text


@pytest.mark.anyio
async def test_without_raise_on_failure_a_failed_url_gives_an_empty_stream(
    site: HttpSite, amake: Make
) -> None:
    urls = [site.url("/status/404"), site.url("/json")]
    streams = (await amake(raise_on_failure=False).run_async(urls=urls))["streams"]
    assert [s.data for s in streams] == [b"", JSON]
    assert streams[0].mime_type is None
    assert "HTTP 404" in streams[0].meta["fetch_error"]
    assert streams[0].meta["url"] == urls[0]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://example.com/file.txt", id="ftp"),
        pytest.param("no scheme here", id="no-scheme"),
        pytest.param("http://", id="no-host"),
    ],
)
def test_urls_httpx_cannot_fetch_fail_without_a_request(make: Make, url: str) -> None:
    with pytest.raises(FetchError, match="could not fetch") as info:
        make().run(urls=[url])
    assert info.value.attempts == 0 and not info.value.transient


def test_a_refused_connection_is_a_transient_failure(make: Make) -> None:
    with pytest.raises(FetchConnectionError, match="connection failed") as info:
        make(retry_attempts=0).run(urls=[unused_port_url()])
    assert info.value.transient and info.value.status_code is None
    assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize(
    ("failure", "transient"),
    [
        pytest.param(Failure("timed out", True, kind="timeout"), True, id="timeout"),
        pytest.param(Failure("refused", True, kind="connection"), True, id="connection"),
        pytest.param(Failure("HTTP 503", True, status_code=503), True, id="503"),
        pytest.param(Failure("HTTP 404", False, status_code=404), False, id="404"),
    ],
)
def test_the_engine_retry_policy_sees_the_same_transient_failures(
    failure: Failure, transient: bool
) -> None:
    from ragrun.retry import is_transient

    assert is_transient(fetch_error("http://x/", failure, 3)) is transient


# -- timeouts --------------------------------------------------------------------------------


def test_a_timeout_is_retried_then_raised(site: HttpSite, make: Make) -> None:
    pattern = r"timed out \(ReadTimeout\) \(after 2 attempts\); raise `timeout`"
    with pytest.raises(FetchTimeoutError, match=pattern) as info:
        make(timeout=0.2, retry_attempts=1).run(urls=[site.url("/slow")])
    assert info.value.transient and info.value.attempts == 2
    assert isinstance(info.value, TimeoutError)
    assert site.requests["/slow"] == 2


@pytest.mark.anyio
async def test_a_timeout_async(site: HttpSite, amake: Make) -> None:
    with pytest.raises(FetchError, match="timed out"):
        await amake(timeout=0.2, retry_attempts=0).run_async(urls=[site.url("/slow")])
    assert site.requests["/slow"] == 1


# -- concurrency and the pool ----------------------------------------------------------------


def two_hosts(site: HttpSite, per_host: int) -> list[str]:
    """`per_host` held URLs on each of two host names for the same server."""
    return [
        site.url(f"/slow/{host}-{i}", host=host)
        for i in range(per_host)
        for host in ("127.0.0.1", "localhost")
    ]


@pytest.mark.anyio
async def test_per_host_concurrency_is_never_exceeded(site: HttpSite, amake: Make) -> None:
    urls = two_hosts(site, 12)
    fetcher = amake(per_host_concurrency=3, timeout=60)
    result: dict[str, Any] = {}

    async def fetch() -> None:
        result.update(await fetcher.run_async(urls=urls))

    async with anyio.create_task_group() as group:
        group.start_soon(fetch)
        assert await anyio.to_thread.run_sync(site.wait_parked, 6)
        site.release()
    assert site.peak == {"127.0.0.1": 3, "localhost": 3}
    assert [s.meta["url"] for s in result["streams"]] == urls


def test_per_host_concurrency_sync(site: HttpSite, make: Make) -> None:
    urls = two_hosts(site, 8)
    fetcher = make(per_host_concurrency=2, timeout=60)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(fetcher.run(urls=urls)))
    worker.start()
    assert site.wait_parked(4)
    site.release()
    worker.join()
    assert site.peak == {"127.0.0.1": 2, "localhost": 2}
    assert len(result["streams"]) == len(urls)


@pytest.mark.anyio
async def test_max_connections_caps_all_hosts_together(site: HttpSite, amake: Make) -> None:
    urls = two_hosts(site, 6)
    fetcher = amake(per_host_concurrency=4, max_connections=5, timeout=60)
    async with anyio.create_task_group() as group:
        group.start_soon(fetcher.run_async, urls)
        assert await anyio.to_thread.run_sync(site.wait_parked, 5)
        site.release()
    assert site.peak_total == 5
    assert sum(site.requests.values()) == len(urls)


@pytest.mark.anyio
async def test_200_urls_share_a_pool_of_connections(site: HttpSite, amake: Make) -> None:
    urls = [site.url(f"/page/{i}") for i in range(200)]
    streams = (await amake(per_host_concurrency=8).run_async(urls=urls))["streams"]
    assert [s.data for s in streams] == [f"/page/{i}".encode() for i in range(200)]
    assert site.peak["127.0.0.1"] <= 8
    assert site.connections <= 8  # kept alive and reused, not one per URL


def test_200_urls_share_a_pool_of_connections_sync(site: HttpSite, make: Make) -> None:
    urls = [site.url(f"/page/{i}") for i in range(200)]
    streams = make(per_host_concurrency=8).run(urls=urls)["streams"]
    assert len(streams) == 200 and streams[-1].data == b"/page/199"
    assert site.peak["127.0.0.1"] <= 8
    assert site.connections <= 8


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_each_event_loop_gets_its_own_client(site: HttpSite, make: Make) -> None:
    fetcher = make()
    url = site.url("/json")
    # A sync pipeline.run starts a fresh loop each time; the first loop's client is left behind
    # (its sockets are reclaimed with it, hence the ignored ResourceWarning).
    first = asyncio.run(fetcher.run_async(urls=[url]))["streams"]
    second = asyncio.run(run_then_close(fetcher, [url]))["streams"]
    assert first[0].data == second[0].data == JSON
    gc.collect()


@pytest.mark.skipif(find_spec("h2") is not None, reason="h2 is installed")
def test_http2_without_h2_falls_back_with_a_warning(
    site: HttpSite, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        streams = make(http2=True).run(urls=[site.url("/json")])["streams"]
    assert streams[0].data == JSON
    assert "httpx[http2]" in caplog.text


# -- backoff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "retry_after", "low", "high"),
    [
        pytest.param(1, None, 0.125, 0.25, id="first"),
        pytest.param(3, None, 0.5, 1.0, id="doubles"),
        pytest.param(30, None, 2.0, 4.0, id="capped"),
        pytest.param(1, 2.0, 2.0, 2.0, id="retry-after"),
        pytest.param(1, 500.0, 10.0, 10.0, id="retry-after-capped"),
        pytest.param(1, -3.0, 0.0, 0.0, id="retry-after-past"),
    ],
)
def test_backoff_bounds(retry: int, retry_after: float | None, low: float, high: float) -> None:
    for _ in range(50):
        assert low <= Backoff().delay(retry, retry_after) <= high


def test_retry_after_as_a_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    failure = failure_of_response(httpx.Response(503, headers={"Retry-After": when}))
    assert failure.transient and failure.retry_after is not None
    assert 25 < failure.retry_after <= 30


# -- helpers ---------------------------------------------------------------------------------


async def run_then_close(fetcher: LinkContentFetcher, urls: list[str]) -> dict[str, Any]:
    """`run_async` on this loop, then `aclose`, as a pipeline run on its own loop would."""
    try:
        return await fetcher.run_async(urls=urls)
    finally:
        await fetcher.aclose()


def unused_port_url() -> str:
    """A URL on a port that was bound and released, so nothing listens there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
