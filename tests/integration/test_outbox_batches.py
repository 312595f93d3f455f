"""Batches of outbox messages on SQLite and PostgreSQL: one statement claims them, and a
message ends in the same transaction as its handler's result."""

from __future__ import annotations

from typing import Any

from adapters.persistence.tables import NotificationLog, OutboxMessage
from application.transactions import commit_and_dispatch, send
from domain.commands import SendNotification, TrackEvent
from tests.sql_statements import count_statements


async def _statuses(*message_ids: str) -> list[str]:
    rows = await OutboxMessage.select(OutboxMessage.id, OutboxMessage.status).where(
        OutboxMessage.id.is_in(list(message_ids)))
    found = {row["id"]: row["status"] for row in rows}
    return [found[message_id] for message_id in message_ids]


async def test_one_statement_claims_a_batch_in_the_order_asked(container: Any) -> None:
    async with container.uow()() as uow:
        ids = [await send(uow, TrackEvent("c", f"e{n}")) for n in range(5)]
        await uow.commit()
    first, done, held, *rest = ids
    async with container.uow()() as uow:
        await uow.messages.outbox.complete(done)
        assert await uow.messages.outbox.claim(held, 600) is not None
        await uow.commit()
    async with container.uow()() as uow:
        with count_statements() as statements:
            claimed = await uow.messages.outbox.claim_batch(list(reversed(ids)), 30)
        await uow.commit()
    assert [m.id for m in claimed] == [*reversed(rest), first]
    assert [m.payload["name"] for m in claimed] == ["e4", "e3", "e0"]
    assert statements.count == 1
    assert await _statuses(*ids) == ["processing", "done", "processing", "processing",
                                     "processing"]
    async with container.uow()() as uow:
        assert await uow.messages.outbox.claim_batch(ids, 30) == []  # all taken or done
        assert await uow.messages.outbox.claim_batch([], 30) == []


async def test_a_message_ends_in_the_transaction_that_logs_its_notification(
        container: Any) -> None:
    async with container.uow()() as uow:
        message_id = await send(uow, SendNotification("hello", audience="seller",
                                                      seller_id="s1"))
        await commit_and_dispatch(uow, container.queue())
    assert await container.outbox().run_batch([message_id]) == 1
    assert await _statuses(message_id) == ["done"]
    [logged] = await NotificationLog.select().where(
        NotificationLog.owner == "seller:s1")
    assert logged["template"] == "hello"
