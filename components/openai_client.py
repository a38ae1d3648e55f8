"""The `openai` clients an OpenAI component talks through, built from its init parameters.

The OpenAI generator and embedders share these rules:

- The key comes from the component's `api_key` `Secret` (by default `OPENAI_API_KEY`), read
  when the first client is built, never in `__init__`: a pipeline can be loaded and validated
  without it. A missing key raises `MissingAPIKeyError`, which names the variable to set and
  how to point at another server; the key itself never appears in a message or `repr`.
  A non-strict secret whose variables are unset sends a placeholder key, for local servers
  (Ollama, vLLM, llama.cpp) that ignore it.
- The server is `api_base_url`, else the `OPENAI_BASE_URL` environment variable, else
  OpenAI's own API. Any OpenAI-compatible server works.
- `timeout` defaults to `OPENAI_TIMEOUT` or 30 seconds (Haystack's default).
- `max_retries` defaults to `OPENAI_MAX_RETRIES` or **0**, unlike Haystack (5) and the openai
  client (2): ragrun's per-component `retry` policy is the one that retries, so every attempt
  shows up as an event, respects the component's `timeout` and the shared rate limit, and a
  pipeline's `retry: {attempts: 4}` means four requests, not four times the client's three.
  The openai exceptions (`RateLimitError`, `APITimeoutError`, ...) reach the engine unchanged.
- `import openai` happens only when a client is built.

The async client is built per event loop: its connection pool belongs to the loop that first
used it, and a sync `pipeline.run()` starts a fresh loop each time.

Its HTTP transport is aiohttp when the `aiohttp` package is installed (the `openai` extra
installs it), the loop is asyncio's, and `http_client_kwargs` is not given; otherwise httpx.
openai's httpx transport scans its whole connection pool on every request, which at 100
requests in flight costs more CPU than the request itself: 1000 chat calls at concurrency 100
took 1.8 s through httpx and 1.3 s through aiohttp against a server answering in 100 ms
(`benchmarks/concurrency.py`). `RAGRUN_OPENAI_TRANSPORT=httpx` forces httpx. An aiohttp session
must be closed on its own loop, so the client is closed when its loop shuts down (see
`_close_at_loop_end`), not left for the garbage collector to complain about.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragrun import RagrunError, Secret
from ragrun.secrets import SecretNotFoundError

if TYPE_CHECKING:
    import openai

DEFAULT_TIMEOUT = 30.0
"""Seconds per request when neither `timeout` nor `OPENAI_TIMEOUT` is set."""
DEFAULT_MAX_RETRIES = 0
"""Client-side retries when neither `max_retries` nor `OPENAI_MAX_RETRIES` is set."""
PLACEHOLDER_KEY = "placeholder-key"
"""Sent when a non-strict `api_key` secret is unset, for servers that need no key."""
TRANSPORT_VARIABLE = "RAGRUN_OPENAI_TRANSPORT"
"""`httpx` forces the async client onto httpx; unset (or `auto`) picks aiohttp when it can."""


class MissingAPIKeyError(RagrunError, LookupError):
    """An OpenAI component has no API key: none of its secret's variables is set."""


@dataclass(frozen=True)
class ClientSettings:
    """How to reach an OpenAI-compatible server: the init parameters every OpenAI component has."""

    api_key: Secret
    api_base_url: str | None = None
    organization: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    http_client_kwargs: dict[str, Any] | None = None

    def base_url(self) -> str | None:
        """`api_base_url`, else `OPENAI_BASE_URL`, else None (OpenAI's API)."""
        return self.api_base_url or os.environ.get("OPENAI_BASE_URL") or None

    def resolved_timeout(self) -> float:
        """`timeout`, else `OPENAI_TIMEOUT`, else `DEFAULT_TIMEOUT`."""
        if self.timeout is not None:
            return float(self.timeout)
        return float(os.environ.get("OPENAI_TIMEOUT") or DEFAULT_TIMEOUT)

    def resolved_max_retries(self) -> int:
        """`max_retries`, else `OPENAI_MAX_RETRIES`, else `DEFAULT_MAX_RETRIES`."""
        if self.max_retries is not None:
            return int(self.max_retries)
        return int(os.environ.get("OPENAI_MAX_RETRIES") or DEFAULT_MAX_RETRIES)

    def client_kwargs(self, owner: str) -> dict[str, Any]:
        """Keyword arguments for `openai.OpenAI` / `openai.AsyncOpenAI` (without `http_client`).

        Args:
            owner: The component's class name, for the error message.

        Raises:
            MissingAPIKeyError: the key's secret is strict and none of its variables is set.
        """
        return {
            "api_key": self._key(owner),
            "base_url": self.base_url(),
            "organization": self.organization,
            "timeout": self.resolved_timeout(),
            "max_retries": self.resolved_max_retries(),
        }

    def _key(self, owner: str) -> str:
        try:
            key = self.api_key.resolve()
        except SecretNotFoundError:
            raise MissingAPIKeyError(_missing_key_message(owner, self.api_key)) from None
        # The openai client would read OPENAI_API_KEY itself when given None; a non-strict,
        # unset secret means "no key needed", so send a placeholder instead.
        return key if key else PLACEHOLDER_KEY


def _missing_key_message(owner: str, secret: Secret) -> str:
    names = list(secret.env_vars) or ["OPENAI_API_KEY"]
    variables = " or ".join(names)
    return (
        f"{owner} needs an API key: set the environment variable {variables} "
        "(or pass api_key). To use another OpenAI-compatible server (Ollama, vLLM, llama.cpp), "
        "set OPENAI_BASE_URL or api_base_url to its URL, e.g. http://localhost:11434/v1; "
        "if it needs no key, declare api_key with strict: false "
        f"({{type: env_var, env_vars: [{names[0]}], strict: false}})."
    )


def _loop_key() -> object:
    """An object identifying the running event loop (asyncio's loop, or trio's token)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio  # anyio's other backend; only reached when running under it

        return trio.lowlevel.current_trio_token()


class OpenAIClients:
    """The sync client and the per-event-loop async client of one component, built lazily."""

    def __init__(self, settings: ClientSettings, owner: str) -> None:
        self.settings = settings
        self.owner = owner
        self._sync: openai.OpenAI | None = None
        self._sync_lock = threading.Lock()  # worker threads may make the first call together
        # One async client per live event loop, with the generator that closes it when that
        # loop ends (see `_close_at_loop_end`). Several loops may run at once, each in its own
        # thread (sync `pipeline.run()` calls from a thread pool).
        self._by_loop: dict[object, tuple[openai.AsyncOpenAI, AsyncIterator[None] | None]] = {}

    def check(self) -> None:
        """Fail now, with `MissingAPIKeyError`, if the key cannot be read."""
        self.settings.client_kwargs(self.owner)

    def sync(self) -> openai.OpenAI:
        """The `openai.OpenAI` client, built on first use."""
        with self._sync_lock:
            if self._sync is None:
                import openai

                kwargs = self.settings.client_kwargs(self.owner)
                if self.settings.http_client_kwargs:
                    http = openai.DefaultHttpxClient(**self.settings.http_client_kwargs)
                    kwargs["http_client"] = http
                self._sync = openai.OpenAI(**kwargs)
            return self._sync

    def prepare(self, resource: str) -> None:
        """Build the sync client and import what the first call would, so a `warm_up` pays it.

        `resource` is the client attribute the component calls (`"chat"`, `"embeddings"`):
        openai imports each resource's modules on first access, and the async transport's
        library (aiohttp) is imported here too. Without this, the first run of a batch took
        ~0.1 s longer than the others.
        """
        getattr(self.sync(), resource)
        if not self.settings.http_client_kwargs and _transport_choice() != "httpx":
            try:
                import aiohttp  # noqa: F401
            except ImportError:
                pass

    async def for_current_loop(self) -> openai.AsyncOpenAI:
        """The `openai.AsyncOpenAI` client of the running event loop, built on first use."""
        loop = _loop_key()
        found = self._by_loop.get(loop)
        if found is not None:
            return found[0]
        import openai

        self._forget_ended_loops(loop)
        kwargs = self.settings.client_kwargs(self.owner)
        # Always our own HTTP client, never openai's default wrapper: that one's __del__
        # schedules its own closing on whatever loop is running when it is collected, so a
        # client left by an earlier (closed) loop would fail inside a later, unrelated run.
        kwargs["http_client"] = _async_http_client(openai, self.settings.http_client_kwargs)
        client = openai.AsyncOpenAI(**kwargs)
        closer = None
        if isinstance(loop, asyncio.AbstractEventLoop):
            closer = _close_at_loop_end(client)
            await anext(closer)  # never suspends: no other call can build a second client here
        self._by_loop[loop] = (client, closer)
        return client

    def _forget_ended_loops(self, current: object) -> None:
        """Drop the clients of asyncio loops that are closed (their closer closed them).

        Other loops (trio) cannot be asked, so their earlier clients are dropped as before.
        """
        for loop in list(self._by_loop):
            ended = loop.is_closed() if isinstance(loop, asyncio.AbstractEventLoop) else True
            if ended and loop is not current:
                self._by_loop.pop(loop, None)

    def close(self) -> None:
        """Close the sync client's connections."""
        with self._sync_lock:
            client, self._sync = self._sync, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the running loop's async client (other loops' clients are theirs to close)."""
        found = self._by_loop.pop(_loop_key(), None)
        if found is None:
            return
        client, closer = found
        await client.close()
        if closer is not None:
            await closer.aclose()  # type: ignore[attr-defined]


def _async_http_client(openai: Any, http_client_kwargs: dict[str, Any] | None) -> Any:
    """The async client's HTTP client: aiohttp when it can be (see the module doc), else httpx."""
    choice = _transport_choice()
    aiohttp_client = getattr(openai, "DefaultAioHttpClient", None)  # openai >= 1.89
    if choice != "httpx" and not http_client_kwargs and _on_asyncio():
        try:
            import aiohttp  # noqa: F401  (openai's aiohttp transport needs it)
        except ImportError:
            aiohttp_client = None
        if aiohttp_client is not None:
            try:
                return aiohttp_client()
            except (RuntimeError, ImportError):  # openai without its `aiohttp` extra
                if choice == "aiohttp":
                    raise
        if choice == "aiohttp":
            raise RagrunError(
                f"{TRANSPORT_VARIABLE}=aiohttp needs aiohttp and openai >= 1.89: "
                "pip install 'ragrun[openai]'"
            )
    return openai.DefaultAsyncHttpxClient(**(http_client_kwargs or {}))


def _transport_choice() -> str:
    choice = os.environ.get(TRANSPORT_VARIABLE, "auto").strip().lower()
    if choice not in ("auto", "aiohttp", "httpx"):
        raise ValueError(f"{TRANSPORT_VARIABLE} must be auto, aiohttp or httpx, not {choice!r}")
    return choice


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _close_at_loop_end(client: openai.AsyncOpenAI) -> AsyncIterator[None]:
    """Closes `client` when the event loop that runs it shuts down.

    Started once (`anext`) on the client's loop, this generator is one the loop knows about
    and has not finished; `asyncio.run` (and so `anyio.run`) closes every such generator
    before it closes the loop, which runs the `finally` here on that loop: the place where an
    aiohttp session must be closed. `OpenAIClients` keeps a reference so it lives as long
    as the client.
    """
    try:
        yield
    finally:
        if not client.is_closed():
            await client.close()


class OpenAIConnected:
    """What every OpenAI component holds: its connection settings and its clients.

    The embedders and the chat generator call `_connect` from `__init__` with the connection
    parameters Haystack gives them all, so those are stored (for `dumps`) and turned into
    clients in one place.
    """

    api_key: Secret
    model: str
    api_base_url: str | None

    def _connect(
        self,
        api_key: Secret,
        api_base_url: str | None,
        organization: str | None,
        timeout: float | None,
        max_retries: int | None,
        http_client_kwargs: dict[str, Any] | None,
    ) -> None:
        self.api_key = api_key
        self.api_base_url = api_base_url
        self.organization = organization
        self.timeout = timeout
        self.max_retries = max_retries
        self.http_client_kwargs = http_client_kwargs
        settings = ClientSettings(
            api_key, api_base_url, organization, timeout, max_retries, http_client_kwargs
        )
        self._clients = OpenAIClients(settings, type(self).__name__)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, api_key={self.api_key!r}, "
            f"api_base_url={self.api_base_url!r})"
        )
