"""Counting the SQL statements a piece of work sends, on either engine: a number that does
not flake the way timings do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from adapters.persistence import raw
from adapters.persistence.tables import OutboxMessage
from adapters.persistence.warm_sqlite import WarmSQLiteEngine, WarmTransaction


@dataclass(frozen=True)
class RawStatement:
    """A statement sent as fixed SQL (adapters/persistence/raw.py), shaped like piccolo's
    QueryString where the tests read it."""

    sql: str
    args: tuple[Any, ...]

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list[Any]]:
        return self.sql, list(self.args)


@dataclass
class Statements:
    count: int = 0
    texts: list[str] = field(default_factory=list)
    querystrings: list[Any] = field(default_factory=list)  # whole, arguments included


@contextmanager
def count_statements() -> Iterator[Statements]:
    """Every query piccolo runs on the tables' engine while the block runs (DDL aside), and
    every one sent as fixed SQL."""
    engine: Any = OutboxMessage._meta.db
    kind = type(engine)  # engines have slots: the method is swapped on the class
    run = kind.run_querystring
    seen = Statements()

    async def counted(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        if self is engine:
            seen.count += 1
            seen.texts.append(str(querystring).split(" ", 1)[0])
            seen.querystrings.append(querystring)
        return await run(self, querystring, *args, **kwargs)

    fetch = raw._fetch

    def note(sql: str, args: Any) -> None:
        seen.count += 1
        seen.texts.append(sql.split(" ", 1)[0])
        seen.querystrings.append(RawStatement(sql, tuple(args)))

    async def counted_raw(sql: str, args: Any) -> Any:
        note(sql, args)
        return await fetch(sql, args)

    gather = WarmTransaction.gather
    run_sql = WarmSQLiteEngine.run_sql

    async def counted_sql(self: Any, sql: str, args: Any) -> Any:
        note(sql, args)
        return await run_sql(self, sql, args)

    def counted_gathered(self: Any, sql: str, args: Any, then: Any = None) -> None:
        # Sent later with another statement in one trip, but a statement all the same;
        # counted here, and not as part of the one it goes with.
        note(sql, args)
        gather(self, sql, args, then)

    kind.run_querystring = counted
    raw._fetch = counted_raw
    WarmTransaction.gather = counted_gathered  # type: ignore[method-assign]
    WarmSQLiteEngine.run_sql = counted_sql  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        kind.run_querystring = run
        raw._fetch = fetch
        WarmTransaction.gather = gather  # type: ignore[method-assign]
        WarmSQLiteEngine.run_sql = run_sql  # type: ignore[method-assign]
