"""Counting the SQL statements a piece of work sends, on either engine: a number that does
not flake the way timings do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from adapters.persistence.tables import OutboxMessage


@dataclass
class Statements:
    count: int = 0
    texts: list[str] = field(default_factory=list)
    querystrings: list[Any] = field(default_factory=list)  # whole, arguments included


@contextmanager
def count_statements() -> Iterator[Statements]:
    """Every query piccolo runs on the tables' engine while the block runs (DDL aside)."""
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

    kind.run_querystring = counted
    try:
        yield seen
    finally:
        kind.run_querystring = run
