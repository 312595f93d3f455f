"""Fixed SQL sent straight to asyncpg, for the hot statements on PostgreSQL.

Building a piccolo query costs several times an asyncpg round trip in Python time, while
the text it builds never changes; here the text is written once and sent on the connection
of the running piccolo transaction (or a pooled one), where asyncpg keeps it prepared (its
statement cache, keyed by the text). SQLite keeps the piccolo queries.

A unit of work on PostgreSQL also gathers the writes nobody reads back before commit (new
outbox messages, evidence appends, the message in hand marked done, commit notifications)
into a `WriteBatch`, sent as one statement right before the next statement of the same
transaction, or before COMMIT: one round trip instead of one per write, and the same
order of effects as seen from any later statement. Its BEGIN waits for its first statement
too: a unit of work that only wrote what it gathered commits as that one statement, which
PostgreSQL runs atomically, with no BEGIN or COMMIT around it. Plain reads (no row lock, no
side effect) before anything else of the transaction do not begin it: under READ COMMITTED
each statement sees what is committed when it runs, in a transaction or not, so they run on
a pooled connection, and a unit of work that only read and then wrote what it gathered still
commits as one statement.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from adapters.persistence import tables as t
from adapters.persistence.warm_sqlite import WarmSQLiteEngine, first_value

PLACEHOLDER = re.compile(r"\$(\d+)")
# What makes a SELECT more than a read: a row lock, or a function with an effect.
_NOT_PLAIN = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b"
                        r"|\b(?:nextval|setval|set_config|pg_notify|pg_\w*advisory\w*)\s*\(",
                        re.IGNORECASE)


def engine() -> Engine[Any]:
    return t.OutboxMessage._meta.db


def on_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


async def fetch(sql: str, *args: Any) -> list[Any]:
    """Run `sql` (PostgreSQL only) in the current transaction, else on a pooled connection;
    writes gathered for this transaction go first."""
    await flush(sql)
    return await _fetch(sql, args)


async def insert(row: Table, *more: Table, keep_existing: bool = False) -> None:
    """Insert piccolo rows of one table whose primary keys are set: on PostgreSQL gathered,
    every column (the defaults piccolo filled in included); otherwise by piccolo.
    `keep_existing`: a row whose key is taken already is left as it is, not an error."""
    rows = (row, *more)
    kind = type(row)
    if not on_postgres():
        query = kind.insert(*rows)
        await later(query.on_conflict(action="DO NOTHING") if keep_existing else query)
        return
    table = row._meta.tablename
    sql = insert_of(kind, len(rows))
    key = row._meta.primary_key._meta.name
    await write(f"{sql} ON CONFLICT DO NOTHING" if keep_existing else sql,
                *(value for each in rows for value in values_of(each)),
                row=f"{table}:{getattr(row, key)}" if not more else None)


def insert_of(table: type[Table], rows: int = 1) -> str:
    """INSERT of `rows` whole rows of a piccolo table, every column in its order (their
    values: `values_of`)."""
    return insert_into(table._meta.tablename,
                       tuple(column._meta.db_column_name for column in table._meta.columns),
                       rows)


def values_of(row: Table) -> list[Any]:
    """A piccolo row's values, every column in its table's order (the defaults piccolo
    filled in included)."""
    return [getattr(row, column._meta.name) for column in row._meta.columns]


async def update(table: type[Table], values: dict[Any, Any], row_id: str) -> None:
    """Set `values` (columns to values) on the row `row_id`: gathered on PostgreSQL."""
    if not on_postgres():
        await later(table.update(values).where(table._meta.primary_key == row_id))
        return
    key = table._meta.primary_key._meta.db_column_name
    await write(update_of(table._meta.tablename,
                          tuple(column._meta.db_column_name for column in values), key),
                *values.values(), row_id, row=f"{table._meta.tablename}:{row_id}")


async def later(query: Any, then: Callable[[Any], None] | None = None) -> None:
    """A piccolo write whose answer nobody needs before commit. On SQLite, in a unit of
    work's transaction, it is sent with the transaction's next statement or its COMMIT
    (warm_sqlite.WarmTransaction); anywhere else it runs now. `then` is given the first
    value it returned (its RETURNING), once sent."""
    db = engine()
    transaction = db.gathering() if isinstance(db, WarmSQLiteEngine) else None
    if transaction is None:
        rows = await query
        if then is not None:
            then(first_value(rows))
        return
    for querystring in query.querystrings:
        sql, args = querystring.compile_string(engine_type="sqlite")
        transaction.gather(sql, args, then)


async def fetch_here(sql: str, *args: Any) -> list[Any]:
    """Run SQL written for SQLite (`?` or `?n` parameters) in the running transaction (its
    gathered writes first), or on its own; the rows as dicts."""
    db: Any = engine()
    return list(await db.run_sql(sql, args))


async def later_sql(sql: str, *args: Any, then: Callable[[Any], None] | None = None) -> None:
    """As `later`, for SQL written for SQLite (`?` or `?n` parameters): gathered in the
    running unit of work's transaction, or run now."""
    db: Any = engine()
    transaction = db.gathering()
    if transaction is not None:
        transaction.gather(sql, args, then)
        return
    rows = await db.run_sql(sql, args)
    if then is not None:
        then(first_value(rows))


async def read_later(sql: str, *args: Any, then: Callable[[list[Any]], None]) -> None:
    """A read written for SQLite whose rows can wait for the running unit of work's next
    statement: sent with it in one trip, `then` given the rows (dicts); outside one, run
    now."""
    db: Any = engine()
    transaction = db.gathering()
    if transaction is not None:
        transaction.gather_read(sql, args, then)
        return
    then(list(await db.run_sql(sql, args)))


def together() -> AbstractAsyncContextManager[Any]:
    """The block's statements in one transaction of their own, or in the one running. On
    SQLite its writes sent with `later` go with its next statement or its COMMIT."""
    db: Any = engine()
    if isinstance(db, WarmSQLiteEngine):
        return db.writing()
    return cast(AbstractAsyncContextManager[Any], db.transaction())


async def insert_new(row: Table, key: Column, with_it: Callable[[], Awaitable[None]]) -> bool:
    """On SQLite: insert `row` unless its `key` (a unique column) is taken already, and only
    then the writes `with_it` makes, together; whether it was new. In a transaction of their
    own all go with its COMMIT in one trip, a taken key failing it (nothing is kept); in a
    transaction already running, the row is inserted at once and `with_it` runs after."""
    table = type(row)
    db: Any = engine()
    if db.current_transaction.get() is not None:
        inserted = await table.insert(row).on_conflict(target=key, action="DO NOTHING")
        if inserted:
            await with_it()
        return bool(inserted)
    taken = f"UNIQUE constraint failed: {table._meta.tablename}.{key._meta.db_column_name}"
    try:
        async with together():
            await later(table.insert(row))
            await with_it()
    except sqlite3.IntegrityError as error:
        if taken not in str(error):
            raise
        return False
    return True


async def _fetch(sql: str, args: Sequence[Any]) -> list[Any]:
    db: Any = engine()
    transaction = db.current_transaction.get()
    if transaction is not None:
        return list(await transaction.connection.fetch(sql, *args))
    if db.pool is not None:
        async with db.pool.acquire() as connection:
            return list(await connection.fetch(sql, *args))
    connection = await db.get_new_connection()
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


@dataclass
class GatheredWrite:
    sql: str  # one INSERT/UPDATE (RETURNING one value when `then` is given) or SELECT
    args: tuple[Any, ...]
    then: Callable[[Any], None] | None  # given the value it returned, once sent
    sent: bool = False  # until then, its args may still be changed (see `write`)


@dataclass
class WriteBatch:
    """Writes of one transaction on PostgreSQL, sent together as one statement."""

    owner: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task)
    # Sends BEGIN (the unit of work's transaction), until the first statement needs it.
    begin: Callable[[], Awaitable[None]] | None = None
    writes: list[GatheredWrite] = field(default_factory=list)
    rows: set[str] = field(default_factory=set)  # rows written: one statement, one write each

    def statement(self) -> tuple[str, list[Any]]:
        """Every write as a data-modifying CTE (run whether or not read), their results as
        the columns of one row. Each write keeps its own placeholders, shifted."""
        parts: list[str] = []
        values: list[str] = []
        args: list[Any] = []
        for index, write in enumerate(self.writes):
            sql = _shifted(write.sql, len(args))
            args.extend(write.args)
            parts.append(f"w{index} AS ({sql})")
            if write.then is not None or sql.lstrip().upper().startswith("SELECT"):
                # A SELECT in a CTE runs only when read; a RETURNING value is read back.
                values.append(f"(SELECT * FROM w{index} LIMIT 1) AS r{index}")  # noqa: S608
        return f"WITH {', '.join(parts)} SELECT {', '.join(values) or '1'}", args


def _shifted(sql: str, by: int) -> str:
    """`sql` with each placeholder $n as $(n + by)."""
    return PLACEHOLDER.sub(lambda found: f"${int(found[1]) + by}", sql)


@functools.cache
def insert_into(table: str, columns: tuple[str, ...], rows: int = 1) -> str:
    """INSERT of `rows` rows of `columns`, numbered row after row."""
    width = len(columns)
    values = ", ".join("(" + ", ".join(f"${row * width + i + 1}" for i in range(width)) + ")"
                       for row in range(rows))
    return f'INSERT INTO {table} ({", ".join(columns)}) VALUES {values}'  # noqa: S608


@functools.cache
def update_of(table: str, columns: tuple[str, ...], key: str = "id") -> str:
    """UPDATE of `columns` of the row whose `key` is the last argument."""
    sets = ", ".join(f"{column} = ${i + 1}" for i, column in enumerate(columns))
    return f"UPDATE {table} SET {sets} WHERE {key} = ${len(columns) + 1}"  # noqa: S608


_batch: ContextVar[WriteBatch | None] = ContextVar("persistence_write_batch", default=None)


def begin_batch(begin: Callable[[], Awaitable[None]] | None = None) -> Any:
    """Gather this task's writes from now on, in a transaction begun or, with `begin`, to
    be begun before its first statement; a token for end_batch."""
    return _batch.set(WriteBatch(begin=begin))


def end_batch(token: Any) -> None:
    """Forget the batch (sent by now, or rolled back with its transaction)."""
    _batch.reset(token)


def suspend_batch() -> Any:
    """No batch while a unit of work of its own (autocommit, reads only) runs inside one."""
    return _batch.set(None)


def _current() -> WriteBatch | None:
    batch = _batch.get()
    # A task started inside a transaction inherits the variable, not the transaction.
    if batch is None or batch.owner is not asyncio.current_task():
        return None
    return batch


async def write(sql: str, *args: Any, then: Callable[[Any], None] | None = None,
                row: str | None = None) -> GatheredWrite | None:
    """Send the write with the transaction's next statement, or now when there is no
    batch; `then` is given what it returned (its RETURNING value). `row` names the row it
    changes: PostgreSQL applies only one change per row in one statement, so a second change
    to the same row sends the first before it. The write gathered is returned: until it is
    `sent`, the values it writes may still be changed."""
    batch = _current()
    if batch is not None:
        if row is not None and row in batch.rows:
            await flush()  # two statements now: in the transaction
        gathered = GatheredWrite(sql, args, then)
        batch.writes.append(gathered)
        if row is not None:
            batch.rows.add(row)
        return gathered
    rows = await fetch(sql, *args)
    if then is not None:
        then(rows[0][0] if rows else None)
    return None


async def flush(sql: str | None = None) -> None:
    """Before a statement of the unit of work (`sql`, when known): begin its transaction if
    it has not, and send the writes gathered so far, if any, as one statement. A plain read
    before anything else leaves the transaction unbegun: it runs alone, seeing just what it
    would have seen as the transaction's first statement. On SQLite, with no `sql` (their
    RETURNING values are wanted now), the writes its transaction gathered are sent."""
    batch = _current()
    if batch is None:
        db = engine()
        gathering = db.gathering() if isinstance(db, WarmSQLiteEngine) else None
        if gathering is not None and sql is None:  # on SQLite the next statement sends them
            await gathering.flush()
        return
    if batch.begin is not None and not batch.writes and sql is not None and plain_read(sql):
        return
    if batch.begin is not None:
        begin, batch.begin = batch.begin, None
        await begin()
    await _send(batch)


@functools.lru_cache(maxsize=512)
def plain_read(sql: str) -> bool:
    """Whether `sql` only reads: a SELECT taking no row lock and calling nothing with an
    effect (a WITH may hide a write: it is not taken for a read)."""
    return sql.lstrip()[:6].upper() == "SELECT" and _NOT_PLAIN.search(sql) is None


def begun() -> bool:
    """Whether the unit of work running has begun its transaction (if it gathers)."""
    batch = _current()
    return batch is None or batch.begin is None


async def commit_alone() -> None:
    """Commit a unit of work whose transaction never began: what it gathered, as one
    statement on a connection of the pool, atomic on its own."""
    batch = _current()
    if batch is not None:
        batch.begin = None
        await _send(batch)


async def _send(batch: WriteBatch) -> None:
    if not batch.writes:
        return
    writes, batch.writes = batch.writes, []
    batch.rows.clear()
    for write_ in writes:
        write_.sent = True
    if len(writes) == 1:
        sql, args = writes[0].sql, list(writes[0].args)
        rows = await _fetch(sql, args)
        results = [rows[0][0] if rows else None]
    else:
        sql, args = WriteBatch(batch.owner, writes=writes).statement()
        [row] = await _fetch(sql, args)
        results = [row.get(f"r{index}") for index in range(len(writes))]
    for write_, result in zip(writes, results, strict=True):
        if write_.then is not None:
            write_.then(result)
