"""The embedded SQLite engine with its connections kept open between transactions.

piccolo's SQLiteEngine opens a connection (a thread, the file, the schema read) for every
transaction and for every query outside one. This engine keeps a few idle connections and
hands them out again. Each serves one transaction or query at a time, so SQLite's own locking
(WAL, BEGIN IMMEDIATE, the busy timeout) works as it did with fresh connections; a caller that
finds none idle opens another, so nothing ever waits for the pool itself.
"""

from __future__ import annotations

import threading
import weakref
from functools import partial
from typing import Any

import aiosqlite
from aiosqlite.core import _STOP_RUNNING_SENTINEL
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

# Enough for the web server's loop and the worker's threads to find one idle most of the time.
KEPT_IDLE = 4


class WarmSQLiteEngine(SQLiteEngine):
    def __init__(self, path: str, *, kept_idle: int = KEPT_IDLE, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self._kept_idle = kept_idle
        self._idle: list[aiosqlite.Connection] = []
        # The web server's loop and the worker's share the idle list; a connection is not
        # tied to a loop (each call's answer goes to the loop that asked).
        self._idle_lock = threading.Lock()
        weakref.finalize(self, _stop_all, self._idle)

    async def get_connection(self) -> Any:
        """A transaction's (or a batch's) connection: piccolo closes it when done, which
        hands it back."""
        return _Lease(self, await self._take())

    async def close_idle(self) -> None:
        with self._idle_lock:
            idle, self._idle[:] = list(self._idle), []
        for connection in idle:
            await connection.close()

    async def _take(self) -> aiosqlite.Connection:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        opening = aiosqlite.connect(**self.connection_kwargs)
        # An idle connection must not keep the process alive at exit; nothing is in flight
        # on one, and WAL keeps every committed transaction.
        opening._thread.daemon = True
        connection = await opening
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def _give_back(self, connection: aiosqlite.Connection) -> None:
        try:
            if connection.in_transaction:  # a COMMIT that failed leaves its transaction open
                await connection.rollback()
        except Exception:  # closed or broken: not worth keeping
            await _close_quietly(connection)
            return
        with self._idle_lock:
            if len(self._idle) < self._kept_idle:
                self._idle.append(connection)
                return
        await connection.close()

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None,
                                     query_type: str = "generic", table: Any = None) -> Any:
        """A query outside any transaction, on an idle connection (autocommit)."""
        connection = await self._take()
        try:
            return await self._run_in_existing_connection(connection, query, args,
                                                          query_type, table)
        finally:
            await self._give_back(connection)

    async def _run_in_existing_connection(self, connection: Any, query: str,
                                          args: list[Any] | None = None,
                                          query_type: str = "generic", table: Any = None) -> Any:
        if self.get_version_sync() < 3.35:  # no RETURNING: piccolo's own way
            return await super()._run_in_existing_connection(connection, query, args,
                                                             query_type, table)
        # foreign_keys is on from the connection's opening; piccolo would set it again
        # before every statement.
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()


class _Lease:
    """An idle connection lent to a transaction: close() hands it back, once."""

    __slots__ = ("_connection", "_engine")

    def __init__(self, engine: WarmSQLiteEngine, connection: aiosqlite.Connection) -> None:
        self._engine: WarmSQLiteEngine = engine
        self._connection: aiosqlite.Connection | None = connection

    def __getattr__(self, name: str) -> Any:  # execute, commit, rollback, ...
        return getattr(self._connection, name)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._engine._give_back(connection)


async def _close_quietly(connection: aiosqlite.Connection) -> None:
    try:
        await connection.close()
    except Exception:
        connection.stop()


def _stop_all(idle: list[aiosqlite.Connection]) -> None:
    """When the engine is collected: close the connections it kept and end their threads.
    Connection.stop() would make a future on whatever loop is current, maybe a closed one
    the thread would then fail to answer; nobody waits here, so the request goes without."""
    for connection in idle:
        connection._tx.put_nowait((None, partial(_close_in_its_thread, connection)))
    idle.clear()  # the queued request holds each connection until it is closed


def _close_in_its_thread(connection: aiosqlite.Connection) -> object:
    connection._running = False
    if connection._connection is not None:
        connection._connection.close()
        connection._connection = None
    return _STOP_RUNNING_SENTINEL  # ends the thread's loop
