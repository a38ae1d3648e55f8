"""URLs without their `user:password@` part, for everything LinkContentFetcher shows.

Credentials in a URL are sent (httpx turns them into a Basic `Authorization` header for that
URL's origin, and drops the header when a redirect leaves the origin), but never shown: not in
`meta["url"]` or `meta["final_url"]`, not in an error message, a log line or an event.
"""

from __future__ import annotations

_AUTHORITY_END = "/?#\\"


def without_credentials(url: str) -> str:
    """`url` with everything before the last `@` of its authority removed.

    Works on text rather than a parsed URL, so that a URL too malformed to parse is stripped
    too; a URL without `@` in its authority comes back unchanged, character for character.
    """
    text = str(url)
    start = text.find("://")
    start = 0 if start < 0 else start + 3
    end = len(text)
    for stop in _AUTHORITY_END:
        found = text.find(stop, start)
        if found >= 0:
            end = min(end, found)
    at = text.rfind("@", start, end)
    if at < 0:
        return text
    return text[:start] + text[at + 1 :]


def has_credentials(url: str) -> bool:
    """Whether `url` carries a `user:password@` part."""
    return without_credentials(url) != str(url)
