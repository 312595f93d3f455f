"""Counting what the app sends to PostgreSQL, on the asyncpg side: every statement
(transaction control and pool resets included), the transactions they make up, and whose
work they were: the customer's own requests, a provider's callback, or background work."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any

from aiohttp import web
from asyncpg.connection import Connection
from asyncpg.prepared_stmt import PreparedStatement

# Whose work a statement is. Request handlers are tagged by `tag_requests`; anything else
# (the worker's loop, tasks the app spawns on its own) is background work.
ORIGIN: ContextVar[str] = ContextVar("bench_sql_origin", default="background")
CUSTOMER, CALLBACK, BACKGROUND = "customer", "callback", "background"
FIRST_WORD = re.compile(r"[A-Z]*")
WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "CREATE", "ALTER", "DROP")
# The tables of the sandbox providers (the gateway's charges, the carrier's parcels, the dev
# mailbox): what Stripe, a carrier or an email service would keep on their side, not ours.
STAND_IN_TABLES = re.compile(r'\b"?(sandbox_charge|sandbox_parcel|sandbox_parcel_event|'
                             r'mailbox_message)"?\b')


@dataclass
class Tally:
    statements: int = 0  # every round trip: work, BEGIN/COMMIT/ROLLBACK and pool resets
    control: int = 0  # BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE
    resets: int = 0  # the pool's reset of a connection given back
    transactions: int = 0  # explicit ones, plus each statement sent outside one
    read_only: int = 0  # explicit transactions that wrote nothing
    single: int = 0  # statements outside an explicit transaction (each one on its own)

    @property
    def work(self) -> int:
        return self.statements - self.control - self.resets

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class SqlCounter:
    """Statements seen, by origin. A transaction belongs to the origin that began it."""

    def __init__(self) -> None:
        self.by_origin: dict[str, Tally] = defaultdict(Tally)
        self.kinds: Counter[str] = Counter()  # work statements by their first word
        self.stand_ins = 0  # work statements on the sandbox providers' tables, all origins
        self._open: dict[int, list[Any]] = {}  # connection id -> [origin, wrote anything]
        self._ignored: set[int] = set()

    def ignore(self, connection: object) -> None:
        """Leave a connection's statements out (the benchmark's own)."""
        self._ignored.add(id(connection))

    def total(self, *origins: str) -> Tally:
        summed = Tally()
        for origin in origins:
            summed.add(self.by_origin.get(origin, Tally()))
        return summed

    def saw(self, connection: object, query: str) -> None:
        if id(connection) in self._ignored:
            return
        origin = ORIGIN.get()
        tally = self.by_origin[origin]
        tally.statements += 1
        text = query.lstrip().upper()
        word = FIRST_WORD.match(text)[0]  # type: ignore[index]  # matches "" at least
        key = id(connection)
        if word in ("BEGIN", "START"):
            tally.control += 1
            tally.transactions += 1
            self._open[key] = [origin, False]
        elif word in ("COMMIT", "END") or (word == "ROLLBACK" and " TO " not in text):
            tally.control += 1
            opened = self._open.pop(key, None)
            if opened is not None and not opened[1]:
                self.by_origin[opened[0]].read_only += 1
        elif word in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            tally.control += 1
        elif "RESET ALL" in text:
            tally.resets += 1
        else:
            self.kinds[word or "?"] += 1
            if STAND_IN_TABLES.search(query):
                self.stand_ins += 1
            opened = self._open.get(key)
            if opened is None:
                tally.transactions += 1
                tally.single += 1
            elif word in WRITES or (word == "WITH" and any(w in text for w in WRITES[:3])):
                opened[1] = True


# Where asyncpg sends statements: a simple query (transaction control, resets, execute
# without arguments), an extended-protocol one (fetch, execute with arguments, executemany)
# and a prepared statement's. Private names, swapped on the classes while counting.
PATCHED = ((Connection, "execute"), (Connection, "_do_execute"),
           (PreparedStatement, "_PreparedStatement__do_execute"))


@contextmanager
def counting(counter: SqlCounter) -> Iterator[SqlCounter]:
    """Count every statement asyncpg sends from this process while the block runs."""
    originals = [getattr(kind, name) for kind, name in PATCHED]
    execute, do_execute, prepared = originals

    async def counted_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:  # with arguments it goes through _do_execute, counted there
            counter.saw(self, query)
        return await execute(self, query, *args, **kw)

    async def counted_do_execute(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        # (executor, timeout, retry): a retry after a stale cached statement is the same one
        if kw.get("retry", args[2] if len(args) > 2 else True):
            counter.saw(self, query if isinstance(query, str) else str(query))
        return await do_execute(self, query, *args, **kw)

    async def counted_prepared(self: Any, executor: Any) -> Any:
        counter.saw(self._connection, self._query)
        return await prepared(self, executor)

    for (kind, name), patch in zip(PATCHED, (counted_execute, counted_do_execute,
                                             counted_prepared), strict=True):
        setattr(kind, name, patch)
    try:
        yield counter
    finally:
        for (kind, name), original in zip(PATCHED, originals, strict=True):
            setattr(kind, name, original)


def tag_requests(app: web.Application) -> None:
    """Tag the statements of each request: provider callbacks apart, the rest the
    customer's."""

    @web.middleware
    async def tag(request: web.Request,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
        token = ORIGIN.set(CALLBACK if request.path.startswith("/v1/webhooks/") else CUSTOMER)
        try:
            return await handler(request)
        finally:
            ORIGIN.reset(token)

    app.middlewares.insert(0, tag)

