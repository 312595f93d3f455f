"""The outbox, the inbox and idempotency records: at-least-once delivery, exactly-once effects."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from piccolo.columns import Timestamptz, Varchar

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, _load
from adapters.persistence.repositories.evidence import (
    APPEND_COLUMNS,
    EvidenceRepository,
    appended,
)
from adapters.persistence.repositories.payments import PaymentRepository
from application.ports import Clock, IdempotencyRecord, InboundEvent, InboxMessage, OutboxMessage
from domain.evidence import EvidenceDraft
from domain.redaction import card_safe_id


async def _left_behind(status: Varchar, statuses: list[str], *, due: Timestamptz,
                       cutoff: datetime, oldest: Timestamptz, limit: int) -> list[str]:
    """Ids of the messages still in one of `statuses` whose `due` time passed before
    `cutoff`, the `oldest` first: work a stopped process may have left behind."""
    table = status._meta.table
    rows = await table.select(table._meta.primary_key).where(
        status.is_in(statuses) & (due < cutoff)).order_by(oldest).limit(limit)
    return [row["id"] for row in rows]


OUTBOX_ADD = ("INSERT INTO outbox_message (id, topic, payload, status, attempts, last_error, "
              "created_at, available_at) VALUES ($1, $2, $3, $5, 0, NULL, $4, $6)")
OUTBOX_HOLD = ("UPDATE outbox_message SET status = 'processing', available_at = $2 "
               "WHERE id = ANY($1::varchar[]) AND status = 'pending'")
OUTBOX_CLAIM = (
    "UPDATE outbox_message SET status = 'processing', available_at = $2 "
    "WHERE id = ANY($1::varchar[]) AND (status = 'pending' "
    "OR (status = 'processing' AND available_at < $3)) "
    "RETURNING id, topic, payload, attempts")
OUTBOX_DONE = "UPDATE outbox_message SET status = 'done' WHERE id = ANY($1::varchar[])"
INBOX_ADD = (
    "INSERT INTO inbox_message (id, dedupe_key, provider, event_id, kind, payload, status, "
    "received_at, available_at) VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $7) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
# The evidence's subject: the order of the payment the provider names ($15: its reference,
# $16: our payment id), as PaymentRepository.for_event finds it; the draft's own ($10) when
# there is none.
FILED_UNDER = (
    "COALESCE((SELECT 'order:' || p.order_id FROM payment p WHERE p.provider = $3 "
    "AND (p.provider_reference = $15 OR p.id = $16) "
    "ORDER BY p.provider_reference = $15 DESC NULLS LAST LIMIT 1), CAST($10 AS VARCHAR))")


def _inbox_add_with_evidence(subject: str) -> str:
    """The callback stored once and, only when it is new, the evidence of its receipt: one
    statement, atomic on its own (the evidence columns as APPEND_COLUMNS, cast: a SELECT list
    tells PostgreSQL no types)."""
    return (  # only column names and the subject's expression are formatted in
        f"WITH inbox AS ({INBOX_ADD}), evidence AS (INSERT INTO evidence_record "  # noqa: S608
        f"({', '.join(APPEND_COLUMNS)}, seq, prev_hash, hash) SELECT CAST($8 AS VARCHAR), "
        f"CAST($9 AS VARCHAR), {subject}, CAST($11 AS VARCHAR), CAST($12 AS JSON), "
        "CAST($13 AS VARCHAR), CAST($14 AS JSON), NULL, NULL, NULL "
        "WHERE EXISTS (SELECT 1 FROM inbox)) "
        "SELECT id FROM inbox")


INBOX_ADD_WITH_EVIDENCE = _inbox_add_with_evidence("CAST($10 AS VARCHAR)")
INBOX_ADD_FILED_UNDER_PAYMENT = _inbox_add_with_evidence(FILED_UNDER)
INBOX_CLAIM = (
    "UPDATE inbox_message SET status = 'processing' "
    "WHERE id = $1 AND status IN ('received', 'processing') "
    "RETURNING id, provider, event_id, kind, payload, received_at")
INBOX_DONE = "UPDATE inbox_message SET status = $2 WHERE id = $1"


class OutboxRepository:
    def __init__(self, created: list[str], clock: Clock) -> None:
        self._created = created
        self._clock = clock
        # What this unit of work added: its INSERT (while gathered, not sent) and payload.
        self._added: dict[str, tuple[Any, str, str]] = {}

    def _now(self) -> datetime:
        return self._clock.now()

    async def add(self, topic: str, payload: dict[str, Any]) -> str:
        message_id = card_safe_id("obx")
        now = self._now()
        stored = _dump(payload)
        insert = None
        if raw.on_postgres():  # sent with the transaction's next statement
            insert = await raw.write(OUTBOX_ADD, message_id, topic, stored, now, "pending", now)
        else:
            await raw.later(t.OutboxMessage.insert(t.OutboxMessage(
                id=message_id, topic=topic, payload=stored, status="pending",
                attempts=0, created_at=now, available_at=now,
            )))
        self._added[message_id] = (insert, topic, stored)
        self._created.append(message_id)
        return message_id

    async def hold(self, message_ids: list[str], lease_seconds: float) -> list[OutboxMessage]:
        lease_end = self._now() + timedelta(seconds=lease_seconds)
        held, update = [], []
        for message_id in message_ids:
            insert, topic, stored = self._added[message_id]
            if insert is not None and not insert.sent:
                # Still gathered: inserted as held, at no cost of its own.
                insert.args = (*insert.args[:4], "processing", lease_end)
            else:
                update.append(message_id)
            held.append(OutboxMessage(message_id, topic, json.loads(stored), 0, "processing"))
        if update and raw.on_postgres():
            await raw.write(OUTBOX_HOLD, update, lease_end)
        elif update:
            m = t.OutboxMessage
            await raw.later(m.update({m.status: "processing", m.available_at: lease_end}).where(
                m.id.is_in(update) & (m.status == "pending")))
        return held

    async def claim(self, message_id: str, lease_seconds: float) -> OutboxMessage | None:
        claimed = await self.claim_batch([message_id], lease_seconds)
        return claimed[0] if claimed else None

    async def claim_batch(self, message_ids: list[str],
                          lease_seconds: float) -> list[OutboxMessage]:
        if not message_ids:
            return []
        now = self._now()
        m = t.OutboxMessage
        # One conditional UPDATE decides who runs each message, on both engines.
        lease_end = now + timedelta(seconds=lease_seconds)
        claimed: list[Any]
        if raw.on_postgres():
            claimed = await raw.fetch(OUTBOX_CLAIM, message_ids, lease_end, now)
        else:
            claimed = await m.update({m.status: "processing", m.available_at: lease_end}).where(
                m.id.is_in(message_ids)
                & ((m.status == "pending")
                   | ((m.status == "processing") & (m.available_at < now)))
            ).returning(m.id, m.topic, m.payload, m.attempts)
        order = {message_id: i for i, message_id in enumerate(message_ids)}
        return sorted((OutboxMessage(row["id"], row["topic"], json.loads(row["payload"]),
                                     row["attempts"], "processing") for row in claimed),
                      key=lambda message: order[message.id])

    async def complete(self, *message_ids: str) -> None:
        if raw.on_postgres():  # in a handler's transaction: sent with its commit
            await raw.write(OUTBOX_DONE, list(message_ids))
            return
        m = t.OutboxMessage
        await raw.later(m.update({m.status: "done"}).where(m.id.is_in(list(message_ids))))

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
        return await _left_behind(
            m.status, ["pending", "processing"], due=m.available_at,
            cutoff=self._now() - timedelta(seconds=older_than_seconds), oldest=m.created_at,
            limit=limit)


class InboxRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add(self, provider: str, event: InboundEvent,
                  evidence: EvidenceDraft | None = None,
                  payment: tuple[str, str] | None = None) -> str | None:
        now = self._clock.now()
        m = t.InboxMessage
        message_id = card_safe_id("ibx")
        if raw.on_postgres():
            fields = (message_id, f"{provider}:{event.event_id}", provider, event.event_id,
                      event.kind, _dump(event.payload), now)
            if evidence is None:
                return message_id if await raw.fetch(INBOX_ADD, *fields) else None
            _, values = appended(evidence, now)
            if payment is None:
                added = await raw.fetch(INBOX_ADD_WITH_EVIDENCE, *fields, *values)
            else:  # NULL, never equal to anything, for an empty one
                added = await raw.fetch(INBOX_ADD_FILED_UNDER_PAYMENT, *fields, *values,
                                        payment[0] or None, payment[1] or None)
            return message_id if added else None
        if evidence is not None and payment is not None:
            found = await PaymentRepository(self._clock).for_event(provider, *payment)
            if found is not None:
                evidence = replace(evidence, subject=f"order:{found.order_id}")
        async def with_it() -> None:
            if evidence is not None:
                await EvidenceRepository(self._clock).append(evidence)

        # In the unit of work's transaction, or in one of its own when it has none: then the
        # callback and its evidence go with its COMMIT, in one trip.
        new = await raw.insert_new(m(
            id=message_id, dedupe_key=f"{provider}:{event.event_id}", provider=provider,
            event_id=event.event_id, kind=event.kind, payload=_dump(event.payload),
            status="received", received_at=now, available_at=now,
        ), m.dedupe_key, with_it)
        return message_id if new else None

    async def claim(self, message_id: str) -> InboxMessage | None:
        m = t.InboxMessage
        claimed: list[Any]
        if raw.on_postgres():
            claimed = await raw.fetch(INBOX_CLAIM, message_id)
        else:
            claimed = await m.update({m.status: "processing"}).where(
                (m.id == message_id) & m.status.is_in(["received", "processing"])
            ).returning(m.id, m.provider, m.event_id, m.kind, m.payload, m.received_at)
        if not claimed:
            return None
        row = claimed[0]
        return InboxMessage(row["id"], row["provider"], row["event_id"], row["kind"],
                            json.loads(row["payload"]), "processing", _at(row["received_at"]))

    async def complete(self, message_id: str, status: str) -> None:
        if raw.on_postgres():
            await raw.write(INBOX_DONE, message_id, status)
            return
        m = t.InboxMessage
        await raw.later(m.update({m.status: status}).where(m.id == message_id))

    async def unprocessed(self, older_than_seconds: float, limit: int) -> list[str]:
        m = t.InboxMessage
        return await _left_behind(
            m.status, ["received", "processing"], due=m.received_at,
            cutoff=self._clock.now() - timedelta(seconds=older_than_seconds),
            oldest=m.received_at, limit=limit)


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
        # One statement: the key is taken, or it was free or expired (taken over, as new).
        inserted = await m.insert(m(
            id=row_id, customer_id=record.customer_id, request_hash=record.request_hash,
            request_target=record.request_target, status="in_flight",
            expires_at=record.expires_at,
        )).on_conflict(
            target=m.id, action="DO UPDATE",
            values=[m.customer_id, m.request_hash, m.request_target, m.status,
                    m.response_status, m.response_body, m.expires_at],
            where=m.expires_at < now,
        ).returning(m.id)
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
