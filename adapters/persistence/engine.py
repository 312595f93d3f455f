"""Choosing the database engine and bringing its schema up to date."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

from adapters.persistence import raw
from adapters.persistence.tables import ALL_TABLES, EvidenceHead
from adapters.persistence.warm_sqlite import WarmSQLiteEngine
from domain.evidence import GENESIS

PICCOLO_CONF = "adapters.persistence.piccolo_conf"


class LoopLocalPostgresEngine(PostgresEngine):
    """A PostgresEngine with one asyncpg pool per event loop.

    A pool belongs to the loop that made it, and a process here runs two loops (the web
    server's and the worker's). Piccolo reads `engine.pool` wherever it runs a query, so the
    pool of the running loop is returned; a loop without a pool opens a connection per query.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pools: dict[asyncio.AbstractEventLoop, Any] = {}
        super().__init__(*args, **kwargs)

    @property
    def pool(self) -> Any:
        try:
            return self._pools.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    @pool.setter
    def pool(self, value: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # piccolo's constructor sets it to None outside any loop
        if value is None:
            self._pools.pop(loop, None)
        else:
            self._pools[loop] = value

    async def run_querystring(self, querystring: Any, in_pool: bool = True) -> Any:
        # As piccolo's, with the unit of work's gathered writes (and its BEGIN, unless this
        # is a plain read that may run before it) sent first, in order.
        query, args = querystring.compile_string(engine_type=self.engine_type)
        await raw.flush(query)
        transaction = self.current_transaction.get()
        if transaction:
            return await transaction.connection.fetch(query, *args)
        if in_pool and self.pool:
            return await self._run_in_pool(query, args)
        return await self._run_in_new_connection(query, args)

    async def run_ddl(self, ddl: str, in_pool: bool = True) -> Any:
        await raw.flush()
        return await super().run_ddl(ddl, in_pool)


class ResetOnlyWhenListened(asyncpg.Connection):
    """A pooled connection that skips asyncpg's reset query on release (advisory unlock,
    CLOSE ALL, UNLISTEN *, RESET ALL: one more round trip per transaction) unless it listened
    for notifications since the last release. asyncpg still rolls back a transaction left
    open. Nothing here takes session advisory locks (the migration lock has a connection of
    its own), declares WITH HOLD cursors or SETs session variables on a pooled connection."""

    _listened = False

    async def add_listener(self, channel: str, callback: Any) -> None:
        self._listened = True
        await super().add_listener(channel, callback)

    def get_reset_query(self) -> str:  # asked by reset(), once per release
        listened, self._listened = self._listened, False
        return str(super().get_reset_query()) if listened else ""


async def open_pool(engine: Engine[Any], size: int) -> None:
    """Give the running loop a connection pool (PostgreSQL only; SQLite keeps its own)."""
    if size > 0 and isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=1, max_size=size,
                                           connection_class=ResetOnlyWhenListened)


async def close_pool(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
    elif isinstance(engine, WarmSQLiteEngine):
        await engine.close_idle()


def engine_for(database_url: str, sqlite_path: str) -> Engine[Any]:
    """PostgreSQL when a postgres:// URL is given, else the embedded SQLite file."""
    if database_url:
        url = urlparse(database_url)
        if url.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {url.scheme}://")
        return LoopLocalPostgresEngine(config={
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or "") or None,
            "database": (url.path or "/postgres").lstrip("/") or "postgres",
        })
    Path(sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    # A generous busy timeout: concurrent writers wait for each other instead of failing.
    return WarmSQLiteEngine(sqlite_path, timeout=30)


_in_use: Engine[Any] | None = None


def use_engine(engine: Engine[Any]) -> None:
    """Point every table, and piccolo's migration runner, at `engine`."""
    global _in_use
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    from piccolo.apps.migrations.tables import Migration

    _in_use = engine  # what piccolo_conf.DB answers from now on
    tables: list[type[Table]] = [*ALL_TABLES, Migration]
    for table in tables:
        table._meta.db = engine


def engine_in_use() -> Engine[Any] | None:
    """The engine `use_engine` chose in this process, if it was called."""
    return _in_use


# Any constant shared by every process of the mall: it names the migration lock.
_MIGRATION_LOCK_KEY = 0x6D616C6C


@contextlib.asynccontextmanager
async def _migration_lock(engine: Engine[Any]) -> AsyncIterator[None]:
    """On PostgreSQL, processes starting together migrate one at a time (an advisory lock
    held on a connection of its own); SQLite's file lock already does that."""
    if not isinstance(engine, PostgresEngine):
        yield
        return
    connection = await asyncpg.connect(**engine.config)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        yield
    finally:
        try:
            await connection.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
        finally:
            await connection.close()


async def migrate(engine: Engine[Any]) -> None:
    """Apply every migration not applied yet, then make sure the ledger has its head row."""
    use_engine(engine)
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from adapters.persistence import squashed

    # The runner prints its progress; keep our own output clean and fail loudly instead.
    async with _migration_lock(engine):
        await squashed.adopt(engine)  # a database of the migrations the baseline replaced
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            result = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not result.success:
        sys.stderr.write(printed.getvalue())
        raise RuntimeError(f"database migration failed: {result.message}")
    await EvidenceHead.insert(EvidenceHead(id=1, seq=0, head_hash=GENESIS)).on_conflict(
        action="DO NOTHING"
    )
