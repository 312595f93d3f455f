"""What the tables hold, on each engine: times from the injected clock, JSON as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.persistence.tables import InboxMessage, OutboxMessage
from adapters.persistence.uow import PiccoloUnitOfWorkFactory
from application.ports import IdempotencyRecord, InboundEvent


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def test_the_outbox_and_inbox_keep_time_by_the_injected_clock(container: Any) -> None:
    clock = MovableClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    uow = PiccoloUnitOfWorkFactory(container.engine(), clock)
    async with uow() as u:
        message_id = await u.outbox.add("notify", {"x": 1})
        inbox_id = await u.inbox.add("sandbox", InboundEvent("evt_1", "payment.succeeded", {}))
        await u.commit()
    outbox = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
    inbox = await InboxMessage.select().where(InboxMessage.id == inbox_id).first()
    assert _epoch(outbox["created_at"]) == clock.at.timestamp()
    assert _epoch(inbox["received_at"]) == clock.at.timestamp()
    async with uow() as u:
        # Nothing is overdue by the clock's time, whatever the wall clock says...
        assert await u.outbox.unfinished(older_than_seconds=60, limit=10) == []
        assert await u.inbox.unprocessed(older_than_seconds=60, limit=10) == []
        claimed = await u.outbox.claim(message_id, lease_seconds=30)
        assert claimed is not None
        await u.commit()
    clock.at += timedelta(minutes=2)
    async with uow() as u:
        # ...and once the clock moves on, the lease has ended and both are due.
        assert await u.outbox.unfinished(older_than_seconds=60, limit=10) == [message_id]
        assert await u.inbox.unprocessed(older_than_seconds=60, limit=10) == [inbox_id]
        assert await u.outbox.claim(message_id, lease_seconds=30) is not None


async def test_an_idempotency_key_expires_by_the_injected_clock(container: Any) -> None:
    clock = MovableClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    uow = PiccoloUnitOfWorkFactory(container.engine(), clock)

    def record(request_hash: str) -> IdempotencyRecord:
        return IdempotencyRecord("cus_1", "k", request_hash, "in_flight", None, None,
                                 clock.at + timedelta(hours=1), "POST /v1/orders")

    async with uow() as u:
        assert await u.idempotency.reserve(record("a" * 64)) is None
        await u.commit()
    async with uow() as u:
        taken = await u.idempotency.reserve(record("b" * 64))
        assert taken is not None and taken.request_hash == "a" * 64
    clock.at += timedelta(hours=2)
    async with uow() as u:
        assert await u.idempotency.reserve(record("b" * 64)) is None  # expired: free again


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
