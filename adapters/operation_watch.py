"""The OperationWatch port: waiters on an operation are woken when a change to it commits.

In one process (the embedded default, its worker on a thread of its own) a commit wakes the
waiters directly. On PostgreSQL the unit of work also sends `NOTIFY mall_operations` inside
the transaction that changes an operation (delivered on commit, to every process), and each
process that waits LISTENs on one connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import Any

import asyncpg

from application.ports.runtime import SETTLED

log = logging.getLogger("mall.operations")
CHANNEL = "mall_operations"


class LocalOperationWatch:
    """Waiters of this process, woken from any thread once a change commits."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()

    def changed(self, operation_ids: Iterable[str]) -> None:
        with self._lock:
            woken = [waiter for operation_id in operation_ids
                     for waiter in self._waiters.pop(operation_id, ())]
        for loop, event in woken:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    async def wait(self, operation_id: str, within: float) -> bool:
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(operation_id, set()).add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter[1].wait(), max(0.0, within))
            return waiter[1].is_set()
        finally:
            with self._lock:
                waiting = self._waiters.get(operation_id)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[operation_id]

    async def close(self) -> None:
        """Nothing to release in one process."""


class PostgresOperationWatch(LocalOperationWatch):
    """Also hears the changes other processes commit, through LISTEN on a connection of its
    own per event loop, opened when something first waits. Without it (the database refused
    the connection) waiters still wake when their time is up and read again."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._listeners: dict[asyncio.AbstractEventLoop, Any] = {}
        self._opening: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def wait(self, operation_id: str, within: float) -> bool:
        await self._listen()
        return await super().wait(operation_id, within)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if loop in self._listeners:
            return
        opening = self._opening.get(loop)
        if opening is None:
            opening = self._opening[loop] = loop.create_task(self._open(loop))
        await asyncio.shield(opening)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            connection = await asyncpg.connect(self._dsn)
            await connection.add_listener(CHANNEL, self._heard)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot LISTEN for operation changes (%s): waiters poll instead",
                        type(exc).__name__)
            self._listeners[loop] = None
        else:
            self._listeners[loop] = connection
        finally:
            self._opening.pop(loop, None)

    def _heard(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        key = str(payload)
        self.changed([key.removesuffix(SETTLED), key])

    async def close(self) -> None:
        """Close this event loop's listening connection."""
        connection = self._listeners.pop(asyncio.get_running_loop(), None)
        if connection is not None:
            await connection.close()


def operation_watch(database_url: str) -> LocalOperationWatch:
    return PostgresOperationWatch(database_url) if database_url else LocalOperationWatch()
