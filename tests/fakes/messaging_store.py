"""Repositories that carry work from a request to the workers and back: long-running
operations, the outbox, the inbox of provider callbacks and idempotency keys."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from application.ports import IdempotencyRecord, InboundEvent, InboxMessage, OutboxMessage
from application.ports.message_store import ClaimReaching
from domain.deliveries import Delivery
from domain.evidence import EvidenceDraft
from domain.messages import DeliveryStatus
from domain.operations import Operation
from domain.redaction import card_safe_id
from tests.fakes.storage import AggregateRepository, Repository, as_json


class FakeOperations(AggregateRepository[Operation], key="operation_id", value="operation"):
    name = "operations"

    async def by_subject(self, subject: str) -> Operation | None:
        return self._find(lambda o: o.subject == subject)


@dataclass
class _OutboxRow:
    message: OutboxMessage
    created_at: float
    available_at: float
    last_error: str = ""


class FakeOutbox(Repository):
    name = "outbox"

    def _ts(self) -> float:
        return self._now().timestamp()

    async def add(self, topic: str, payload: dict[str, Any]) -> str:
        message_id = card_safe_id("obx")
        now = self._ts()
        self._rows[message_id] = _OutboxRow(OutboxMessage(message_id, topic, as_json(payload)),
                                            now, now)
        self._unit.new_outbox_ids.append(message_id)
        return message_id

    async def hold(self, message_ids: list[str], lease_seconds: float) -> list[OutboxMessage]:
        held = []
        for message_id in message_ids:
            row: _OutboxRow | None = self._get(message_id)
            assert row is not None, "only messages this unit of work added are held"
            if row.message.status == "pending":
                row.message.status, row.available_at = "processing", self._ts() + lease_seconds
                self._rows[message_id] = row
            held.append(copy.deepcopy(row.message))
        return held

    async def claim(self, message_id: str, lease_seconds: float) -> OutboxMessage | None:
        row: _OutboxRow | None = self._get(message_id)
        now = self._ts()
        if row is None or not (row.message.status == "pending" or (
                row.message.status == "processing" and row.available_at < now)):
            return None
        row.message.status, row.available_at = "processing", now + lease_seconds
        self._rows[message_id] = row
        return copy.deepcopy(row.message)

    async def claim_batch(self, message_ids: list[str],
                          lease_seconds: float) -> list[OutboxMessage]:
        claimed = [await self.claim(message_id, lease_seconds) for message_id in message_ids]
        return [message for message in claimed if message is not None]

    def _update(self, message_id: str, **changes: Any) -> None:
        row = self._get(message_id)
        if row is None:
            return
        for name, value in changes.items():
            if name in ("status", "attempts"):
                setattr(row.message, name, value)
            else:
                setattr(row, name, value)
        self._rows[message_id] = row

    async def complete(self, *message_ids: str) -> None:
        for message_id in message_ids:
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


class FakeInbox(Repository):
    name = "inbox"

    async def add(self, provider: str, event: InboundEvent,
                  evidence: EvidenceDraft | None = None,
                  payment: tuple[str, str] | None = None) -> str | None:
        if any(m.provider == provider and m.event_id == event.event_id
               for m in self._rows.values()):
            return None
        message_id = card_safe_id("ibx")
        self._rows[message_id] = InboxMessage(
            message_id, provider, event.event_id, event.kind, as_json(event.payload),
            "received", self._now())
        if evidence is not None and payment is not None:
            found = await self._unit.payments.for_event(provider, *payment)
            if found is not None:
                evidence = replace(evidence, subject=f"order:{found.order_id}")
        if evidence is not None:
            await self._unit.evidence.append(evidence)
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


class FakeIdempotencyKeys(Repository):
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
                response_body=as_json(body))

    async def forget(self, customer_id: str, key: str) -> None:
        self._rows.pop((customer_id, key), None)

    async def purge_expired(self, now: datetime) -> int:
        return self._purge(lambda record: record.expires_at < now)


class FakeDeliveries(Repository):
    """Delivery records by message id, and suppressed addresses (a table of their own)."""

    name = "deliveries"

    async def claim(self, delivery: Delivery) -> Delivery | None:
        if delivery.message_id in self._rows:
            found: Delivery = self._get(delivery.message_id)
            return found
        self._put(delivery.message_id, delivery)
        return None

    async def claim_reaching(self, delivery: Delivery, channels: list[str]) -> ClaimReaching:
        reachable = await self._unit.customers.reachable(delivery.customer_id)
        if reachable is None:
            return ClaimReaching(None, None, [], {})
        # No keys of its own making: the caller reads the suppressions of its keys.
        return ClaimReaching(await self.claim(delivery), reachable, [], {})

    async def take_over(self, message_id: str, now: datetime, claimed_before: datetime) -> bool:
        found: Delivery | None = self._get(message_id)
        due = found is not None and found.status == DeliveryStatus.DEFERRED and (
            found.not_before is None or found.not_before <= now)
        stale = found is not None and found.status == DeliveryStatus.SENDING and (
            found.updated_at <= claimed_before)
        if found is None or not (due or stale):
            return False
        found.status, found.updated_at = DeliveryStatus.SENDING, now
        self._put(message_id, found)
        return True

    async def get(self, message_id: str) -> Delivery | None:
        found: Delivery | None = self._get(message_id)
        return found

    async def save(self, delivery: Delivery) -> None:
        if delivery.message_id in self._rows:
            self._put(delivery.message_id, delivery)

    async def remove(self, message_id: str) -> None:
        self._rows.pop(message_id, None)

    async def by_provider_id(self, provider: str,
                             provider_message_id: str) -> Delivery | None:
        found: Delivery | None = self._first(
            lambda d: d.provider == provider and d.provider_message_id == provider_message_id)
        return found

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        waiting = [d for d in self._all() if d.status == DeliveryStatus.DEFERRED
                   and d.not_before is not None and d.not_before <= now]
        return sorted(waiting, key=lambda d: d.not_before)[:limit]

    async def suppress(self, address_key: str, channel: str, reason: str) -> None:
        self._unit.table("suppressions").setdefault(address_key, reason)

    async def suppression(self, address_key: str) -> str | None:
        found: str | None = self._unit.table("suppressions").get(address_key)
        return found

    async def suppressions(self, address_keys: list[str]) -> dict[str, str]:
        table = self._unit.table("suppressions")
        return {key: table[key] for key in address_keys if key in table}

    async def known(self, message_ids: list[str]) -> set[str]:
        return {m for m in message_ids if m in self._rows}
