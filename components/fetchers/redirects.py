"""One attempt at a URL: its request, and each redirect, checked hop by hop.

The clients never follow redirects themselves: `Hops` sends each request with
`follow_redirects=False` and follows the `Location` itself, so that every target is checked
before anything is sent to it: its scheme (http and https only: a redirect to `file:`,
`gopher:` or `data:` is refused) and its host when that is a literal address. Names are
checked when connecting (`backends.py`), so a redirect to a new host is checked twice over.
At most `max_redirects` redirects are followed (the client's, httpx's default 20, or
`client_kwargs["max_redirects"]`). Headers, cookies and methods move from hop to hop as httpx
moves them (`response.next_request`); in particular a Basic `Authorization` header made from
the URL's credentials is dropped when a redirect leaves the URL's origin. A `Location` httpx
cannot read (`data:text/plain,hi` among them) is refused too, rather than escaping as httpx's
`InvalidURL`.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .addresses import AddressPolicy, DestinationRefused
from .userinfo import without_credentials

FETCHED_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Hops:
    """How an attempt follows redirects: whether it does, and the policy each hop meets."""

    follow: bool
    policy: AddressPolicy

    def check(self, url: httpx.URL) -> None:
        """Refuse `url` before anything is sent: a scheme not fetched, a refused address.

        Raises:
            DestinationRefused: saying what was refused.
        """
        if url.scheme not in FETCHED_SCHEMES:
            raise DestinationRefused(f"{url.scheme}: URLs are never fetched, only http: and https:")
        self.policy.check_literal(url.host)

    def get(self, client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
        """GET `url`, following redirects when `follow` is set; the last response is returned.

        Raises:
            DestinationRefused: the URL or a redirect's target was refused.
            httpx.HTTPError: as `client.send` raises it (TooManyRedirects past the limit).
        """
        request = client.build_request("GET", url, headers=headers)
        history: list[httpx.Response] = []
        while True:
            try:
                response = client.send(request)
            except DestinationRefused as exc:
                raise _named(exc, history, request) from None
            except httpx.InvalidURL as exc:
                raise _unreadable(exc) from None
            following = self._next(client, response, history)
            if following is None:
                return response
            request = following

    async def get_async(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str]
    ) -> httpx.Response:
        """`get` on the event loop."""
        request = client.build_request("GET", url, headers=headers)
        history: list[httpx.Response] = []
        while True:
            try:
                response = await client.send(request)
            except DestinationRefused as exc:
                raise _named(exc, history, request) from None
            except httpx.InvalidURL as exc:
                raise _unreadable(exc) from None
            following = self._next(client, response, history)
            if following is None:
                return response
            request = following

    def _next(
        self,
        client: httpx.Client | httpx.AsyncClient,
        response: httpx.Response,
        history: list[httpx.Response],
    ) -> httpx.Request | None:
        """The checked request a redirect leads to, or None when `response` is the last."""
        response.history = list(history)
        following = response.next_request
        if not self.follow or following is None:
            return None
        history.append(response)
        if len(history) > client.max_redirects:
            raise httpx.TooManyRedirects(
                f"more than {client.max_redirects} redirects", request=following
            )
        try:
            self.check(following.url)
        except DestinationRefused as exc:
            raise _named(exc, history, following) from None
        return following


def _unreadable(exc: httpx.InvalidURL) -> DestinationRefused:
    """The refusal of a redirect whose `Location` httpx could not read as a URL."""
    # httpx raises InvalidURL only while building the redirect's request, after a response
    return DestinationRefused(f"it redirects to a Location that is not a valid URL ({exc})")


def _named(
    exc: DestinationRefused, history: list[httpx.Response], request: httpx.Request
) -> DestinationRefused:
    """`exc`, saying which redirect led to the refused URL (when one did)."""
    if history and exc.redirected_to is None:
        exc.redirected_to = without_credentials(str(request.url))
    return exc
