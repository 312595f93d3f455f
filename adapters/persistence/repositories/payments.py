"""Payments and their event histories in and out of their tables."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, _load, json_row, json_row_here
from adapters.persistence.repositories.read_ahead import ReadAhead
from application.ports import Clock
from domain.money import Money
from domain.payments import UNSETTLED, Payment, PaymentEvent, PaymentStatus

# A payment with its event log in one statement (PostgreSQL): the bodies in log order.
_EVENT_BODIES = ("ARRAY(SELECT e.body::text FROM payment_event e WHERE e.payment_id = p.id "
                 "ORDER BY e.seq) AS event_bodies")
WITH_EVENTS = f"SELECT p.*, {_EVENT_BODIES} FROM payment p "  # noqa: S608
BY_ID = WITH_EVENTS + "WHERE p.id = $1"
BY_REFERENCE = WITH_EVENTS + "WHERE p.provider = $1 AND p.provider_reference = $2 LIMIT 1"
FOR_EVENT = WITH_EVENTS + (
    "WHERE p.provider = $1 AND (p.provider_reference = $2 OR p.id = $3) "
    "ORDER BY p.provider_reference = $2 DESC NULLS LAST LIMIT 1")
# Every payment of an order, with what settling one reads next (repositories/read_ahead):
# the order's shipments, and each payment's operation.
OF_ORDER = (
    f"SELECT p.*, {_EVENT_BODIES}, ARRAY("  # noqa: S608
    f"SELECT {json_row(t.Shipment, 's')} FROM shipment s "
    "WHERE s.order_id = p.order_id ORDER BY s.seller_id) AS order_shipments, "
    f"(SELECT {json_row(t.Operation, 'o')} FROM operation o "
    "WHERE o.subject = 'payment:' || p.id LIMIT 1) AS operation "
    "FROM payment p WHERE p.order_id = $1 ORDER BY p.created_at")


# The same three on SQLite: the event log as [seq, body] pairs, put in order here (the order
# an aggregate meets its rows in is not promised there), shipments and operation as objects.
_EVENT_PAIRS = ("(SELECT json_group_array(json_array(e.seq, e.body)) FROM payment_event e "
                "WHERE e.payment_id = p.id) AS event_bodies")
BY_ID_HERE = f"SELECT p.*, {_EVENT_PAIRS} FROM payment p WHERE p.id = ?"  # noqa: S608
BY_REFERENCE_HERE = (f"SELECT p.*, {_EVENT_PAIRS} FROM payment p "  # noqa: S608
                     "WHERE p.provider = ? AND p.provider_reference = ? LIMIT 1")
OF_ORDER_HERE = (
    f"SELECT p.*, {_EVENT_PAIRS}, (SELECT json_group_array("  # noqa: S608
    f"{json_row_here(t.Shipment, 's')}) FROM shipment s WHERE s.order_id = p.order_id) "
    f"AS order_shipments, (SELECT {json_row_here(t.Operation, 'o')} FROM operation o "
    "WHERE o.subject = 'payment:' || p.id LIMIT 1) AS operation "
    "FROM payment p WHERE p.order_id = ? ORDER BY p.created_at")
OF_ORDER_PAID_BY_HERE = OF_ORDER_HERE.replace(  # the order of the payment ?
    "p.order_id = ?", "p.order_id = (SELECT order_id FROM payment WHERE id = ?)")


def _in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the SQLite statements with their event bodies in log order, as PostgreSQL's."""
    for row in rows:
        row["event_bodies"] = [body for _, body in sorted(json.loads(row["event_bodies"]))]
    return rows


class PaymentRepository:
    def __init__(self, clock: Clock, read_ahead: ReadAhead | None = None) -> None:
        self._clock = clock
        self._read_ahead = ReadAhead() if read_ahead is None else read_ahead

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
        return [self._payment(row, log.get(row["id"], [])) for row in rows]

    @staticmethod
    def _payment(row: Any, events: list[PaymentEvent]) -> Payment:
        return Payment(
            id=row["id"], order_id=row["order_id"], customer_id=row["customer_id"],
            provider=row["provider"], amount=Money(row["amount"], row["currency"]),
            method=row["method"], idempotency_key=row["idempotency_key"],
            status=PaymentStatus(row["status"]), provider_reference=row["provider_reference"],
            failure_code=row["failure_code"], next_action=_load(row["next_action"]),
            deposit_account=_load(row["deposit_account"]),
            callback_secret_hash=row["callback_secret_hash"], capture=row["capture"],
            created_at=_at(row["created_at"]), history=json.loads(row["history"]),
            events=events,
        )

    async def add(self, payment: Payment) -> None:
        self._read_ahead.payments.pop(payment.order_id, None)  # older than this
        row = self._row(payment)
        if raw.on_postgres():  # sent with the transaction's next statement
            await raw.write(raw.insert_into("payment", tuple(row)), *row.values(),
                            row=f"payment:{payment.id}")
        else:  # sent with the transaction's next statement (raw.later)
            await raw.later(t.Payment.insert(t.Payment(**row)))
        await self._append_events(payment)

    async def get(self, payment_id: str) -> Payment | None:
        if raw.on_postgres():
            return self._one_of(await raw.fetch(BY_ID, payment_id))
        return self._one_of(_in_order(await raw.fetch_here(BY_ID_HERE, payment_id)))

    def _with_events(self, rows: list[Any]) -> list[Payment]:
        """Payments read with their event bodies (WITH_EVENTS)."""
        return [self._payment(row, [PaymentEvent.from_dict(json.loads(body))
                                    for body in row["event_bodies"]]) for row in rows]

    def _one_of(self, rows: list[Any]) -> Payment | None:
        return self._with_events(rows[:1])[0] if rows else None

    async def by_reference(self, provider: str, reference: str) -> Payment | None:
        if raw.on_postgres():
            return self._one_of(await raw.fetch(BY_REFERENCE, provider, reference))
        return self._one_of(_in_order(await raw.fetch_here(BY_REFERENCE_HERE, provider,
                                                           reference)))

    async def for_event(self, provider: str, reference: str,
                        merchant_reference: str) -> Payment | None:
        if raw.on_postgres():  # NULL, never equal to anything, for an empty one
            return self._one_of(await raw.fetch(FOR_EVENT, provider, reference or None,
                                                merchant_reference or None))
        found = await self.by_reference(provider, reference) if reference else None
        if found is None and merchant_reference:
            found = await self.get(merchant_reference)
        return found if found is not None and found.provider == provider else None

    async def save(self, payment: Payment) -> None:
        self._read_ahead.payments.pop(payment.order_id, None)  # older than this
        row = self._row(payment)
        del row["id"]
        if raw.on_postgres():
            await raw.write(raw.update_of("payment", tuple(row)), *row.values(), payment.id,
                            row=f"payment:{payment.id}")
        else:
            await raw.later(t.Payment.update(
                {getattr(t.Payment, k): v for k, v in row.items()}).where(
                t.Payment.id == payment.id))
        await self._append_events(payment)

    async def _append_events(self, payment: Payment) -> None:
        """Append the facts learned since loading; the log itself is never rewritten."""
        if not payment.new_events:
            return
        first = len(payment.events) - len(payment.new_events)
        now = self._clock.now()
        if raw.on_postgres():
            columns = ("dedupe_key", "payment_id", "seq", "body", "recorded_at")
            values = [value for index, event in enumerate(payment.new_events) for value in (
                f"{payment.id}|{event.key}", payment.id, first + index,
                _dump(event.as_dict()), now)]
            await raw.write(raw.insert_into("payment_event", columns, len(payment.new_events)),
                            *values)
            payment.new_events.clear()
            return
        await raw.later(t.PaymentEvent.insert(*[t.PaymentEvent(
            dedupe_key=f"{payment.id}|{event.key}", payment_id=payment.id, seq=first + index,
            body=_dump(event.as_dict()), recorded_at=now,
        ) for index, event in enumerate(payment.new_events)]))
        payment.new_events.clear()

    async def of_order(self, order_id: str) -> list[Payment]:
        if raw.on_postgres():
            rows = await raw.fetch(OF_ORDER, order_id)
            for row in rows:
                self._read_ahead.shipments[order_id] = [
                    json.loads(shipment) for shipment in row["order_shipments"]]
                self._read_ahead.operations[f"payment:{row['id']}"] = _load(row["operation"])
            return self._with_events(rows)
        ahead = self._read_ahead.payments.pop(order_id, None)
        rows = _in_order(ahead if ahead is not None
                         else await raw.fetch_here(OF_ORDER_HERE, order_id))
        for row in rows:
            self._read_ahead.shipments[order_id] = sorted(
                json.loads(row["order_shipments"]), key=lambda shipment: shipment["seller_id"])
            self._read_ahead.operations[f"payment:{row['id']}"] = _load(row["operation"])
        return self._with_events(rows)

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

    @staticmethod
    async def failures_of_customer(customer_id: str, since: datetime) -> int:
        return int(await t.Payment.count().where(
            (t.Payment.customer_id == customer_id) & (t.Payment.status == "failed")
            & (t.Payment.created_at >= since)
        ))
