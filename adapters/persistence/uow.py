"""The unit of work: one piccolo transaction; leaving without commit() rolls back."""

from __future__ import annotations

from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from adapters.persistence import repositories as r
from application.ports import Clock


class PiccoloUnitOfWork:
    def __init__(self, engine: Engine[Any], clock: Clock) -> None:
        self._engine = engine
        self.new_outbox_ids: list[str] = []
        self.customers = r.CustomerRepository()
        self.orders = r.OrderRepository()
        self.payments = r.PaymentRepository(clock)
        self.reviews = r.FraudReviewRepository()
        self.identities = r.IdentityLinkRepository()
        self.flows = r.AuthFlowRepository()
        self.pending_links = r.PendingLinkRepository()
        self.sessions = r.SessionRepository()
        self.real_names = r.RealNameRepository()
        self.consents = r.ConsentRepository(clock)
        self.auth_events = r.AuthEventRepository()
        self.privacy = r.PrivacyRepository(clock)
        self.shipments = r.ShipmentRepository()
        self.operations = r.OperationRepository()
        self.outbox = r.OutboxRepository(self.new_outbox_ids, clock)
        self.inbox = r.InboxRepository(clock)
        self.idempotency = r.IdempotencyRepository(clock)
        self.evidence = r.EvidenceRepository(clock)
        self.incidents = r.IncidentRepository(clock)
        self.notifications = r.NotificationRepository(clock)
        self._transaction: Any = None
        self._committed = False

    async def __aenter__(self) -> PiccoloUnitOfWork:
        if isinstance(self._engine, SQLiteEngine):
            # IMMEDIATE takes the write lock up front: two writers queue instead of deadlocking.
            self._transaction = self._engine.transaction(
                transaction_type=TransactionType.immediate, allow_nested=False)
        else:
            self._transaction = self._engine.transaction(allow_nested=False)
        await self._transaction.__aenter__()
        self._committed = False
        return self

    async def commit(self) -> None:
        await self._transaction.commit()
        self._committed = True

    async def __aexit__(self, *exc: object) -> None:
        transaction, self._transaction = self._transaction, None
        if not self._committed:
            await transaction.rollback()
            await transaction.__aexit__(*exc)
        else:
            # Committed, then an error was raised on purpose (a refusal that must keep what
            # it recorded): there is nothing left to roll back.
            await transaction.__aexit__(None, None, None)


class PiccoloUnitOfWorkFactory:
    def __init__(self, engine: Engine[Any], clock: Clock) -> None:
        self._engine, self._clock = engine, clock

    def __call__(self) -> PiccoloUnitOfWork:
        return PiccoloUnitOfWork(self._engine, self._clock)


class LedgerWriter:
    """The EvidenceLedger port: one append in a transaction of its own."""

    def __init__(self, uow: PiccoloUnitOfWorkFactory) -> None:
        self._uow = uow

    async def record(self, draft: Any) -> None:
        async with self._uow() as uow:
            await uow.evidence.append(draft)
            await uow.commit()
