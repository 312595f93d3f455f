"""The UnitOfWork port in memory, behaving as adapters/persistence/uow.py does: one writer at
a time, reads see the unit's own writes, changes are kept only on `commit()`, and leaving
without it rolls back."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import Any

from application import ports
from tests.fakes import commerce, identity_store, messaging_store, records
from tests.fakes.clock import FakeClock
from tests.fakes.credentials import FakeCredentials
from tests.fakes.devices import FakeDevices
from tests.fakes.registry import FakeContracts
from tests.fakes.storage import FakeDatabase


class FakeSignIns:
    def __init__(self, unit: FakeUnitOfWork) -> None:
        self.flows: ports.AuthFlows = identity_store.FakeAuthFlows(unit)
        self.pending_links: ports.PendingLinks = identity_store.FakePendingLinks(unit)
        self.sessions: ports.Sessions = identity_store.FakeSessions(unit)
        self.events: ports.AuthEvents = identity_store.FakeAuthEvents(unit)


class FakeMessages:
    def __init__(self, unit: FakeUnitOfWork) -> None:
        self.outbox: ports.Outbox = messaging_store.FakeOutbox(unit)
        self.inbox: ports.Inbox = messaging_store.FakeInbox(unit)
        self.notifications: ports.Notifications = records.FakeNotifications(unit)
        self.deliveries: ports.Deliveries = messaging_store.FakeDeliveries(unit)


class FakeUnitOfWork:
    """The UnitOfWork port in memory."""

    def __init__(self, db: FakeDatabase, clock: FakeClock, read_only: bool = False,
                 autocommit: bool = False) -> None:
        self._db, self._clock, self._read_only = db, clock, read_only
        self._autocommit = autocommit  # kept when the block ends without an error
        self._tables: dict[str, dict[Any, Any]] | None = None
        self._committed = False
        self.new_outbox_ids: list[str] = []
        self.customers: ports.Customers = commerce.FakeCustomers(self)
        self.orders: ports.Orders = commerce.FakeOrders(self)
        self.payments: ports.Payments = commerce.FakePayments(self)
        self.reviews: ports.FraudReviews = commerce.FakeFraudReviews(self)
        self.shipments: ports.Shipments = commerce.FakeShipments(self)
        self.operations: ports.Operations = messaging_store.FakeOperations(self)
        self.evidence: ports.Evidence = records.FakeEvidence(self)
        self.incidents: ports.Incidents = records.FakeIncidents(self)
        self.sign_ins = FakeSignIns(self)
        self.messages = FakeMessages(self)
        self.idempotency: ports.IdempotencyKeys = messaging_store.FakeIdempotencyKeys(self)
        self.privacy: ports.PrivacyStore = records.FakePrivacyStore(self)
        self.devices: ports.persistence.Devices = FakeDevices(self)
        self.credentials: ports.persistence.ProviderCredentials = FakeCredentials(self)
        self.contracts: ports.registry.ProviderContracts = FakeContracts(self)

    @property
    def clock(self) -> FakeClock:
        return self._clock

    @property
    def db(self) -> FakeDatabase:
        return self._db

    def table(self, name: str) -> dict[Any, Any]:
        if self._tables is None:
            raise RuntimeError("a repository was used outside `async with uow() as unit`")
        rows = self._tables.setdefault(name, {})
        # A read-only unit refuses writes (the real one would commit each at once).
        return MappingProxyType(rows) if self._read_only else rows  # type: ignore[return-value]

    async def __aenter__(self) -> FakeUnitOfWork:
        if self._read_only:  # no lock: reads see what is committed
            self._tables = {name: dict(rows) for name, rows in self._db.tables.items()}
            return self
        task = asyncio.current_task()
        if self._db._holder is task:
            # The real one would wait for its own write lock until the database times out.
            raise RuntimeError("a unit of work was opened inside another in the same task")
        await self._db._lock.acquire()
        self._db._holder = task
        self._tables = {name: dict(rows) for name, rows in self._db.tables.items()}
        self._committed = False
        return self

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        if self._autocommit:
            return  # kept as the block ends, as the real statement commits as it runs
        assert self._tables is not None, "commit() outside `async with`"
        self._db.tables = self._tables
        self._db.commits += 1
        self._tables = {name: dict(rows) for name, rows in self._db.tables.items()}
        self._committed = True

    async def __aexit__(self, *exc: object) -> None:
        if self._read_only:
            self._tables = None
            return
        if self._autocommit and exc[0] is None and self._tables is not None:
            self._db.tables = self._tables
            self._db.commits += 1
        self._tables = None  # uncommitted writes are dropped: a rollback
        self._db._holder = None
        self._db._lock.release()


class FakeUnitOfWorkFactory:
    def __init__(self, db: FakeDatabase, clock: FakeClock) -> None:
        self.db, self._clock = db, clock

    def __call__(self, *, read_only: bool = False, autocommit: bool = False,
                 snapshot: bool = False) -> FakeUnitOfWork:
        # A snapshot reads a copy of one moment, as a read-only unit already does here.
        return FakeUnitOfWork(self.db, self._clock, read_only or snapshot, autocommit)
