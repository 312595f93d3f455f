"""Committed rows in memory, and the bases every fake repository stands on."""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from application.ports import InboxMessage, OutboxMessage
from domain.commands import Command, deserialize
from domain.customers import Customer
from domain.evidence import LedgerEntry
from domain.orders import Order
from domain.payments import Payment
from domain.shipments import Shipment

if TYPE_CHECKING:
    from tests.fakes.unit_of_work import FakeUnitOfWork

T = TypeVar("T")


def stored(value: Any) -> Any:
    """A copy as a table row would keep it: the events an aggregate raised are not stored."""
    kept = copy.deepcopy(value)
    if isinstance(kept, Payment):
        kept.new_events.clear()
        kept.raised.clear()
    elif isinstance(kept, Order | Shipment | Customer):
        kept.events.clear()
    return kept


def as_json(value: Any) -> Any:
    """What comes back from a JSON column: only what a serializer keeps."""
    return json.loads(json.dumps(value, default=str))


class FakeDatabase:
    """Committed rows by table; one unit of work writes at a time, as with SQLite's
    IMMEDIATE transactions."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.commits = 0
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._seq = itertools.count(1)
        self.evidence_ids = itertools.count(1)  # pending evidence's serial key

    def rows(self, table: str) -> list[Any]:
        return [copy.deepcopy(row) for row in self.tables.get(table, {}).values()]

    # What tests read most often.

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """The outbox's messages in the order they were written."""
        rows = sorted(self.rows("outbox"), key=lambda row: row.created_at)
        return [r.message for r in rows if status is None or r.message.status == status]

    def commands(self, kind: type[Command] | None = None,
                 status: str | None = "pending") -> list[Command]:
        """The commands waiting in the outbox (all of them with status=None), oldest first."""
        found = [deserialize(m.topic, m.payload) for m in self.outbox(status)]
        return [c for c in found if kind is None or isinstance(c, kind)]

    def incidents(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.rows("incidents") if kind is None or i["kind"] == kind]

    def evidence(self, kind: str | None = None) -> list[LedgerEntry]:
        """The sealed records in sequence order, then those still pending."""
        entries = [*sorted(self.rows("evidence"), key=lambda e: e.seq),
                   *sorted(self.rows("evidence_pending"), key=lambda e: e.id)]
        return [e for e in entries if kind is None or e.kind == kind]

    def inbox(self) -> list[InboxMessage]:
        return self.rows("inbox")


class Repository:
    """One table of the unit of work's snapshot; rows are handed out as copies."""

    name = ""

    def __init__(self, unit: FakeUnitOfWork) -> None:
        self._unit = unit

    @property
    def _rows(self) -> dict[Any, Any]:
        return self._unit.table(self.name)

    def _now(self) -> datetime:
        return self._unit.clock.now()

    def _get(self, key: Any) -> Any:
        row = self._rows.get(key)
        return None if row is None else copy.deepcopy(row)

    def _put(self, key: Any, value: Any) -> None:
        self._rows[key] = stored(value)

    def _all(self) -> list[Any]:
        return [copy.deepcopy(row) for row in self._rows.values()]

    def _first(self, matches: Callable[[Any], bool]) -> Any:
        return next((row for row in self._all() if matches(row)), None)

    def _append(self, row: dict[str, Any]) -> None:
        """A log table: rows numbered in the order they came."""
        self._rows[len(self._rows)] = row

    def _purge(self, matches: Callable[[Any], bool]) -> int:
        gone = [key for key, row in self._rows.items() if matches(row)]
        for key in gone:
            del self._rows[key]
        return len(gone)


class AggregateRepository(Repository, Generic[T]):
    """Rows keyed by one field of what they hold, with the `get`, `save` and `add` the ports
    declare. A port names their parameters (`get(self, order_id)`, `save(self, order)`) and
    its fake must too (tests/unit/application/test_fakes.py compares them): a fake class
    gives those names as `key=` and `value=`, and gets the three methods under them, but for
    any it writes itself."""

    key_field = "id"
    added_once = False  # True: adding a key twice fails, as the table's primary key would

    def __init_subclass__(cls, *, key: str = "", value: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method, parameter in (("get", key), ("save", value), ("add", value)):
            if parameter and method not in vars(cls):
                setattr(cls, method, _under_name(getattr(AggregateRepository, method),
                                                 parameter))

    def _key(self, value: T) -> Any:
        return getattr(value, self.key_field)

    def _find(self, matches: Callable[[T], bool]) -> T | None:
        found: T | None = self._first(matches)
        return found

    async def get(self, key: str) -> T | None:
        found: T | None = self._get(key)
        return found

    async def save(self, value: T) -> None:
        """Saving what was never added does nothing, as an UPDATE of no row."""
        key = self._key(value)
        if key in self._rows:
            self._put(key, value)

    async def add(self, value: T) -> None:
        key = self._key(value)
        assert not (self.added_once and key in self._rows), f"{self.name}: {key} exists already"
        self._put(key, value)


def _under_name(method: Callable[[Any, Any], Awaitable[Any]],
                parameter: str) -> Callable[..., Awaitable[Any]]:
    """`method(self, argument)` with its argument named `parameter`: callable by that keyword
    as the port's would be, and shown so by `inspect.signature`."""
    signature = inspect.Signature([inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                   for name in ("self", parameter)])

    async def named(*args: Any, **kwargs: Any) -> Any:
        self, argument = signature.bind(*args, **kwargs).args
        return await method(self, argument)

    named.__signature__ = signature  # type: ignore[attr-defined]
    named.__name__ = named.__qualname__ = method.__name__
    return named
