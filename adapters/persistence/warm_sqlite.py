"""The embedded SQLite engine with its connections kept open between transactions.

piccolo's SQLiteEngine opens a connection (a thread, the file, the schema read) for every
transaction and for every query outside one. This engine keeps a few idle connections and
hands them out again. Each serves one transaction or query at a time, so SQLite's own locking
(WAL, BEGIN IMMEDIATE, the busy timeout) works as it did with fresh connections; a caller that
finds none idle opens another, so nothing ever waits for the pool itself.

A unit of work's transaction here is a `WarmTransaction`: its BEGIN IMMEDIATE goes with its
first statement, and the writes nobody reads back before commit wait for the next statement
or the COMMIT, all sent in one trip to the connection's thread. SQLite has one write lock;
between two trips the event loop may run anything else, and the lock is held all that time.

The connections of one engine also queue for that lock at a `WriteGate` of their own before
SQLite's: SQLite's busy handler sleeps 1, 2, 5, ... up to 100 ms between tries, so a writer
that finds the lock taken may sleep long after it is free; a waiter at the gate is woken as
soon as the holder commits or rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite
from aiosqlite.core import _STOP_RUNNING_SENTINEL
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

# Enough for the web server's loop and the worker's threads to find one idle most of the time.
KEPT_IDLE = 4
# Past this, a writer stops waiting at the gate and leaves it to SQLite's busy timeout.
GATE_PATIENCE_SECONDS = 30.0


class WriteGate:
    """SQLite's write lock as this process's connections see it, taken in a connection's
    thread right before the statement that takes SQLite's (BEGIN IMMEDIATE, a write on its
    own) and given back once that connection is out of its transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: sqlite3.Connection | None = None

    def enter(self, connection: sqlite3.Connection) -> None:
        if self._holder is connection:
            return
        if self._lock.acquire(timeout=GATE_PATIENCE_SECONDS):
            self._holder = connection
        # else on without it: SQLite's own lock and busy timeout decide, as with no gate

    def leave_if_done(self, connection: sqlite3.Connection) -> None:
        if self._holder is connection and not connection.in_transaction:
            self._holder = None
            self._lock.release()


class WarmSQLiteEngine(SQLiteEngine):
    def __init__(self, path: str, *, kept_idle: int = KEPT_IDLE, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self._kept_idle = kept_idle
        self._idle: list[aiosqlite.Connection] = []
        # The web server's loop and the worker's share the idle list; a connection is not
        # tied to a loop (each call's answer goes to the loop that asked).
        self._idle_lock = threading.Lock()
        self.gate = WriteGate()
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
        await connection.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)
        return connection

    async def _give_back(self, connection: aiosqlite.Connection) -> None:
        try:
            if connection.in_transaction:  # a COMMIT that failed leaves its transaction open
                await self.end(connection, "ROLLBACK")
        except Exception:  # closed or broken: not worth keeping
            await _close_quietly(connection)
            return
        with self._idle_lock:
            if len(self._idle) < self._kept_idle:
                self._idle.append(connection)
                return
        await connection.close()

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """A write transaction of its own for the block (a WarmTransaction), committed at
        its end and rolled back on an error; in a transaction already, the block joins it."""
        if self.current_transaction.get() is not None:
            yield
            return
        async with WarmTransaction(self) as transaction:
            yield
            await transaction.commit()

    async def end(self, connection: aiosqlite.Connection, sql: str) -> None:
        """COMMIT or ROLLBACK `connection`'s transaction, and leave the gate if it held it."""
        await _in_thread(connection, _run_steps, self.gate, [(sql, ())])

    async def run_querystring(self, querystring: Any, in_pool: bool = False) -> Any:
        transaction = self.current_transaction.get()
        if not isinstance(transaction, WarmTransaction):
            return await super().run_querystring(querystring, in_pool)
        return await transaction.run(*querystring.compile_string(engine_type="sqlite"))

    async def run_sql(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """SQL written for SQLite, in the running transaction or on its own."""
        transaction = self.current_transaction.get()
        if isinstance(transaction, WarmTransaction):
            return await transaction.run(sql, args)
        if transaction is not None:
            return list(await self._run_in_existing_connection(transaction.connection, sql,
                                                               list(args)))
        return list(await self._run_in_new_connection(sql, list(args)))

    def gathering(self) -> WarmTransaction | None:
        """The running task's own transaction, when it gathers writes."""
        transaction = self.current_transaction.get()
        if isinstance(transaction, WarmTransaction) and transaction.owner is (
                asyncio.current_task()):
            return transaction
        return None  # none, piccolo's own, or a parent task's: run now

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None,
                                     query_type: str = "generic", table: Any = None) -> Any:
        """A query outside any transaction, on an idle connection (autocommit)."""
        connection = await self._take()
        try:
            if query.lstrip()[:6].upper() == "SELECT":  # reads take no lock in WAL mode
                return await self._run_in_existing_connection(connection, query, args,
                                                              query_type, table)
            # A write on its own takes SQLite's lock for itself: at the gate first.
            [rows] = await _in_thread(connection, _run_steps, self.gate,
                                      [(query, args or [])], False)
            return rows
        finally:
            await self._give_back(connection)

    async def _run_in_existing_connection(self, connection: Any, query: str,
                                          args: list[Any] | None = None,
                                          query_type: str = "generic", table: Any = None) -> Any:
        if self.get_version_sync() < 3.35:  # no RETURNING: piccolo's own way
            return await super()._run_in_existing_connection(connection, query, args,
                                                             query_type, table)
        # foreign_keys is on from the connection's opening; piccolo would set it again
        # before every statement. One trip to the connection's thread, not three (execute,
        # fetch, close): a write transaction holds SQLite's lock across every trip.
        return await connection.execute_fetchall(query, args or [])


Then = Callable[[Any], None]


class WarmTransaction:
    """A write transaction on one kept connection. Writes are gathered with `gather` and
    sent, in order, right before the next statement that needs an answer (`run`) or the
    COMMIT; the BEGIN IMMEDIATE waits for the first of them. Each send is one trip to the
    connection's thread. Piccolo finds it as the engine's current transaction; piccolo's
    nested transactions (allow_nested) join it."""

    def __init__(self, engine: WarmSQLiteEngine) -> None:
        self.engine = engine
        self.connection: Any = None
        self.owner = asyncio.current_task()  # a child task inherits the variable, not this
        # (sql, args, then, whole): `then` is given the rows when whole, else the first value
        self._writes: list[tuple[str, Sequence[Any], Then | None, bool]] = []
        self._context: Any = None

    async def __aenter__(self) -> WarmTransaction:
        self.connection = await self.engine._take()
        # piccolo runs its queries on it (run_querystring), and nests in it
        self._context = self.engine.current_transaction.set(self)  # type: ignore[arg-type]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.engine.current_transaction.reset(self._context)
        self._writes.clear()
        connection, self.connection = self.connection, None
        await self.engine._give_back(connection)  # rolls back a transaction left open

    def gather(self, sql: str, args: Sequence[Any], then: Then | None = None) -> None:
        """A write sent with the next statement or the COMMIT; `then` is given the first
        value it returned (its RETURNING), once sent."""
        self._writes.append((sql, args, then, False))

    def gather_read(self, sql: str, args: Sequence[Any], then: Then) -> None:
        """A read whose rows can wait: sent with the next statement, `then` given its rows."""
        self._writes.append((sql, args, then, True))

    async def run(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._send((sql, args))

    async def flush(self) -> None:
        """Send what was gathered now (its RETURNING values are wanted)."""
        if self._writes:
            await self._send(None)

    async def commit(self) -> None:
        if self._writes or self.connection.in_transaction:
            await self._send(("COMMIT", ()))

    async def rollback(self) -> None:
        self._writes.clear()
        if self.connection.in_transaction:
            await self.engine.end(self.connection, "ROLLBACK")

    async def _send(self, last: tuple[str, Sequence[Any]] | None) -> list[Any]:
        writes, self._writes = self._writes, []
        steps = [(sql, args) for sql, args, _, _ in writes]
        if last is not None:
            steps.append(last)
        answers = await _in_thread(self.connection, _run_steps, self.engine.gate, steps)
        for (_, _, then, whole), answer in zip(writes, answers, strict=False):
            if then is not None:
                then(list(answer) if whole else first_value(answer))
        return list(answers[-1]) if last is not None else []


def _sha256_hex(text: str | None) -> str | None:
    """SQL's sha256_hex(text): the hex SHA-256 of its UTF-8 (PostgreSQL's
    encode(sha256(convert_to(text, 'UTF8')), 'hex'))."""
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def first_value(rows: Sequence[dict[str, Any]]) -> Any:
    """What a write's RETURNING gave back: its first row's first value (None: no row)."""
    return next(iter(rows[0].values())) if rows else None


async def _in_thread(connection: aiosqlite.Connection, function: Callable[..., Any],
                     *args: Any) -> Any:
    """`function(the sqlite3 connection, *args)` in `connection`'s thread: one trip."""
    return await connection._execute(function, connection._conn, *args)  # type: ignore[no-untyped-call]


def _run_steps(connection: sqlite3.Connection, gate: WriteGate,
               steps: list[tuple[str, Sequence[Any]]], begin: bool = True) -> list[list[Any]]:
    """In the connection's thread: through the gate and BEGIN IMMEDIATE unless begun (or,
    without `begin`, through the gate only), then each statement (none: just begin); what
    each returned. A failure stops there, a transaction left open for its rollback; the
    gate is left once the connection is out of its transaction."""
    ending = bool(steps) and steps[0][0] in ("COMMIT", "ROLLBACK")
    try:
        if not connection.in_transaction and not ending:
            gate.enter(connection)
            if begin:
                # IMMEDIATE takes the write lock up front: two writers queue instead of
                # deadlocking.
                connection.execute("BEGIN IMMEDIATE")
        return [connection.execute(sql, args).fetchall() for sql, args in steps]
    finally:
        gate.leave_if_done(connection)


class _Lease:
    """An idle connection lent to a transaction: close() hands it back, once."""

    __slots__ = ("_connection", "_engine")

    def __init__(self, engine: WarmSQLiteEngine, connection: aiosqlite.Connection) -> None:
        self._engine: WarmSQLiteEngine = engine
        self._connection: aiosqlite.Connection | None = connection

    def __getattr__(self, name: str) -> Any:  # execute_fetchall, in_transaction, ...
        return getattr(self._connection, name)

    async def execute(self, sql: str, parameters: Any = None) -> Any:
        """As aiosqlite's, with piccolo's own BEGIN IMMEDIATE, COMMIT and ROLLBACK going
        through the engine's write gate."""
        connection = self._connection
        assert connection is not None, "the lease was handed back"
        if sql == "BEGIN IMMEDIATE":  # the gate, then the BEGIN, and nothing more
            await _in_thread(connection, _run_steps, self._engine.gate, [])
            return None
        if sql in ("COMMIT", "ROLLBACK"):
            await self._engine.end(connection, sql)
            return None
        return await connection.execute(sql, parameters)

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
