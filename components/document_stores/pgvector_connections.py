"""Async connections for PgvectorDocumentStore: a small pool per event loop, no tasks of its own.

Why not `psycopg_pool.AsyncConnectionPool`: its maintenance tasks catch `CancelledError` to
survive, so when an event loop ends with the pool still open (`Pipeline.run` ends its loop
after every run, and nothing tells a store that a run is over) `asyncio.run` can wait for them
forever. This pool only acts inside the calls that use it: a connection is taken from the idle
list (or opened), used for one transaction, then committed and put back, or rolled back, or
closed when it is broken. Idle connections of a loop that has ended are closed synchronously
(`pgconn.finish()`) the next time the store is used on another loop, or by `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
from psycopg.pq import TransactionStatus

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


class LoopConnections:
    """The connections one event loop uses: reused, at most `size` at a time.

    Args:
        connect: opens and configures a new connection.
        size: how many connections may be in use at once (callers beyond wait their turn).
    """

    def __init__(self, connect: Connect, size: int) -> None:
        self._connect = connect
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = anyio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection in a transaction, committed at the end, rolled back on an error."""
        async with self._slots:
            conn = await self._take()
            try:
                yield conn
                await conn.commit()
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._recover(conn)
                raise
            self._idle.append(conn)

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                return conn
            await conn.close()
        return await self._connect()

    async def _recover(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Put a connection back after a failed transaction, or close it when it is unusable."""
        try:
            if not conn.closed:
                await conn.rollback()
        except psycopg.Error:
            pass
        if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
            self._idle.append(conn)
        else:
            await conn.close()

    async def aclose(self) -> None:
        """Close the idle connections (on the loop they belong to)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    def finish(self) -> None:
        """Close the idle connections without their loop (which has ended)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.pgconn.finish()


class ConnectionsPerLoop:
    """One `LoopConnections` per event loop, made on first use in that loop.

    Args:
        connect: opens and configures a new connection.
        size: each loop's limit of connections in use.
    """

    def __init__(self, connect: Connect, size: int) -> None:
        self._connect = connect
        self._size = size
        # Strong keys, pruned when a new loop arrives: a loop that ended is kept until then so
        # its connections can be closed rather than garbage-collected open.
        self._by_loop: dict[asyncio.AbstractEventLoop, LoopConnections] = {}

    def get(self) -> LoopConnections:
        """The running loop's connections."""
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            self.finish_ended()
            found = self._by_loop[loop] = LoopConnections(self._connect, self._size)
        return found

    def finish_ended(self) -> None:
        """Close the connections of loops that have ended."""
        for loop in [loop for loop in self._by_loop if loop.is_closed()]:
            self._by_loop.pop(loop).finish()

    async def aclose(self) -> None:
        """Close the running loop's connections, and those of loops that have ended."""
        found = self._by_loop.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.aclose()
        self.finish_ended()
