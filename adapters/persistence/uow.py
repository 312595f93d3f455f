"""The unit of work: one piccolo transaction; leaving without commit() rolls back."""

from __future__ import annotations

from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from adapters.operation_watch import CHANNEL, LocalOperationWatch
from adapters.persistence import raw
from adapters.persistence import repositories as r
from adapters.persistence import tables as t
from adapters.persistence.engine import LoopLocalPostgresEngine
from adapters.persistence.repositories.credentials import CredentialRepository
from adapters.persistence.repositories.deliveries import DeliveryRepository
from adapters.persistence.repositories.devices import DeviceRepository
from adapters.persistence.repositories.provider_contracts import ContractRepository
from adapters.persistence.repositories.read_ahead import ReadAhead
from adapters.persistence.warm_sqlite import WarmSQLiteEngine, WarmTransaction
from application import ports
from application.ports import Clock
from application.ports.persistence import Devices
from application.ports.runtime import settled


class CustomerRecords(r.CustomerRepository):
    """The customer, and the parts of it kept in records of their own."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.identities: ports.IdentityLinks = r.IdentityLinkRepository()
        self.real_names: ports.RealNames = r.RealNameRepository()
        self.consents: ports.Consents = r.ConsentRepository(clock)


class SignInRecords:
    def __init__(self) -> None:
        self.flows: ports.AuthFlows = r.AuthFlowRepository()
        self.pending_links: ports.PendingLinks = r.PendingLinkRepository()
        self.sessions: ports.Sessions = r.SessionRepository()
        self.events: ports.AuthEvents = r.AuthEventRepository()


class MessageRecords:
    def __init__(self, created: list[str], clock: Clock) -> None:
        self.outbox: ports.Outbox = r.OutboxRepository(created, clock)
        self.inbox: ports.Inbox = r.InboxRepository(clock)
        self.notifications: ports.Notifications = r.NotificationRepository(clock)
        self.deliveries: ports.Deliveries = DeliveryRepository(clock)


class PiccoloUnitOfWork:
    def __init__(self, engine: Engine[Any], clock: Clock, watch: LocalOperationWatch,
                 read_only: bool = False, autocommit: bool = False,
                 snapshot: bool = False) -> None:
        self._engine, self._watch = engine, watch
        self._read_only, self._snapshot = read_only or snapshot, snapshot
        # No transaction around the statements (a snapshot has one, to see one moment).
        self._alone = (read_only or autocommit) and not snapshot
        self.new_outbox_ids: list[str] = []
        self._changed_operations: list[str] = []
        self.customers: ports.Customers = CustomerRecords(clock)
        # What one repository reads ahead for another (repositories/read_ahead.py).
        ahead = ReadAhead()
        self.orders: ports.Orders = r.OrderRepository(ahead)
        self.payments: ports.Payments = r.PaymentRepository(clock, ahead)
        self.reviews: ports.FraudReviews = r.FraudReviewRepository(ahead)
        self.shipments: ports.Shipments = r.ShipmentRepository(ahead)
        self.operations: ports.Operations = r.OperationRepository(self._changed_operations,
                                                                   ahead)
        self.evidence: ports.Evidence = r.EvidenceRepository(clock)
        self.incidents: ports.Incidents = r.IncidentRepository(clock)
        self.sign_ins: ports.SignIns = SignInRecords()
        self.messages: ports.Messages = MessageRecords(self.new_outbox_ids, clock)
        self.idempotency: ports.IdempotencyKeys = r.IdempotencyRepository(clock)
        self.privacy: ports.PrivacyStore = r.PrivacyRepository(clock)
        self.devices: Devices = DeviceRepository()
        self.credentials: ports.persistence.ProviderCredentials = CredentialRepository()
        self.contracts: ports.registry.ProviderContracts = ContractRepository()
        self._transaction: Any = None
        self._committed = False
        self._batch: Any = None  # the token of this transaction's write batch
        # Writes gathered and sent as one statement (see raw.py) where every statement
        # goes through the engine that sends them first.
        self._gathers = isinstance(engine, LoopLocalPostgresEngine) and not snapshot

    async def __aenter__(self) -> PiccoloUnitOfWork:
        self._committed = False
        if self._alone:
            # Reads only, or autocommit: each statement runs (and commits) on its own, with no
            # BEGIN and no COMMIT or ROLLBACK around it; reads take no SQLite write lock.
            self._batch = raw.suspend_batch()
            return self
        if self._gathers:
            # BEGIN goes with the first statement (raw.py): writes alone commit as one.
            self._batch = raw.begin_batch(begin=self._begin)
            return self
        self._batch = raw.suspend_batch()
        if isinstance(self._engine, WarmSQLiteEngine) and not self._snapshot:
            # It gathers the writes itself, and sends them in one trip with its next
            # statement or its COMMIT (warm_sqlite.WarmTransaction).
            self._transaction = WarmTransaction(self._engine)
            await self._transaction.__aenter__()
            return self
        await self._begin()
        if self._snapshot and not isinstance(self._engine, SQLiteEngine):
            # Every read sees the same moment (READ COMMITTED gives each statement its own).
            await t.Order.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return self

    async def _begin(self) -> None:
        if isinstance(self._engine, SQLiteEngine):
            # IMMEDIATE takes the write lock up front: two writers queue instead of deadlocking.
            # A snapshot takes none: in WAL mode its first read fixes what it sees.
            self._transaction = self._engine.transaction(
                transaction_type=(TransactionType.deferred if self._snapshot
                                  else TransactionType.immediate), allow_nested=False)
        else:
            self._transaction = self._engine.transaction(allow_nested=False)
        await self._transaction.__aenter__()

    async def commit(self) -> None:
        if self._read_only:  # a snapshot too
            raise RuntimeError("a read-only unit of work has nothing to commit")
        if self._alone:
            return  # each statement committed as it ran
        changed = list(dict.fromkeys(self._changed_operations))
        if changed and not isinstance(self._engine, SQLiteEngine):
            # Delivered on commit, to every process that waits (see adapters/operation_watch).
            # One notification an operation: "<id>#settled" wakes both kinds of waiter.
            for key in changed:
                if settled(key) not in changed:
                    await raw.write("SELECT pg_notify($1, $2)", CHANNEL, key)
        if self._transaction is None:  # nothing but gathered writes: one statement
            await raw.commit_alone()
        else:
            if not isinstance(self._transaction, WarmTransaction):  # it sends its own
                await raw.flush()
            await self._transaction.commit()
        self._committed = True
        self._changed_operations.clear()
        self._watch.changed(changed)

    async def __aexit__(self, *exc: object) -> None:
        raw.end_batch(self._batch)  # writes not sent by now are rolled back with the rest
        if self._alone:
            return
        transaction, self._transaction = self._transaction, None
        if transaction is None:  # never begun: what it gathered is dropped with the batch
            return
        if not self._committed:
            await transaction.rollback()
            await transaction.__aexit__(*exc)
        else:
            # Committed, then an error was raised on purpose (a refusal that must keep what
            # it recorded): there is nothing left to roll back.
            await transaction.__aexit__(None, None, None)


class PiccoloUnitOfWorkFactory:
    def __init__(self, engine: Engine[Any], clock: Clock,
                 watch: LocalOperationWatch | None = None) -> None:
        self._engine, self._clock = engine, clock
        self._watch = watch or LocalOperationWatch()

    def __call__(self, *, read_only: bool = False, autocommit: bool = False,
                 snapshot: bool = False) -> ports.UnitOfWork:
        # Typed as the port: mypy checks here that every repository honours its own.
        return PiccoloUnitOfWork(self._engine, self._clock, self._watch, read_only,
                                 autocommit, snapshot)


class LedgerWriter:
    """The EvidenceLedger port: one append (one INSERT, committed as it runs)."""

    def __init__(self, uow: PiccoloUnitOfWorkFactory) -> None:
        self._uow = uow

    async def record(self, draft: Any) -> None:
        async with self._uow(autocommit=True) as uow:
            await uow.evidence.append(draft)
            await uow.commit()

