"""Repositories: domain objects in and out of piccolo tables."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from piccolo.columns.combination import WhereRaw

from adapters.persistence import tables as t
from application.ports import (
    Clock,
    FraudReview,
    IdempotencyRecord,
    InboundEvent,
    InboxMessage,
    OutboxMessage,
)
from domain.customers import Customer, Role
from domain.evidence import EvidenceDraft, EvidenceRecord, LedgerHead, seal
from domain.identity import (
    AuthFlow,
    FlowPurpose,
    Identity,
    PendingLink,
    Session,
    SessionStatus,
)
from domain.money import Money
from domain.operations import Operation, OperationStatus
from domain.orders import Order, OrderLine, OrderStatus, ShippingAddress
from domain.payments import UNSETTLED, Payment, PaymentEvent, PaymentStatus
from domain.redaction import card_safe_id
from domain.shipments import Shipment, ShipmentStatus


def _dump(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    if "\\u0000" in text:  # rare: only then walk the value
        text = json.dumps(_storable(value), separators=(",", ":"), default=str)
    return text


def _storable(value: Any) -> Any:
    """The value with U+0000 replaced by U+FFFD: PostgreSQL keeps no NUL in text or jsonb."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@overload
def _at(value: datetime | str) -> datetime: ...
@overload
def _at(value: None) -> None: ...
def _at(value: datetime | str | None) -> datetime | None:
    """A timestamptz column's value; SQLite gives RETURNING columns back as their text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class CustomerRepository:
    async def lock(self, customer_id: str) -> None:
        """Hold the customer until the unit of work ends (merges and erasures go one at a
        time); SQLite's IMMEDIATE transactions already run one writer at a time."""
        if t.Customer._meta.db.engine_type == "postgres":
            await t.Customer.select(t.Customer.id).where(
                t.Customer.id == customer_id).lock_rows("UPDATE")

    async def add(self, customer: Customer) -> bool:
        inserted = await t.Customer.insert(t.Customer(
            id=customer.id, email=customer.email, password_hash=customer.password_hash,
            role=customer.role.value, created_at=_iso(customer.created_at),
            identity_verified=customer.identity_verified,
            email_verified=customer.email_verified, jurisdiction=customer.jurisdiction,
        )).on_conflict(target=t.Customer.email, action="DO NOTHING").returning(t.Customer.id)
        return bool(inserted)

    @staticmethod
    def _from(row: dict[str, Any] | None) -> Customer | None:
        if row is None:
            return None
        return Customer(row["id"], row["email"], row["password_hash"], Role(row["role"]),
                        _dt(row["created_at"]), bool(row["identity_verified"]),
                        bool(row["email_verified"]), row["jurisdiction"])

    async def get(self, customer_id: str) -> Customer | None:
        return self._from(await t.Customer.select().where(t.Customer.id == customer_id).first())

    async def by_email(self, email: str) -> Customer | None:
        return self._from(await t.Customer.select().where(t.Customer.email == email).first())

    async def save(self, customer: Customer) -> None:
        await t.Customer.update({
            t.Customer.email: customer.email, t.Customer.password_hash: customer.password_hash,
            t.Customer.email_verified: customer.email_verified,
            t.Customer.jurisdiction: customer.jurisdiction,
            t.Customer.identity_verified: customer.identity_verified,
        }).where(t.Customer.id == customer.id)

    async def set_identity_verified(self, customer_id: str, verified: bool) -> None:
        await t.Customer.update({t.Customer.identity_verified: verified}).where(
            t.Customer.id == customer_id)

    async def record_login_failure(self, customer_id: str, at: datetime) -> None:
        await t.LoginFailure.insert(t.LoginFailure(customer_id=customer_id, at=at))

    async def login_failures_since(self, customer_id: str, since: datetime) -> int:
        return int(await t.LoginFailure.count().where(
            (t.LoginFailure.customer_id == customer_id) & (t.LoginFailure.at >= since)
        ))


class OrderRepository:
    async def lock(self, order_id: str) -> None:
        # SQLite's IMMEDIATE transactions already run one writer at a time.
        if t.Order._meta.db.engine_type == "postgres":
            await t.Order.select(t.Order.id).where(t.Order.id == order_id).lock_rows("UPDATE")
    @staticmethod
    def _values(order: Order) -> dict[Any, Any]:
        return {
            t.Order.status: order.status.value,
            t.Order.held_for_review: order.held_for_review,
        }

    async def add(self, order: Order) -> None:
        address = order.shipping_address
        await t.Order.insert(t.Order(
            id=order.id, customer_id=order.customer_id, currency=order.currency,
            status=order.status.value, carrier=order.carrier, note=order.note,
            lines=_dump([
                {"sku": line.sku, "title": line.title, "seller_id": line.seller_id,
                 "quantity": line.quantity, "unit_price": line.unit_price.amount}
                for line in order.lines
            ]),
            shipping_address=_dump({
                "recipient": address.recipient, "line1": address.line1, "line2": address.line2,
                "city": address.city, "postal_code": address.postal_code,
                "country": address.country,
            }),
            created_at=order.created_at, total=order.total.amount,
            held_for_review=order.held_for_review,
        ))

    @staticmethod
    def _from(row: dict[str, Any]) -> Order:
        currency = row["currency"]
        return Order(
            id=row["id"], customer_id=row["customer_id"], currency=currency,
            lines=[
                OrderLine(line["sku"], line["title"], line["seller_id"], line["quantity"],
                          Money(line["unit_price"], currency))
                for line in json.loads(row["lines"])
            ],
            shipping_address=ShippingAddress(**json.loads(row["shipping_address"])),
            carrier=row["carrier"], note=row["note"], status=OrderStatus(row["status"]),
            created_at=_at(row["created_at"]), held_for_review=bool(row["held_for_review"]),
        )

    async def get(self, order_id: str) -> Order | None:
        row = await t.Order.select().where(t.Order.id == order_id).first()
        return self._from(row) if row else None

    async def save(self, order: Order) -> None:
        await t.Order.update(self._values(order)).where(t.Order.id == order.id)

    async def paid_totals(self, limit: int) -> list[tuple[str, int]]:
        """(currency, total) of the latest orders whose money was taken, for risk models."""
        rows = await t.Order.select(t.Order.currency, t.Order.total).where(
            t.Order.status.is_in(["paid", "shipped", "delivered", "partially_refunded"])
        ).order_by(t.Order.created_at, ascending=False).limit(limit)
        return [(row["currency"], int(row["total"])) for row in rows]

    async def of_customer(
        self, customer_id: str, limit: int, before: str | None = None
    ) -> list[Order]:
        condition = t.Order.customer_id == customer_id
        if before:
            condition &= t.Order.created_at < datetime.fromisoformat(before)
        rows = await t.Order.select().where(condition).order_by(
            t.Order.created_at, ascending=False).limit(limit)
        return [self._from(row) for row in rows]


class PaymentRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    @staticmethod
    def _row(payment: Payment) -> dict[str, Any]:
        return {
            "id": payment.id, "order_id": payment.order_id, "customer_id": payment.customer_id,
            "provider": payment.provider, "provider_reference": payment.provider_reference,
            "amount": payment.amount.amount, "currency": payment.amount.currency,
            "method": payment.method, "idempotency_key": payment.idempotency_key,
            "status": payment.status.value, "failure_code": payment.failure_code,
            "next_action": _dump(payment.next_action) if payment.next_action else None,
            "deposit_account": _dump(payment.deposit_account) if payment.deposit_account else None,
            "callback_secret_hash": payment.callback_secret_hash, "capture": payment.capture,
            "history": _dump(payment.history), "created_at": payment.created_at,
        }

    async def _hydrate(self, rows: list[dict[str, Any]]) -> list[Payment]:
        if not rows:
            return []
        events = await t.PaymentEvent.select(t.PaymentEvent.payment_id, t.PaymentEvent.body).where(
            t.PaymentEvent.payment_id.is_in([row["id"] for row in rows])
        ).order_by(t.PaymentEvent.seq)
        log: dict[str, list[PaymentEvent]] = {}
        for event in events:
            log.setdefault(event["payment_id"], []).append(
                PaymentEvent.from_dict(json.loads(event["body"])))
        return [Payment(
            id=row["id"], order_id=row["order_id"], customer_id=row["customer_id"],
            provider=row["provider"], amount=Money(row["amount"], row["currency"]),
            method=row["method"], idempotency_key=row["idempotency_key"],
            status=PaymentStatus(row["status"]), provider_reference=row["provider_reference"],
            failure_code=row["failure_code"], next_action=_load(row["next_action"]),
            deposit_account=_load(row["deposit_account"]),
            callback_secret_hash=row["callback_secret_hash"], capture=row["capture"],
            created_at=_at(row["created_at"]), history=json.loads(row["history"]),
            events=log.get(row["id"], []),
        ) for row in rows]

    async def _one(self, row: dict[str, Any] | None) -> Payment | None:
        found = await self._hydrate([row] if row else [])
        return found[0] if found else None

    async def add(self, payment: Payment) -> None:
        await t.Payment.insert(t.Payment(**self._row(payment)))
        await self._append_events(payment)

    async def get(self, payment_id: str) -> Payment | None:
        return await self._one(await t.Payment.select().where(t.Payment.id == payment_id).first())

    async def by_reference(self, provider: str, reference: str) -> Payment | None:
        return await self._one(await t.Payment.select().where(
            (t.Payment.provider == provider) & (t.Payment.provider_reference == reference)
        ).first())

    async def save(self, payment: Payment) -> None:
        row = self._row(payment)
        del row["id"]
        await t.Payment.update({getattr(t.Payment, k): v for k, v in row.items()}).where(
            t.Payment.id == payment.id)
        await self._append_events(payment)

    async def _append_events(self, payment: Payment) -> None:
        """Append the facts learned since loading; the log itself is never rewritten."""
        if not payment.new_events:
            return
        first = len(payment.events) - len(payment.new_events)
        now = self._clock.now()
        await t.PaymentEvent.insert(*[t.PaymentEvent(
            dedupe_key=f"{payment.id}|{event.key}", payment_id=payment.id, seq=first + index,
            body=_dump(event.as_dict()), recorded_at=now,
        ) for index, event in enumerate(payment.new_events)])
        payment.new_events.clear()

    async def of_order(self, order_id: str) -> list[Payment]:
        rows = await t.Payment.select().where(t.Payment.order_id == order_id).order_by(
            t.Payment.created_at)
        return await self._hydrate(rows)

    async def waiting_on_customer(self, created_before: datetime, limit: int) -> list[Payment]:
        rows = await t.Payment.select().where(
            t.Payment.status.is_in(["awaiting_deposit", "requires_action"])
            & (t.Payment.created_at < created_before)
        ).order_by(t.Payment.created_at).limit(limit)
        return await self._hydrate(rows)

    async def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        rows = await t.Payment.select().where(
            t.Payment.status.is_in([s.value for s in UNSETTLED])
            & (t.Payment.created_at < created_before)
        ).order_by(t.Payment.created_at).limit(limit)
        return await self._hydrate(rows)

    async def failures_of_customer(self, customer_id: str, since: datetime) -> int:
        return int(await t.Payment.count().where(
            (t.Payment.customer_id == customer_id) & (t.Payment.status == "failed")
            & (t.Payment.created_at >= since)
        ))


class FraudReviewRepository:
    @staticmethod
    def _from(row: dict[str, Any]) -> FraudReview:
        return FraudReview(
            order_id=row["order_id"], customer_id=row["customer_id"], score=row["score"],
            reasons=json.loads(row["reasons"]), status=row["status"],
            opened_at=datetime.fromisoformat(row["opened_at"]),
            decided_at=_dt(row["decided_at"]), decided_by=row["decided_by"], note=row["note"])

    async def add(self, review: FraudReview) -> None:
        await t.FraudReview.insert(t.FraudReview(
            order_id=review.order_id, customer_id=review.customer_id, score=review.score,
            reasons=_dump(review.reasons), status=review.status,
            opened_at=review.opened_at.isoformat(), note=review.note,
        )).on_conflict(target=t.FraudReview.order_id, action="DO NOTHING")

    async def get(self, order_id: str) -> FraudReview | None:
        row = await t.FraudReview.select().where(t.FraudReview.order_id == order_id).first()
        return self._from(row) if row else None

    async def save(self, review: FraudReview) -> None:
        await t.FraudReview.update({
            t.FraudReview.status: review.status, t.FraudReview.decided_at: _iso(review.decided_at),
            t.FraudReview.decided_by: review.decided_by, t.FraudReview.note: review.note,
        }).where(t.FraudReview.order_id == review.order_id)

    async def pending(self, limit: int) -> list[FraudReview]:
        rows = await t.FraudReview.select().where(t.FraudReview.status == "pending").order_by(
            t.FraudReview.opened_at).limit(limit)
        return [self._from(row) for row in rows]


class ShipmentRepository:
    @staticmethod
    def _from(row: dict[str, Any] | None) -> Shipment | None:
        if row is None:
            return None
        return Shipment(
            id=row["id"], order_id=row["order_id"], seller_id=row["seller_id"],
            carrier=row["carrier"], status=ShipmentStatus(row["status"]),
            tracking_number=row["tracking_number"], last_event_at=_dt(row["last_event_at"]),
            history=json.loads(row["history"]),
        )

    async def add(self, shipment: Shipment) -> None:
        await t.Shipment.insert(t.Shipment(
            id=shipment.id, order_id=shipment.order_id, seller_id=shipment.seller_id,
            carrier=shipment.carrier, status=shipment.status.value,
            tracking_number=shipment.tracking_number,
            last_event_at=_iso(shipment.last_event_at), history=_dump(shipment.history),
        ))

    async def get(self, shipment_id: str) -> Shipment | None:
        return self._from(await t.Shipment.select().where(t.Shipment.id == shipment_id).first())

    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None:
        return self._from(await t.Shipment.select().where(
            (t.Shipment.carrier == carrier) & (t.Shipment.tracking_number == tracking_number)
        ).first())

    async def save(self, shipment: Shipment) -> None:
        await t.Shipment.update({
            t.Shipment.status: shipment.status.value,
            t.Shipment.tracking_number: shipment.tracking_number,
            t.Shipment.last_event_at: _iso(shipment.last_event_at),
            t.Shipment.history: _dump(shipment.history),
        }).where(t.Shipment.id == shipment.id)

    async def of_order(self, order_id: str) -> list[Shipment]:
        rows = await t.Shipment.select().where(t.Shipment.order_id == order_id).order_by(
            t.Shipment.seller_id)
        return [s for s in map(self._from, rows) if s is not None]


class OperationRepository:
    @staticmethod
    def _from(row: dict[str, Any] | None) -> Operation | None:
        if row is None:
            return None
        return Operation(
            id=row["id"], customer_id=row["customer_id"], kind=row["kind"],
            subject=row["subject"], created_at=datetime.fromisoformat(row["created_at"]),
            status=OperationStatus(row["status"]), message=row["message"],
            result=_load(row["result"]), updated_at=_dt(row["updated_at"]),
        )

    async def add(self, operation: Operation) -> None:
        await t.Operation.insert(t.Operation(
            id=operation.id, customer_id=operation.customer_id, kind=operation.kind,
            subject=operation.subject, status=operation.status.value, message=operation.message,
            result=_dump(operation.result) if operation.result is not None else None,
            created_at=_iso(operation.created_at), updated_at=_iso(operation.updated_at),
        ))

    async def get(self, operation_id: str) -> Operation | None:
        return self._from(
            await t.Operation.select().where(t.Operation.id == operation_id).first())

    async def by_subject(self, subject: str) -> Operation | None:
        return self._from(
            await t.Operation.select().where(t.Operation.subject == subject).first())

    async def save(self, operation: Operation) -> None:
        await t.Operation.update({
            t.Operation.status: operation.status.value,
            t.Operation.message: operation.message,
            t.Operation.result: (
                _dump(operation.result) if operation.result is not None else None),
            t.Operation.updated_at: _iso(operation.updated_at),
        }).where(t.Operation.id == operation.id)


class OutboxRepository:
    def __init__(self, created: list[str], clock: Clock) -> None:
        self._created = created
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock.now()

    async def add(self, topic: str, payload: dict[str, Any]) -> str:
        message_id = card_safe_id("obx")
        now = self._now()
        await t.OutboxMessage.insert(t.OutboxMessage(
            id=message_id, topic=topic, payload=_dump(payload), status="pending", attempts=0,
            created_at=now, available_at=now,
        ))
        self._created.append(message_id)
        return message_id

    async def claim(self, message_id: str, lease_seconds: float) -> OutboxMessage | None:
        now = self._now()
        m = t.OutboxMessage
        # One conditional UPDATE decides who runs the message, on both engines.
        lease_end = now + timedelta(seconds=lease_seconds)
        claimed = await m.update({m.status: "processing", m.available_at: lease_end}).where(
            (m.id == message_id)
            & ((m.status == "pending") | ((m.status == "processing") & (m.available_at < now)))
        ).returning(m.id, m.topic, m.payload, m.attempts)
        if not claimed:
            return None
        row = claimed[0]
        return OutboxMessage(row["id"], row["topic"], json.loads(row["payload"]),
                             row["attempts"], "processing")

    async def complete(self, message_id: str) -> None:
        m = t.OutboxMessage
        await m.update({m.status: "done"}).where(m.id == message_id)

    async def release(self, message_id: str, error: str, dead: bool) -> None:
        m = t.OutboxMessage
        await m.update({
            m.status: "dead" if dead else "pending",
            m.attempts: m.attempts + 1,
            m.last_error: error[:500],
            m.available_at: self._now(),
        }).where(m.id == message_id)

    async def unfinished(self, older_than_seconds: float, limit: int) -> list[str]:
        m = t.OutboxMessage
        cutoff = self._now() - timedelta(seconds=older_than_seconds)
        rows = await m.select(m.id).where(
            m.status.is_in(["pending", "processing"]) & (m.available_at < cutoff)
        ).order_by(m.created_at).limit(limit)
        return [row["id"] for row in rows]


class InboxRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add(self, provider: str, event: InboundEvent) -> str | None:
        now = self._clock.now()
        m = t.InboxMessage
        message_id = card_safe_id("ibx")
        inserted = await m.insert(m(
            id=message_id, dedupe_key=f"{provider}:{event.event_id}", provider=provider,
            event_id=event.event_id, kind=event.kind, payload=_dump(event.payload),
            status="received", received_at=now, available_at=now,
        )).on_conflict(target=m.dedupe_key, action="DO NOTHING").returning(m.id)
        return message_id if inserted else None

    async def claim(self, message_id: str) -> InboxMessage | None:
        m = t.InboxMessage
        claimed = await m.update({m.status: "processing"}).where(
            (m.id == message_id) & m.status.is_in(["received", "processing"])
        ).returning(m.id, m.provider, m.event_id, m.kind, m.payload, m.received_at)
        if not claimed:
            return None
        row = claimed[0]
        return InboxMessage(row["id"], row["provider"], row["event_id"], row["kind"],
                            json.loads(row["payload"]), "processing", _at(row["received_at"]))

    async def complete(self, message_id: str, status: str) -> None:
        m = t.InboxMessage
        await m.update({m.status: status}).where(m.id == message_id)

    async def unprocessed(self, older_than_seconds: float, limit: int) -> list[str]:
        m = t.InboxMessage
        cutoff = self._clock.now() - timedelta(seconds=older_than_seconds)
        rows = await m.select(m.id).where(
            m.status.is_in(["received", "processing"]) & (m.received_at < cutoff)
        ).order_by(m.received_at).limit(limit)
        return [row["id"] for row in rows]


class IdempotencyRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    @staticmethod
    def _id(customer_id: str, key: str) -> str:
        return hashlib.sha256(f"{customer_id}\x00{key}".encode()).hexdigest()

    async def reserve(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        m = t.IdempotencyKey
        row_id = self._id(record.customer_id, record.key)
        now = self._clock.now()
        # An expired key is free again.
        await m.delete().where((m.id == row_id) & (m.expires_at < now))
        inserted = await m.insert(m(
            id=row_id, customer_id=record.customer_id, request_hash=record.request_hash,
            request_target=record.request_target, status="in_flight",
            expires_at=record.expires_at,
        )).on_conflict(target=m.id, action="DO NOTHING").returning(m.id)
        if inserted:
            return None
        row = await m.select().where(m.id == row_id).first()
        assert row is not None
        return IdempotencyRecord(
            record.customer_id, record.key, row["request_hash"], row["status"],
            row["response_status"], _load(row["response_body"]),
            _at(row["expires_at"]), row["request_target"],
        )

    async def complete(self, customer_id: str, key: str, status: int, body: Any) -> None:
        m = t.IdempotencyKey
        await m.update({m.status: "completed", m.response_status: status,
                        m.response_body: _dump(body)}).where(m.id == self._id(customer_id, key))

    async def forget(self, customer_id: str, key: str) -> None:
        m = t.IdempotencyKey
        await m.delete().where(m.id == self._id(customer_id, key))

    async def purge_expired(self, now: datetime) -> int:
        m = t.IdempotencyKey
        removed = await m.delete().where(m.expires_at < now).returning(m.id)
        return len(removed)


class EvidenceRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def append(self, draft: EvidenceDraft) -> EvidenceRecord:
        context, payload, payload_hash = draft.redacted()
        # Sealed as stored: what a verifier reads back must hash the same.
        context, payload = _storable(context), _storable(payload)
        received_at = self._clock.now()
        # Bumping the head row locks it until commit, so appends form one unbroken chain.
        head = await t.EvidenceHead.raw(
            "UPDATE evidence_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, head_hash"
        )
        seq, prev_hash = head[0]["seq"], head[0]["head_hash"]
        digest = seal(seq=seq, source=draft.source, kind=draft.kind, subject=draft.subject,
                      received_at=received_at, context=context, payload_hash=payload_hash,
                      payload=payload, prev_hash=prev_hash)
        await t.EvidenceRecord.insert(t.EvidenceRecord(
            seq=seq, source=draft.source, kind=draft.kind, subject=draft.subject,
            received_at=received_at.isoformat(), context=_dump(context),
            payload_hash=payload_hash, payload=_dump(payload), prev_hash=prev_hash, hash=digest,
        ))
        await t.EvidenceHead.update({t.EvidenceHead.head_hash: digest}).where(
            t.EvidenceHead.id == 1)
        return EvidenceRecord(seq, draft.source, draft.kind, draft.subject, received_at,
                              context, payload_hash, payload, prev_hash, digest)

    @staticmethod
    def _from(row: dict[str, Any]) -> EvidenceRecord:
        return EvidenceRecord(
            seq=row["seq"], source=row["source"], kind=row["kind"], subject=row["subject"],
            received_at=datetime.fromisoformat(row["received_at"]),
            context=json.loads(row["context"]), payload_hash=row["payload_hash"],
            payload=json.loads(row["payload"]), prev_hash=row["prev_hash"], hash=row["hash"],
        )

    async def of_subject(self, subject: str, limit: int) -> list[EvidenceRecord]:
        e = t.EvidenceRecord
        rows = await e.select().where(e.subject == subject).order_by(e.seq).limit(limit)
        return [self._from(row) for row in rows]

    async def chain(self, after_seq: int, limit: int) -> list[EvidenceRecord]:
        e = t.EvidenceRecord
        rows = await e.select().where(e.seq > after_seq).order_by(e.seq).limit(limit)
        return [self._from(row) for row in rows]

    async def head(self) -> LedgerHead:
        h = t.EvidenceHead
        row = await h.select(h.seq, h.head_hash).where(h.id == 1).first()
        if row is None:  # migrate() inserts it; a missing row is itself tampering
            return LedgerHead(0, "")
        return LedgerHead(row["seq"], row["head_hash"])


class IncidentRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def open(self, kind: str, subject: str, detail: dict[str, Any]) -> str:
        incident_id = card_safe_id("inc")
        await t.Incident.insert(t.Incident(
            id=incident_id, kind=kind, subject=subject, detail=_dump(detail), status="open",
            opened_at=self._clock.now().isoformat(),
        ))
        return incident_id

    async def of_subject(self, subject: str) -> list[dict[str, Any]]:
        rows = await t.Incident.select(t.Incident.id, t.Incident.kind, t.Incident.opened_at,
                                       t.Incident.status).where(t.Incident.subject == subject)
        return [dict(row) for row in rows]


class NotificationRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        await t.NotificationLog.insert(t.NotificationLog(
            owner=customer_id, channel=channel, template=template, subject=subject,
            sent_at=self._clock.now().isoformat(),
        ))


class IdentityLinkRepository:
    @staticmethod
    def _from(row: dict[str, Any]) -> Identity:
        return Identity(row["customer_id"], row["provider"], row["subject"], row["email"],
                        bool(row["email_verified"]), datetime.fromisoformat(row["linked_at"]))

    async def add(self, identity: Identity) -> bool:
        inserted = await t.IdentityLink.insert(t.IdentityLink(
            dedupe_key=identity.key, customer_id=identity.customer_id,
            provider=identity.provider, subject=identity.subject, email=identity.email,
            email_verified=identity.email_verified, linked_at=identity.linked_at.isoformat(),
        )).on_conflict(target=t.IdentityLink.dedupe_key, action="DO NOTHING").returning(
            t.IdentityLink.dedupe_key)
        return bool(inserted)

    async def by_subject(self, provider: str, subject: str) -> Identity | None:
        row = await t.IdentityLink.select().where(
            t.IdentityLink.dedupe_key == f"{provider}|{subject}").first()
        return self._from(row) if row else None

    async def of_customer(self, customer_id: str) -> list[Identity]:
        rows = await t.IdentityLink.select().where(
            t.IdentityLink.customer_id == customer_id).order_by(t.IdentityLink.linked_at)
        return [self._from(row) for row in rows]

    async def remove(self, provider: str, subject: str) -> None:
        await t.IdentityLink.delete().where(
            t.IdentityLink.dedupe_key == f"{provider}|{subject}")

    async def move(self, from_customer: str, to_customer: str) -> int:
        moved = await t.IdentityLink.update({t.IdentityLink.customer_id: to_customer}).where(
            t.IdentityLink.customer_id == from_customer).returning(t.IdentityLink.dedupe_key)
        return len(moved)


class AuthFlowRepository:
    async def add(self, flow: AuthFlow) -> None:
        await t.AuthFlow.insert(t.AuthFlow(
            state_hash=flow.state_hash, provider=flow.provider, purpose=flow.purpose.value,
            nonce=flow.nonce, code_verifier=flow.code_verifier, redirect_uri=flow.redirect_uri,
            customer_id=flow.customer_id, channel=flow.channel, campaign=flow.campaign,
            created_at=flow.created_at, used=False, browser_hash=flow.browser_hash,
            session_id=flow.session_id,
        ))

    async def take(self, state_hash: str) -> AuthFlow | None:
        """The flow of this state, marked used in the same statement: a state is good for
        exactly one callback, even when two arrive at once."""
        taken = await t.AuthFlow.update({t.AuthFlow.used: True}).where(
            (t.AuthFlow.state_hash == state_hash) & (t.AuthFlow.used == False)  # noqa: E712
        ).returning(*t.AuthFlow.all_columns())
        if taken:
            row = taken[0]
        else:
            row = await t.AuthFlow.select().where(t.AuthFlow.state_hash == state_hash).first()
            if row is None:
                return None
        return AuthFlow(
            state_hash=row["state_hash"], provider=row["provider"],
            purpose=FlowPurpose(row["purpose"]), nonce=row["nonce"],
            code_verifier=row["code_verifier"], redirect_uri=row["redirect_uri"],
            created_at=_at(row["created_at"]),
            customer_id=row["customer_id"], channel=row["channel"], campaign=row["campaign"],
            used=not taken, browser_hash=row["browser_hash"], session_id=row["session_id"],
        )

    async def purge(self, created_before: datetime) -> int:
        gone = await t.AuthFlow.delete().where(
            t.AuthFlow.created_at < created_before).returning(
            t.AuthFlow.state_hash)
        return len(gone)


class PendingLinkRepository:
    async def add(self, link: PendingLink) -> None:
        await t.PendingLink.insert(t.PendingLink(
            token_hash=link.token_hash, customer_id=link.customer_id, provider=link.provider,
            subject=link.subject, email=link.email, created_at=link.created_at,
            used=False))

    async def get(self, token_hash: str) -> PendingLink | None:
        row = await t.PendingLink.select().where(t.PendingLink.token_hash == token_hash).first()
        if row is None:
            return None
        return PendingLink(row["token_hash"], row["customer_id"], row["provider"],
                           row["subject"], row["email"], _at(row["created_at"]),
                           bool(row["used"]))

    async def save(self, link: PendingLink) -> None:
        await t.PendingLink.update({t.PendingLink.used: link.used}).where(
            t.PendingLink.token_hash == link.token_hash)


class SessionRepository:
    @staticmethod
    def _from(row: dict[str, Any] | None) -> Session | None:
        if row is None:
            return None
        return Session(row["id"], row["customer_id"], row["family_id"], row["refresh_hash"],
                       _at(row["created_at"]), _at(row["expires_at"]),
                       SessionStatus(row["status"]), row["replaced_by"])

    async def add(self, session: Session) -> None:
        await t.AuthSession.insert(t.AuthSession(
            id=session.id, customer_id=session.customer_id, family_id=session.family_id,
            refresh_hash=session.refresh_hash, created_at=session.created_at,
            expires_at=session.expires_at, status=session.status.value,
            replaced_by=session.replaced_by))

    async def get(self, session_id: str) -> Session | None:
        return self._from(await t.AuthSession.select().where(
            t.AuthSession.id == session_id).first())

    async def by_refresh(self, refresh_hash: str) -> Session | None:
        return self._from(await t.AuthSession.select().where(
            t.AuthSession.refresh_hash == refresh_hash).first())

    async def save(self, session: Session) -> None:
        await t.AuthSession.update({
            t.AuthSession.status: session.status.value,
            t.AuthSession.replaced_by: session.replaced_by,
        }).where(t.AuthSession.id == session.id)

    async def rotate(self, session_id: str, successor_id: str) -> bool:
        """Mark the session rotated, only if it is still active: of two refreshes racing with
        the same token, one wins and the other is seen as a reuse."""
        rotated = await t.AuthSession.update({
            t.AuthSession.status: "rotated", t.AuthSession.replaced_by: successor_id,
        }).where((t.AuthSession.id == session_id) & (t.AuthSession.status == "active")
                 ).returning(t.AuthSession.id)
        return bool(rotated)

    async def revoke_family(self, family_id: str) -> int:
        revoked = await t.AuthSession.update({t.AuthSession.status: "revoked"}).where(
            (t.AuthSession.family_id == family_id) & (t.AuthSession.status != "revoked")
        ).returning(t.AuthSession.id)
        return len(revoked)

    async def revoke_customer(self, customer_id: str) -> int:
        revoked = await t.AuthSession.update({t.AuthSession.status: "revoked"}).where(
            (t.AuthSession.customer_id == customer_id) & (t.AuthSession.status != "revoked")
        ).returning(t.AuthSession.id)
        return len(revoked)


class RealNameRepository:
    async def add(self, customer_id: str, di_index: str, ci_ciphertext: str, key_id: str,
                  verified_at: datetime, adult: bool) -> bool:
        """False when this person (DI) already has an account."""
        inserted = await t.RealNameIdentity.insert(t.RealNameIdentity(
            customer_id=customer_id, di_index=di_index, ci_ciphertext=ci_ciphertext,
            key_id=key_id, verified_at=verified_at.isoformat(), adult=adult,
        )).on_conflict(action="DO NOTHING").returning(t.RealNameIdentity.customer_id)
        return bool(inserted)

    async def owner_of(self, di_index: str) -> str | None:
        row = await t.RealNameIdentity.select(t.RealNameIdentity.customer_id).where(
            t.RealNameIdentity.di_index == di_index).first()
        return row["customer_id"] if row else None

    async def of_customer(self, customer_id: str) -> dict[str, Any] | None:
        row = await t.RealNameIdentity.select().where(
            t.RealNameIdentity.customer_id == customer_id).first()
        return dict(row) if row else None

    async def rekey(self, customer_id: str, ci_ciphertext: str, key_id: str) -> None:
        await t.RealNameIdentity.update({t.RealNameIdentity.ci_ciphertext: ci_ciphertext,
                                         t.RealNameIdentity.key_id: key_id}).where(
            t.RealNameIdentity.customer_id == customer_id)

    async def key_ids(self) -> list[str]:
        rows = await t.RealNameIdentity.select(t.RealNameIdentity.key_id).distinct()
        return [row["key_id"] for row in rows]

    async def under_key(self, key_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await t.RealNameIdentity.select().where(
            t.RealNameIdentity.key_id == key_id).limit(limit)
        return [dict(row) for row in rows]


class ConsentRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def set(self, customer_id: str, purpose: str, granted: bool) -> None:
        now = self._clock.now().isoformat()
        await t.Consent.insert(t.Consent(
            dedupe_key=f"{customer_id}|{purpose}", customer_id=customer_id, purpose=purpose,
            granted=granted, updated_at=now,
        )).on_conflict(target=t.Consent.dedupe_key, action="DO UPDATE",
                       values=[t.Consent.granted, t.Consent.updated_at])

    async def of_customer(self, customer_id: str) -> dict[str, bool]:
        rows = await t.Consent.select().where(t.Consent.customer_id == customer_id)
        return {row["purpose"]: bool(row["granted"]) for row in rows}


class AuthEventRepository:
    async def add(self, name: str, provider: str, *, channel: str = "", campaign: str = "",
                  reason: str = "", flow: str = "", anon_id: str = "", at: float) -> None:
        await t.AuthEvent.insert(t.AuthEvent(
            at=datetime.fromtimestamp(at, UTC), name=name, provider=provider,
            channel=channel[:64], campaign=campaign[:64], reason=reason[:64], flow=flow,
            anon_id=anon_id))

    async def between(self, start: float, end: float) -> list[dict[str, Any]]:
        rows = await t.AuthEvent.select(
            t.AuthEvent.name, t.AuthEvent.provider, t.AuthEvent.channel, t.AuthEvent.campaign,
            t.AuthEvent.reason, t.AuthEvent.flow,
        ).where((t.AuthEvent.at >= datetime.fromtimestamp(start, UTC))
                & (t.AuthEvent.at < datetime.fromtimestamp(end, UTC)))
        return [dict(row) for row in rows]


ERASED = "[erased]"


class PrivacyRepository:
    """Erasure, export and retention across every table that can hold personal data."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def export(self, customer_id: str) -> dict[str, Any]:
        customer = await t.Customer.select(
            t.Customer.id, t.Customer.email, t.Customer.role, t.Customer.created_at,
            t.Customer.email_verified, t.Customer.identity_verified, t.Customer.jurisdiction,
        ).where(t.Customer.id == customer_id).first()
        real_name = await t.RealNameIdentity.select(
            t.RealNameIdentity.verified_at, t.RealNameIdentity.adult,
        ).where(t.RealNameIdentity.customer_id == customer_id).first()
        return {
            "customer": customer,
            "identities": await t.IdentityLink.select(
                t.IdentityLink.provider, t.IdentityLink.subject, t.IdentityLink.email,
                t.IdentityLink.email_verified, t.IdentityLink.linked_at,
            ).where(t.IdentityLink.customer_id == customer_id),
            "real_name_verification": real_name,
            "consents": await t.Consent.select(
                t.Consent.purpose, t.Consent.granted, t.Consent.updated_at,
            ).where(t.Consent.customer_id == customer_id),
            "sessions": [{**row, "created_at": _at(row["created_at"]).isoformat(),
                          "expires_at": _at(row["expires_at"]).isoformat()}
                         for row in await t.AuthSession.select(
                t.AuthSession.id, t.AuthSession.created_at, t.AuthSession.expires_at,
                t.AuthSession.status,
            ).where(t.AuthSession.customer_id == customer_id)],
            "login_failures": [_at(row["at"]).timestamp() for row in await t.LoginFailure.select(
                t.LoginFailure.at).where(t.LoginFailure.customer_id == customer_id)],
            "notifications": await t.NotificationLog.select(
                t.NotificationLog.channel, t.NotificationLog.template,
                t.NotificationLog.subject, t.NotificationLog.sent_at,
            ).where(t.NotificationLog.owner == customer_id),
        }

    async def erase(self, customer_id: str, pseudonym: str) -> dict[str, int]:
        """Delete what identifies the customer and cut the links from what must stay: orders
        and payments keep their amounts under a pseudonym, without name or address."""
        counts: dict[str, int] = {}

        async def deleted(table: type[Any], condition: Any) -> None:
            rows = await table.delete().where(condition).returning(
                table._meta.primary_key)
            counts[table._meta.tablename] = len(rows)

        await deleted(t.IdentityLink, t.IdentityLink.customer_id == customer_id)
        await deleted(t.AuthFlow, t.AuthFlow.customer_id == customer_id)
        await deleted(t.PendingLink, t.PendingLink.customer_id == customer_id)
        await deleted(t.AuthSession, t.AuthSession.customer_id == customer_id)
        await deleted(t.RealNameIdentity, t.RealNameIdentity.customer_id == customer_id)
        await deleted(t.Consent, t.Consent.customer_id == customer_id)
        await deleted(t.LoginFailure, t.LoginFailure.customer_id == customer_id)
        await deleted(t.IdempotencyKey, t.IdempotencyKey.customer_id == customer_id)
        orders = await t.Order.select(t.Order.id, t.Order.shipping_address).where(
            t.Order.customer_id == customer_id)
        for order in orders:
            address = json.loads(order["shipping_address"])
            scrubbed = {key: (value if key == "country" else ERASED)
                        for key, value in address.items()}
            await t.Order.update({t.Order.customer_id: pseudonym, t.Order.note: "",
                                  t.Order.shipping_address: _dump(scrubbed)}).where(
                t.Order.id == order["id"])
        counts["orders"] = len(orders)
        for table in (t.Payment, t.Operation, t.FraudReview):
            moved = await table.update({table.customer_id: pseudonym}).where(
                table.customer_id == customer_id).returning(table._meta.primary_key)
            counts[table._meta.tablename] = len(moved)
        await t.FraudReview.update({t.FraudReview.note: ""}).where(
            t.FraudReview.customer_id == pseudonym)
        logged = await t.NotificationLog.update({t.NotificationLog.owner: pseudonym}).where(
            t.NotificationLog.owner == customer_id).returning(t.NotificationLog.id)
        counts["notification_log"] = len(logged)
        # Work not yet done for the customer (a notice, an event) must not resurrect them.
        pending = await t.OutboxMessage.select(t.OutboxMessage.id, t.OutboxMessage.payload).where(
            WhereRaw("CAST(payload AS TEXT) LIKE {}", f"%{customer_id}%"))
        for message in pending:
            await t.OutboxMessage.update({
                t.OutboxMessage.payload: message["payload"].replace(customer_id, pseudonym),
            }).where(t.OutboxMessage.id == message["id"])
        counts["outbox_message"] = len(pending)
        await deleted(t.Customer, t.Customer.id == customer_id)
        return counts

    async def merge(self, from_customer: str, to_customer: str) -> dict[str, int]:
        """Move everything of one customer to another, then close the first account."""
        counts: dict[str, int] = {}
        for table in (t.Order, t.Payment, t.Operation, t.FraudReview, t.IdentityLink,
                      t.LoginFailure):
            moved = await table.update({table.customer_id: to_customer}).where(
                table.customer_id == from_customer).returning(table._meta.primary_key)
            counts[table._meta.tablename] = len(moved)
        kept = await t.Consent.select(t.Consent.purpose).where(
            t.Consent.customer_id == to_customer)
        mine = {row["purpose"] for row in kept}
        theirs = await t.Consent.select().where(t.Consent.customer_id == from_customer)
        for row in theirs:
            if row["purpose"] not in mine:
                await t.Consent.insert(t.Consent(
                    dedupe_key=f"{to_customer}|{row['purpose']}", customer_id=to_customer,
                    purpose=row["purpose"], granted=row["granted"],
                    updated_at=row["updated_at"]))
        await t.Consent.delete().where(t.Consent.customer_id == from_customer)
        counts["consent"] = len(theirs)
        if await t.RealNameIdentity.count().where(
                t.RealNameIdentity.customer_id == to_customer) == 0:
            await t.RealNameIdentity.update({t.RealNameIdentity.customer_id: to_customer}).where(
                t.RealNameIdentity.customer_id == from_customer)
        await t.NotificationLog.update({t.NotificationLog.owner: to_customer}).where(
            t.NotificationLog.owner == from_customer)
        for table in (t.AuthSession, t.AuthFlow, t.PendingLink, t.IdempotencyKey,
                      t.RealNameIdentity):
            await table.delete().where(table.customer_id == from_customer)
        await t.Customer.delete().where(t.Customer.id == from_customer)
        return counts

    async def keep(self, record_class: str, subject: str, jurisdiction: str,
                   payload: dict[str, Any], retain_until: datetime) -> None:
        await t.RetainedRecord.insert(t.RetainedRecord(
            id=card_safe_id("ret"), record_class=record_class, subject=subject,
            jurisdiction=jurisdiction, payload=_dump(payload),
            created_at=self._clock.now(), retain_until=retain_until))

    async def retained(self, subject: str) -> list[dict[str, Any]]:
        rows = await t.RetainedRecord.select().where(t.RetainedRecord.subject == subject)
        # As before: the creation time in ISO-8601, the end of retention in epoch seconds.
        return [{**row, "payload": json.loads(row["payload"]),
                 "created_at": _at(row["created_at"]).isoformat(),
                 "retain_until": _at(row["retain_until"]).timestamp()} for row in rows]

    async def purge_retained(self, now: datetime) -> int:
        gone = await t.RetainedRecord.delete().where(
            t.RetainedRecord.retain_until <= now).returning(t.RetainedRecord.id)
        return len(gone)

    async def purge_access_logs(self, jurisdiction: str, before: datetime) -> int:
        """Access logs of the jurisdiction's customers older than its retention period."""
        customers = [row["id"] for row in await t.Customer.select(t.Customer.id).where(
            t.Customer.jurisdiction == jurisdiction)]
        removed = 0
        for start in range(0, len(customers), 500):
            batch = customers[start:start + 500]
            gone = await t.LoginFailure.delete().where(
                t.LoginFailure.customer_id.is_in(batch)
                & (t.LoginFailure.at < before)).returning(t.LoginFailure.id)
            removed += len(gone)
        return removed

    async def purge_finished_work(self, before: datetime) -> int:
        """Outbox work done and callbacks settled long ago: their payloads name customers
        and nothing needs them any more (providers stop re-sending within days)."""
        done = await t.OutboxMessage.delete().where(
            (t.OutboxMessage.status == "done") & (t.OutboxMessage.created_at < before)
        ).returning(t.OutboxMessage.id)
        settled = await t.InboxMessage.delete().where(
            t.InboxMessage.status.is_in(["applied", "no_change", "ignored"])
            & (t.InboxMessage.received_at < before)).returning(t.InboxMessage.id)
        return len(done) + len(settled)

    async def purge_sign_in_leftovers(self, before: datetime) -> int:
        flows = await t.AuthFlow.delete().where(
            t.AuthFlow.created_at < before).returning(t.AuthFlow.state_hash)
        links = await t.PendingLink.delete().where(
            t.PendingLink.created_at < before).returning(t.PendingLink.token_hash)
        return len(flows) + len(links)
