"""What LinkContentFetcher's address check costs: the same fetches, checked and unchecked.

Run: `python benchmarks/fetch_guard.py [--urls 1000] [--rounds 5]` from the repository root.

The site is `tests.fakes.http_site` on 127.0.0.1 (a thread of this process, so the figures
include serving). Two fetchers, interleaved per round, best round kept:

- checked: `allowed_hosts: [127.0.0.1]`, so every new connection resolves the host once,
  checks the address against the policy and connects to it (`backends.py`), and every request
  goes through ragrun's own redirect loop (`redirects.py`);
- unchecked: `allow_private_hosts: true` with a plain httpx transport in `client_kwargs`, which
  is how the fetcher connected before the check existed (the redirect loop is still ragrun's).

Twice: with keep-alive (connections reused, the check runs once per connection) and without
(`max_keepalive_connections: 0`, a new connection, hence a check, for every URL).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes

from ragrun.components.fetchers.link_content import LinkContentFetcher  # noqa: E402
from tests.fakes.http_site import HttpSite  # noqa: E402


def fetchers(keepalive: bool) -> dict[str, LinkContentFetcher]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100 if keepalive else 0)
    return {
        "checked": LinkContentFetcher(
            allowed_hosts=["127.0.0.1"], client_kwargs={"limits": limits}
        ),
        "unchecked": LinkContentFetcher(
            allow_private_hosts=True,
            client_kwargs={"transport": httpx.AsyncHTTPTransport(limits=limits)},
        ),
    }


async def one_round(fetcher: LinkContentFetcher, urls: list[str]) -> float:
    start = time.perf_counter()
    streams = (await fetcher.run_async(urls=urls))["streams"]
    elapsed = time.perf_counter() - start
    assert len(streams) == len(urls)
    return elapsed


async def measure(urls: list[str], rounds: int, keepalive: bool) -> dict[str, float]:
    sides = fetchers(keepalive)
    best: dict[str, float] = {name: float("inf") for name in sides}
    for fetcher in sides.values():
        await one_round(fetcher, urls[:50])  # warm-up: clients built, connections opened
    for _ in range(rounds):
        for name, fetcher in sides.items():
            best[name] = min(best[name], await one_round(fetcher, urls))
    for fetcher in sides.values():
        await fetcher.aclose()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with HttpSite() as site:
        urls = [site.url(f"/page/{i}") for i in range(args.urls)]
        print(f"{args.urls} URLs on 127.0.0.1, run_async, best of {args.rounds} rounds")
        print(f"{'connections':<24} {'checked':>10} {'unchecked':>10} {'ratio':>7}")
        for keepalive in (True, False):
            result: dict[str, Any] = asyncio.run(measure(urls, args.rounds, keepalive))
            label = "kept alive" if keepalive else "one per URL"
            ratio = result["checked"] / result["unchecked"]
            print(
                f"{label:<24} {result['checked'] * 1000:>8.1f}ms "
                f"{result['unchecked'] * 1000:>8.1f}ms {ratio:>6.2f}x"
            )


if __name__ == "__main__":
    main()
