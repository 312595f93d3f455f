"""In-memory fakes of every port the use cases depend on, for tests that run without I/O.

`FakeDatabase` holds committed rows; `FakeUnitOfWorkFactory` opens units of work on it that
behave as the real one does (adapters/persistence/uow.py): one writer at a time, reads see
the unit's own writes, changes are kept only on `commit()`, and leaving without it rolls
back. Repositories hand out copies, as rows read from a table would be, so a change counts
only once it is saved. The provider fakes record what they were asked and answer as scripted.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from application import ports
from application.ports import (
    Alert,
    AnalyticsEvent,
    AuthorizationRequest,
    CallbackParams,
    FraudReview,
    IdempotencyRecord,
    InboundEvent,
    InboxMessage,
    Notification,
    OutboxMessage,
    PaymentRequest,
    ProviderCall,
    RealNameVerification,
    RiskAssessment,
    RiskSignals,
    ShipmentRequest,
    VerifiedIdentity,
)
from domain.commands import Command, deserialize
from domain.customers import Customer
from domain.errors import InvalidSignature, ProviderUnavailable, SignInRefused
from domain.evidence import (
    GENESIS,
    Checkpoint,
    EvidenceDraft,
    EvidenceRecord,
    LedgerHead,
    seal,
)
from domain.failures import FailureReason
from domain.identity import AuthFlow, Identity, PendingLink, Session, SessionStatus
from domain.operations import Operation
from domain.orders import Order
from domain.payments import UNSETTLED, EventType, Payment, PaymentEvent, PaymentUpdate
from domain.redaction import card_safe_id
from domain.shipments import Shipment, ShipmentStatus, TrackingUpdate

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# --- storage ---------------------------------------------------------------------------------


def _stored(value: Any) -> Any:
    """A copy as a table row would keep it: the events an aggregate raised are not stored."""
    kept = copy.deepcopy(value)
    if isinstance(kept, Payment):
        kept.new_events.clear()
        kept.raised.clear()
    elif isinstance(kept, Order | Shipment | Customer):
        kept.events.clear()
    return kept


class FakeDatabase:
    """Committed rows by table; one unit of work writes at a time, as with SQLite's
    IMMEDIATE transactions."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.commits = 0
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._seq = itertools.count(1)

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

    def evidence(self, kind: str | None = None) -> list[EvidenceRecord]:
        return [e for e in self.rows("evidence") if kind is None or e.kind == kind]

    def inbox(self) -> list[InboxMessage]:
        return self.rows("inbox")


class FakeUnitOfWork:
    """The UnitOfWork port in memory."""

    def __init__(self, db: FakeDatabase, clock: FakeClock) -> None:
        self._db, self._clock = db, clock
        self._tables: dict[str, dict[Any, Any]] | None = None
        self._committed = False
        self.new_outbox_ids: list[str] = []
        self.customers: ports.Customers = FakeCustomers(self)
        self.orders: ports.Orders = FakeOrders(self)
        self.payments: ports.Payments = FakePayments(self)
        self.reviews: ports.FraudReviews = FakeFraudReviews(self)
        self.identities: ports.IdentityLinks = FakeIdentityLinks(self)
        self.flows: ports.AuthFlows = FakeAuthFlows(self)
        self.pending_links: ports.PendingLinks = FakePendingLinks(self)
        self.sessions: ports.Sessions = FakeSessions(self)
        self.real_names: ports.RealNames = FakeRealNames(self)
        self.consents: ports.Consents = FakeConsents(self)
        self.auth_events: ports.AuthEvents = FakeAuthEvents(self)
        self.privacy: ports.PrivacyStore = FakePrivacyStore(self)
        self.shipments: ports.Shipments = FakeShipments(self)
        self.operations: ports.Operations = FakeOperations(self)
        self.outbox: ports.Outbox = FakeOutbox(self)
        self.inbox: ports.Inbox = FakeInbox(self)
        self.idempotency: ports.IdempotencyKeys = FakeIdempotencyKeys(self)
        self.evidence: ports.Evidence = FakeEvidence(self)
        self.incidents: ports.Incidents = FakeIncidents(self)
        self.notifications: ports.Notifications = FakeNotifications(self)

    @property
    def clock(self) -> FakeClock:
        return self._clock

    @property
    def db(self) -> FakeDatabase:
        return self._db

    def table(self, name: str) -> dict[Any, Any]:
        if self._tables is None:
            raise RuntimeError("a repository was used outside `async with uow() as unit`")
        return self._tables.setdefault(name, {})

    async def __aenter__(self) -> FakeUnitOfWork:
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
        assert self._tables is not None, "commit() outside `async with`"
        self._db.tables = self._tables
        self._db.commits += 1
        self._tables = {name: dict(rows) for name, rows in self._db.tables.items()}
        self._committed = True

    async def __aexit__(self, *exc: object) -> None:
        self._tables = None  # uncommitted writes are dropped: a rollback
        self._db._holder = None
        self._db._lock.release()


class FakeUnitOfWorkFactory:
    def __init__(self, db: FakeDatabase, clock: FakeClock) -> None:
        self.db, self._clock = db, clock

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db, self._clock)


class _Repository:
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
        self._rows[key] = _stored(value)

    def _all(self) -> list[Any]:
        return [copy.deepcopy(row) for row in self._rows.values()]


class FakeCustomers(_Repository):
    name = "customers"

    async def add(self, customer: Customer) -> bool:
        if any(c.email == customer.email for c in self._rows.values()):
            return False
        self._put(customer.id, customer)
        return True

    async def get(self, customer_id: str) -> Customer | None:
        found: Customer | None = self._get(customer_id)
        return found

    async def by_email(self, email: str) -> Customer | None:
        return next((c for c in self._all() if c.email == email), None)

    async def lock(self, customer_id: str) -> None:
        return None  # one unit of work writes at a time already

    async def save(self, customer: Customer) -> None:
        if customer.id in self._rows:
            self._put(customer.id, customer)

    async def set_identity_verified(self, customer_id: str, verified: bool) -> None:
        customer = await self.get(customer_id)
        if customer is not None:
            customer.identity_verified = verified
            self._put(customer_id, customer)

    async def record_login_failure(self, customer_id: str, at: datetime) -> None:
        self._unit.table("login_failures")[len(self._unit.table("login_failures"))] = (
            customer_id, at)

    async def login_failures_since(self, customer_id: str, since: datetime) -> int:
        return sum(1 for who, at in self._unit.table("login_failures").values()
                   if who == customer_id and at >= since)


class FakeOrders(_Repository):
    name = "orders"

    async def lock(self, order_id: str) -> None:
        return None

    async def add(self, order: Order) -> None:
        assert order.id not in self._rows, f"order {order.id} exists already"
        self._put(order.id, order)

    async def get(self, order_id: str) -> Order | None:
        found: Order | None = self._get(order_id)
        return found

    async def save(self, order: Order) -> None:
        if order.id in self._rows:
            self._put(order.id, order)

    async def of_customer(self, customer_id: str, limit: int,
                          before: str | None = None) -> list[Order]:
        cursor = datetime.fromisoformat(before) if before else None
        mine = [o for o in self._all() if o.customer_id == customer_id
                and (cursor is None or (o.created_at is not None and o.created_at < cursor))]
        mine.sort(key=lambda o: o.created_at or START, reverse=True)
        return mine[:limit]

    async def paid_totals(self, limit: int) -> list[tuple[str, int]]:
        paid = [o for o in self._all() if o.status.value in
                ("paid", "shipped", "delivered", "partially_refunded")]
        paid.sort(key=lambda o: o.created_at or START, reverse=True)
        return [(o.currency, o.total.amount) for o in paid[:limit]]


class FakePayments(_Repository):
    name = "payments"

    async def add(self, payment: Payment) -> None:
        assert payment.id not in self._rows, f"payment {payment.id} exists already"
        self._put(payment.id, payment)
        payment.new_events.clear()  # appended to the log, as the real repository does

    async def get(self, payment_id: str) -> Payment | None:
        found: Payment | None = self._get(payment_id)
        return found

    async def by_reference(self, provider: str, reference: str) -> Payment | None:
        return next((p for p in self._all() if p.provider == provider
                     and p.provider_reference == reference), None)

    async def save(self, payment: Payment) -> None:
        if payment.id in self._rows:
            self._put(payment.id, payment)
            payment.new_events.clear()

    def _by_age(self, payments: list[Payment]) -> list[Payment]:
        return sorted(payments, key=lambda p: p.created_at or START)

    async def of_order(self, order_id: str) -> list[Payment]:
        return self._by_age([p for p in self._all() if p.order_id == order_id])

    async def waiting_on_customer(self, created_before: datetime, limit: int) -> list[Payment]:
        return self._by_age([
            p for p in self._all() if p.status.value in ("awaiting_deposit", "requires_action")
            and p.created_at is not None and p.created_at < created_before])[:limit]

    async def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        return self._by_age([p for p in self._all() if p.status in UNSETTLED
                             and p.created_at is not None
                             and p.created_at < created_before])[:limit]

    async def failures_of_customer(self, customer_id: str, since: datetime) -> int:
        return sum(1 for p in self._all() if p.customer_id == customer_id
                   and p.status.value == "failed" and p.created_at is not None
                   and p.created_at >= since)


class FakeFraudReviews(_Repository):
    name = "reviews"

    async def add(self, review: FraudReview) -> None:
        if review.order_id not in self._rows:  # one review per order
            self._put(review.order_id, review)

    async def get(self, order_id: str) -> FraudReview | None:
        found: FraudReview | None = self._get(order_id)
        return found

    async def save(self, review: FraudReview) -> None:
        if review.order_id in self._rows:
            self._put(review.order_id, review)

    async def pending(self, limit: int) -> list[FraudReview]:
        waiting = [r for r in self._all() if r.status == "pending"]
        return sorted(waiting, key=lambda r: r.opened_at)[:limit]


class FakeShipments(_Repository):
    name = "shipments"

    async def add(self, shipment: Shipment) -> None:
        assert shipment.id not in self._rows, f"shipment {shipment.id} exists already"
        self._put(shipment.id, shipment)

    async def get(self, shipment_id: str) -> Shipment | None:
        found: Shipment | None = self._get(shipment_id)
        return found

    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None:
        return next((s for s in self._all() if s.carrier == carrier
                     and s.tracking_number == tracking_number), None)

    async def save(self, shipment: Shipment) -> None:
        if shipment.id in self._rows:
            self._put(shipment.id, shipment)

    async def of_order(self, order_id: str) -> list[Shipment]:
        return sorted((s for s in self._all() if s.order_id == order_id),
                      key=lambda s: s.seller_id)


class FakeOperations(_Repository):
    name = "operations"

    async def add(self, operation: Operation) -> None:
        self._put(operation.id, operation)

    async def get(self, operation_id: str) -> Operation | None:
        found: Operation | None = self._get(operation_id)
        return found

    async def by_subject(self, subject: str) -> Operation | None:
        return next((o for o in self._all() if o.subject == subject), None)

    async def save(self, operation: Operation) -> None:
        if operation.id in self._rows:
            self._put(operation.id, operation)


@dataclass
class _OutboxRow:
    message: OutboxMessage
    created_at: float
    available_at: float
    last_error: str = ""


class FakeOutbox(_Repository):
    name = "outbox"

    def _ts(self) -> float:
        return self._now().timestamp()

    async def add(self, topic: str, payload: dict[str, Any]) -> str:
        message_id = card_safe_id("obx")
        now = self._ts()
        # As stored in JSON: what comes back is what a serializer keeps.
        kept = json.loads(json.dumps(payload, default=str))
        self._rows[message_id] = _OutboxRow(OutboxMessage(message_id, topic, kept), now, now)
        self._unit.new_outbox_ids.append(message_id)
        return message_id

    async def claim(self, message_id: str, lease_seconds: float) -> OutboxMessage | None:
        row: _OutboxRow | None = copy.deepcopy(self._rows.get(message_id))
        now = self._ts()
        if row is None or not (row.message.status == "pending" or (
                row.message.status == "processing" and row.available_at < now)):
            return None
        row.message.status, row.available_at = "processing", now + lease_seconds
        self._rows[message_id] = row
        return copy.deepcopy(row.message)

    def _update(self, message_id: str, **changes: Any) -> None:
        row = copy.deepcopy(self._rows.get(message_id))
        if row is None:
            return
        for name, value in changes.items():
            if name in ("status", "attempts"):
                setattr(row.message, name, value)
            else:
                setattr(row, name, value)
        self._rows[message_id] = row

    async def complete(self, message_id: str) -> None:
        self._update(message_id, status="done")

    async def release(self, message_id: str, error: str, dead: bool) -> None:
        row = self._rows.get(message_id)
        if row is None:
            return
        self._update(message_id, status="dead" if dead else "pending",
                     attempts=row.message.attempts + 1, last_error=error[:500],
                     available_at=self._ts())

    async def unfinished(self, older_than_seconds: float, limit: int) -> list[str]:
        cutoff = self._ts() - older_than_seconds
        stale = [r for r in self._rows.values()
                 if r.message.status in ("pending", "processing") and r.available_at < cutoff]
        return [r.message.id for r in sorted(stale, key=lambda r: r.created_at)][:limit]


class FakeInbox(_Repository):
    name = "inbox"

    async def add(self, provider: str, event: InboundEvent) -> str | None:
        if any(m.provider == provider and m.event_id == event.event_id
               for m in self._rows.values()):
            return None
        message_id = card_safe_id("ibx")
        self._rows[message_id] = InboxMessage(
            message_id, provider, event.event_id, event.kind,
            json.loads(json.dumps(event.payload, default=str)), "received", self._now())
        return message_id

    async def claim(self, message_id: str) -> InboxMessage | None:
        message = self._get(message_id)
        if message is None or message.status not in ("received", "processing"):
            return None
        message.status = "processing"
        self._rows[message_id] = copy.deepcopy(message)
        found: InboxMessage = message
        return found

    async def complete(self, message_id: str, status: str) -> None:
        message = self._get(message_id)
        if message is not None:
            message.status = status
            self._rows[message_id] = message

    async def unprocessed(self, older_than_seconds: float, limit: int) -> list[str]:
        cutoff = self._now() - timedelta(seconds=older_than_seconds)
        waiting = [m for m in self._rows.values() if m.status in ("received", "processing")
                   and m.received_at is not None and m.received_at < cutoff]
        return [m.id for m in sorted(waiting, key=lambda m: m.received_at)][:limit]


class FakeIdempotencyKeys(_Repository):
    name = "idempotency"

    async def reserve(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        key = (record.customer_id, record.key)
        existing = self._rows.get(key)
        if existing is not None and existing.expires_at < self._now():
            del self._rows[key]  # an expired key is free again
            existing = None
        if existing is not None:
            return copy.deepcopy(existing)  # type: ignore[no-any-return]
        self._rows[key] = replace(record, status="in_flight", response_status=None,
                                  response_body=None)
        return None

    async def complete(self, customer_id: str, key: str, status: int, body: Any) -> None:
        record = self._rows.get((customer_id, key))
        if record is not None:
            self._rows[(customer_id, key)] = replace(
                record, status="completed", response_status=status,
                response_body=json.loads(json.dumps(body, default=str)))

    async def forget(self, customer_id: str, key: str) -> None:
        self._rows.pop((customer_id, key), None)

    async def purge_expired(self, now: datetime) -> int:
        gone = [k for k, r in self._rows.items() if r.expires_at < now]
        for key in gone:
            del self._rows[key]
        return len(gone)


class FakeEvidence(_Repository):
    """A hash chain sealed exactly as the real ledger seals it (domain.evidence.seal)."""

    name = "evidence"

    async def append(self, draft: EvidenceDraft) -> EvidenceRecord:
        context, payload, payload_hash = draft.redacted()
        context, payload = json.loads(json.dumps(context, default=str)), json.loads(
            json.dumps(payload, default=str))
        head = await self.head()
        seq, received_at = head.seq + 1, self._now()
        digest = seal(seq=seq, source=draft.source, kind=draft.kind, subject=draft.subject,
                      received_at=received_at, context=context, payload_hash=payload_hash,
                      payload=payload, prev_hash=head.hash)
        record = EvidenceRecord(seq, draft.source, draft.kind, draft.subject, received_at,
                                context, payload_hash, payload, head.hash, digest)
        self._rows[seq] = record
        return record

    async def of_subject(self, subject: str, limit: int) -> list[EvidenceRecord]:
        return [r for r in await self.chain(0, 10**9) if r.subject == subject][:limit]

    async def chain(self, after_seq: int, limit: int) -> list[EvidenceRecord]:
        return [r for _, r in sorted(self._rows.items()) if r.seq > after_seq][:limit]

    async def head(self) -> LedgerHead:
        if not self._rows:
            return LedgerHead(0, GENESIS)  # as the migration seeds it
        last = self._rows[max(self._rows)]
        return LedgerHead(last.seq, last.hash)


class FakeIncidents(_Repository):
    name = "incidents"

    async def open(self, kind: str, subject: str, detail: dict[str, Any]) -> str:
        incident_id = card_safe_id("inc")
        self._rows[incident_id] = {"id": incident_id, "kind": kind, "subject": subject,
                                   "detail": json.loads(json.dumps(detail, default=str)),
                                   "status": "open", "opened_at": self._now().isoformat()}
        return incident_id

    async def of_subject(self, subject: str) -> list[dict[str, Any]]:
        return [{k: i[k] for k in ("id", "kind", "opened_at", "status")}
                for i in self._all() if i["subject"] == subject]


class FakeNotifications(_Repository):
    name = "notifications"

    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        self._rows[len(self._rows)] = {"customer_id": customer_id, "channel": channel,
                                       "template": template, "subject": subject,
                                       "sent_at": self._now().isoformat()}


class FakeIdentityLinks(_Repository):
    name = "identities"

    async def add(self, identity: Identity) -> bool:
        if identity.key in self._rows:
            return False
        self._put(identity.key, identity)
        return True

    async def by_subject(self, provider: str, subject: str) -> Identity | None:
        found: Identity | None = self._get(f"{provider}|{subject}")
        return found

    async def of_customer(self, customer_id: str) -> list[Identity]:
        return [i for i in self._all() if i.customer_id == customer_id]

    async def remove(self, provider: str, subject: str) -> None:
        self._rows.pop(f"{provider}|{subject}", None)

    async def move(self, from_customer: str, to_customer: str) -> int:
        moved = [i for i in self._all() if i.customer_id == from_customer]
        for identity in moved:
            self._put(identity.key, replace(identity, customer_id=to_customer))
        return len(moved)


class FakeAuthFlows(_Repository):
    name = "flows"

    async def add(self, flow: AuthFlow) -> None:
        self._put(flow.state_hash, replace(flow, used=False))

    async def take(self, state_hash: str) -> AuthFlow | None:
        flow = self._get(state_hash)
        if flow is None:
            return None
        used = flow.used
        self._put(state_hash, replace(flow, used=True))
        return replace(flow, used=used)  # type: ignore[no-any-return]

    async def purge(self, created_before: datetime) -> int:
        gone = [k for k, f in self._rows.items() if f.created_at < created_before]
        for key in gone:
            del self._rows[key]
        return len(gone)


class FakePendingLinks(_Repository):
    name = "pending_links"

    async def add(self, link: PendingLink) -> None:
        self._put(link.token_hash, replace(link, used=False))

    async def get(self, token_hash: str) -> PendingLink | None:
        found: PendingLink | None = self._get(token_hash)
        return found

    async def save(self, link: PendingLink) -> None:
        if link.token_hash in self._rows:
            self._put(link.token_hash, link)


class FakeSessions(_Repository):
    name = "sessions"

    async def add(self, session: Session) -> None:
        self._put(session.id, session)

    async def get(self, session_id: str) -> Session | None:
        found: Session | None = self._get(session_id)
        return found

    async def by_refresh(self, refresh_hash: str) -> Session | None:
        return next((s for s in self._all() if s.refresh_hash == refresh_hash), None)

    async def save(self, session: Session) -> None:
        if session.id in self._rows:
            self._put(session.id, session)

    async def rotate(self, session_id: str, successor_id: str) -> bool:
        session = await self.get(session_id)
        if session is None or session.status != SessionStatus.ACTIVE:
            return False
        session.status, session.replaced_by = SessionStatus.ROTATED, successor_id
        self._put(session_id, session)
        return True

    async def _revoke(self, matches: Any) -> int:
        revoked = [s for s in self._all() if matches(s) and s.status != SessionStatus.REVOKED]
        for session in revoked:
            session.status = SessionStatus.REVOKED
            self._put(session.id, session)
        return len(revoked)

    async def revoke_family(self, family_id: str) -> int:
        return await self._revoke(lambda s: s.family_id == family_id)

    async def revoke_customer(self, customer_id: str) -> int:
        return await self._revoke(lambda s: s.customer_id == customer_id)


class FakeRealNames(_Repository):
    name = "real_names"

    async def add(self, customer_id: str, di_index: str, ci_ciphertext: str, key_id: str,
                  verified_at: datetime, adult: bool) -> bool:
        if customer_id in self._rows or any(r["di_index"] == di_index
                                            for r in self._rows.values()):
            return False
        self._rows[customer_id] = {"customer_id": customer_id, "di_index": di_index,
                                   "ci_ciphertext": ci_ciphertext, "key_id": key_id,
                                   "verified_at": verified_at, "adult": adult}
        return True

    async def owner_of(self, di_index: str) -> str | None:
        return next((r["customer_id"] for r in self._rows.values()
                     if r["di_index"] == di_index), None)

    async def of_customer(self, customer_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(customer_id)
        return found

    async def rekey(self, customer_id: str, ci_ciphertext: str, key_id: str) -> None:
        if customer_id in self._rows:
            self._rows[customer_id] = {**self._rows[customer_id],
                                       "ci_ciphertext": ci_ciphertext, "key_id": key_id}

    async def key_ids(self) -> list[str]:
        return sorted({r["key_id"] for r in self._rows.values()})

    async def under_key(self, key_id: str, limit: int) -> list[dict[str, Any]]:
        return [r for r in self._all() if r["key_id"] == key_id][:limit]


class FakeConsents(_Repository):
    name = "consents"

    async def set(self, customer_id: str, purpose: str, granted: bool) -> None:
        self._rows[(customer_id, purpose)] = granted

    async def of_customer(self, customer_id: str) -> dict[str, bool]:
        return {purpose: granted for (who, purpose), granted in self._rows.items()
                if who == customer_id}


class FakeAuthEvents(_Repository):
    name = "auth_events"

    async def add(self, name: str, provider: str, *, channel: str = "", campaign: str = "",
                  reason: str = "", flow: str = "", anon_id: str = "", at: float) -> None:
        self._rows[len(self._rows)] = {"at": at, "name": name, "provider": provider,
                                       "channel": channel[:64], "campaign": campaign[:64],
                                       "reason": reason[:64], "flow": flow,
                                       "anon_id": anon_id}

    async def between(self, start: float, end: float) -> list[dict[str, Any]]:
        return [{k: e[k] for k in ("name", "provider", "channel", "campaign", "reason", "flow")}
                for e in self._all() if start <= e["at"] < end]


class FakePrivacyStore(_Repository):
    """Erasure, export and retention reach into every table: those use cases are tested on
    the real databases (tests/e2e/test_privacy.py), not here."""

    name = "privacy"

    def _not_here(self, what: str) -> Any:
        raise NotImplementedError(f"PrivacyStore.{what} is tested against the real databases "
                                  "(tests/e2e/test_privacy.py); the fake does not model it")

    async def export(self, customer_id: str) -> dict[str, Any]:
        return self._not_here("export")  # type: ignore[no-any-return]

    async def erase(self, customer_id: str, pseudonym: str) -> dict[str, int]:
        return self._not_here("erase")  # type: ignore[no-any-return]

    async def merge(self, from_customer: str, to_customer: str) -> dict[str, int]:
        return self._not_here("merge")  # type: ignore[no-any-return]

    async def keep(self, record_class: str, subject: str, jurisdiction: str,
                   payload: dict[str, Any], retain_until: datetime) -> None:
        self._not_here("keep")

    async def retained(self, subject: str) -> list[dict[str, Any]]:
        return self._not_here("retained")  # type: ignore[no-any-return]

    async def purge_retained(self, now: datetime) -> int:
        return 0

    async def purge_access_logs(self, jurisdiction: str, before: datetime) -> int:
        return 0

    async def purge_sign_in_leftovers(self, before: datetime) -> int:
        return await self._unit.flows.purge(before)

    async def purge_finished_work(self, before: datetime) -> int:
        return 0


# --- providers -------------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class FakeTaskQueue:
    """Records what would be handed to the workers; tests run it (Mall.run_outbox), or have
    it run at once in tasks of their own, as the embedded worker does (`work_inline`)."""

    def __init__(self) -> None:
        self.outbox: list[str] = []
        self.inbox: list[str] = []
        self.failures: list[BaseException] = []
        self._run: Callable[[str], Awaitable[object]] | None = None

    def work_inline(self, run: Callable[[str], Awaitable[object]]) -> None:
        self._run = run

    async def _work(self, message_id: str) -> None:
        assert self._run is not None
        try:
            await self._run(message_id)
        except Exception as exc:  # a worker logs it and retries later; the test reads it
            self.failures.append(exc)

    def dispatch_outbox(self, message_ids: Sequence[str]) -> None:
        if self._run is None:
            self.outbox.extend(message_ids)
            return
        for message_id in message_ids:
            asyncio.get_running_loop().create_task(self._work(message_id))

    def dispatch_inbox(self, message_id: str) -> None:
        self.inbox.append(message_id)


SIGNATURE = "x-fake-signature"


def sign(body: bytes, secret: str = "whsec_fake") -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def _verified(headers: Mapping[str, str], body: bytes, secret: str) -> InboundEvent:
    given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE)
    if given != sign(body, secret):
        raise InvalidSignature("the callback's signature does not match")
    payload = json.loads(body)
    return InboundEvent(str(payload["id"]), str(payload["type"]), payload)


# Method tokens the fake gateway answers in a scripted way; any other token is captured.
DECLINED, THREE_DS, DEPOSIT = "tok_declined", "tok_3ds", "tok_virtual_account"
UNREACHABLE, NO_ANSWER = "tok_unreachable", "tok_no_answer"


class FakeGateway:
    """A PaymentGateway whose answers depend on the method token (see the constants above).

    Webhooks are JSON `{"id", "type": <EventType value>, "reference", "payment_id",
    "amount", "fact", "lookup", "secret"}` signed with `sign(body)` in the `x-fake-signature`
    header."""

    def __init__(self, name: str = "sandbox", supports_manual_capture: bool = True,
                 secret: str = "whsec_fake") -> None:
        self.name, self.supports_manual_capture, self._secret = (
            name, supports_manual_capture, secret)
        self.up = True
        self.requests: list[PaymentRequest] = []
        self.calls: list[tuple[str, ProviderCall]] = []
        self.lookups: dict[str, PaymentUpdate] = {}  # what lookup() answers, by reference
        self.lookup_error: Exception | None = None
        self.refuse: set[str] = set()  # "capture", "void", "refund": refused by the provider
        self.fail_calls: Exception | None = None  # raised by capture/cancel/refund

    @staticmethod
    def reference(payment_id: str) -> str:
        return f"fk_{payment_id}"

    @staticmethod
    def callback_secret(payment_id: str) -> str:
        return f"cbs_{payment_id}"

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate:
        self.requests.append(request)
        token, reference = request.method_token, self.reference(request.payment_id)
        if token == UNREACHABLE:
            raise ProviderUnavailable("connection refused", request_sent=False)
        if token == NO_ANSWER:
            raise ProviderUnavailable("timed out waiting for the answer", request_sent=True)
        if token == DECLINED:
            return PaymentUpdate.of(EventType.FAILED, reference,
                                    failure_code=FailureReason.DECLINED.value)
        if token == THREE_DS:
            return PaymentUpdate.of(EventType.ACTION_REQUIRED, reference, occurred_at=1.0,
                                    next_action={"redirect_url": "https://bank.test/3ds"})
        if token == DEPOSIT:
            # Its callbacks carry this per-payment secret instead of a signature (as Toss's).
            return PaymentUpdate.of(EventType.DEPOSIT_REQUESTED, reference, occurred_at=1.0,
                                    deposit_account={"bank": "20", "number": "000-111",
                                                     "expires_at": "2026-12-04T09:00:00+00:00"},
                                    callback_secret=self.callback_secret(request.payment_id))
        kind = EventType.CAPTURED if request.capture else EventType.AUTHORIZED
        return PaymentUpdate.of(kind, reference, merchant_reference=request.payment_id)

    async def _follow_up(self, action: str, call: ProviderCall) -> PaymentUpdate:
        self.calls.append((action, call))
        if self.fail_calls is not None:
            raise self.fail_calls
        ref = call.provider_reference
        if action == "refund":
            if action in self.refuse:
                return PaymentUpdate((PaymentEvent(EventType.REFUND_FAILED,
                                                   reference=call.idempotency_key),),
                                     ref, failure_code=FailureReason.DECLINED.value)
            return PaymentUpdate((PaymentEvent(EventType.REFUNDED, call.amount.amount,
                                               reference=f"re_{call.idempotency_key}",
                                               settles=call.idempotency_key),), ref)
        if action in self.refuse:
            return PaymentUpdate((), ref)  # nothing new: the provider did not do it
        kind = EventType.CAPTURED if action == "capture" else EventType.CANCELLED
        return PaymentUpdate.of(kind, ref, call.amount.amount if action == "capture" else None)

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        return await self._follow_up("capture", call)

    async def cancel(self, call: ProviderCall) -> PaymentUpdate:
        return await self._follow_up("void", call)

    async def refund(self, call: ProviderCall) -> PaymentUpdate:
        return await self._follow_up("refund", call)

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        if self.lookup_error is not None:
            raise self.lookup_error
        return self.lookups.get(provider_reference, PaymentUpdate((), provider_reference))

    async def available(self) -> bool:
        return self.up

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return _verified(headers, body, self._secret)

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        if event.kind not in EventType.__members__.values():
            return None
        data = event.payload
        reference = str(data.get("reference", ""))
        return reference, PaymentUpdate(
            (PaymentEvent(EventType(event.kind), data.get("amount"),
                          reference=str(data.get("fact", ""))),),
            reference or None, merchant_reference=data.get("payment_id"),
            needs_lookup=bool(data.get("lookup")), callback_secret=data.get("secret"))

    def webhook(self, event_id: str, kind: str, **fields: Any) -> tuple[dict[str, str], bytes]:
        """Headers and body of a signed callback, as the provider would send it."""
        body = json.dumps({"id": event_id, "type": kind, **fields}).encode()
        return {SIGNATURE: sign(body, self._secret)}, body


class FakeCarrier:
    """A Carrier: books parcels as `TRK-<shipment id>`; tracking callbacks are JSON
    `{"id", "type": "tracking", "tracking_number", "status", "occurred_at", "detail"}`."""

    def __init__(self, name: str = "sandbox-express", secret: str = "whsec_fake") -> None:
        self.name, self._secret = name, secret
        self.requests: list[ShipmentRequest] = []
        self.error: Exception | None = None

    async def create_shipment(self, request: ShipmentRequest) -> str:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return f"TRK-{request.idempotency_key}"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return _verified(headers, body, self._secret)

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None:
        if event.kind != "tracking":
            return None
        data = event.payload
        return TrackingUpdate(str(data["tracking_number"]), ShipmentStatus(data["status"]),
                              datetime.fromisoformat(str(data["occurred_at"])),
                              str(data.get("detail", "")))

    def webhook(self, event_id: str, tracking_number: str, status: str, occurred_at: datetime,
                detail: str = "", kind: str = "tracking") -> tuple[dict[str, str], bytes]:
        body = json.dumps({"id": event_id, "type": kind, "tracking_number": tracking_number,
                           "status": status, "occurred_at": occurred_at.isoformat(),
                           "detail": detail}).encode()
        return {SIGNATURE: sign(body, self._secret)}, body


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.error: Exception | None = None

    async def send(self, notification: Notification) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(notification)

    def templates(self, recipient: str | None = None) -> list[str]:
        return [n.template for n in self.sent if recipient is None or n.recipient == recipient]


class FakeAnalytics:
    def __init__(self) -> None:
        self.events: list[AnalyticsEvent] = []

    async def track(self, event: AnalyticsEvent) -> None:
        self.events.append(event)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events]


class FakeAlerts:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.error: Exception | None = None

    async def alert(self, alert: Alert) -> None:
        if self.error is not None:
            raise self.error
        self.alerts.append(alert)


@dataclass
class FakeFraudScreen:
    """Approves everything unless told otherwise (`decision`, `score`)."""

    decision: str = "approve"
    score: float = 0.1
    reasons: list[str] = field(default_factory=list)
    screened: list[tuple[Order, RiskSignals]] = field(default_factory=list)
    learned: list[Sequence[tuple[str, int]]] = field(default_factory=list)

    async def screen(self, order: Order, signals: RiskSignals) -> RiskAssessment:
        self.screened.append((order, signals))
        return RiskAssessment(self.score, self.decision, list(self.reasons))

    async def learn(self, paid_totals: Sequence[tuple[str, int]]) -> None:
        self.learned.append(list(paid_totals))


class FakeRealNameVerifier:
    """A RealNameVerifier that knows the people `people` names, by verification token."""

    name = "fake-pass"

    def __init__(self) -> None:
        self.people: dict[str, RealNameVerification] = {}

    def person(self, token: str, ci: str, di: str, adult: bool = True) -> None:
        self.people[token] = RealNameVerification(ci, di, START, adult)

    async def verify(self, token: str) -> RealNameVerification:
        if token not in self.people:
            raise SignInRefused("the verification did not go through", reason="invalid_token")
        return self.people[token]


class FakeCheckpointStore:
    """Signed checkpoints kept in a list, as the append-only file would keep their lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.error: OSError | None = None

    async def append(self, checkpoint: Checkpoint) -> None:
        if self.error is not None:
            raise self.error
        self.lines.append(checkpoint.to_line())

    async def read(self) -> list[str]:
        if self.error is not None:
            raise self.error
        return list(self.lines)


class FakePasswordHasher:
    """Fast and deterministic: the real one (argon2) is slow on purpose."""

    def __init__(self) -> None:
        self.verified = 0

    async def hash(self, password: str) -> str:
        return "fake$" + hashlib.sha256(password.encode()).hexdigest()

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return password_hash == await self.hash(password)


class FakeIdentityProvider:
    """An IdentityProvider that signs in whoever `next_identity` names."""

    response_mode = "query"

    def __init__(self, name: str = "fakeid") -> None:
        self.name = name
        self.next_identity: VerifiedIdentity | None = None
        self.requests: list[AuthorizationRequest] = []
        self.up = True

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        self.requests.append(request)
        return f"https://id.test/authorize?state={request.state}"

    async def exchange_code(self, callback: CallbackParams, *, code_verifier: str, nonce: str,
                            redirect_uri: str) -> VerifiedIdentity:
        if self.next_identity is None:
            raise SignInRefused("no identity scripted", reason="invalid_token")
        return self.next_identity

    async def available(self) -> bool:
        return self.up

    def fault(self) -> str | None:
        return None
