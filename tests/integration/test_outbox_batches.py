"""Batches of outbox messages on SQLite and PostgreSQL: one statement claims them, and a
message ends in the same transaction as its handler's result."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.persistence.repositories.messaging import OutboxRepository
from adapters.persistence.tables import NotificationLog, OutboxMessage
from application.transactions import HELD_AT_MOST, commit_and_dispatch, performing, send
from domain.commands import SendNotification, TrackEvent
from tests.integration.test_message_deliveries import RecordingQueue
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


async def test_a_worker_holds_what_its_handler_commits_in_the_same_commit(
        container: Any, engine_name: str) -> None:
    queue = RecordingQueue()
    with performing("obx_running", hold_seconds=60) as in_hand:
        async with container.uow()() as uow:
            sent = [await send(uow, TrackEvent("c", f"e{n}"))
                    for n in range(HELD_AT_MOST + 2)]
            with count_statements() as statements:
                await commit_and_dispatch(uow, queue)
        async with container.uow()() as uow:  # a later commit of the same handler
            later = await send(uow, TrackEvent("c", "later"))
            await commit_and_dispatch(uow, queue)
    held = sent[:HELD_AT_MOST]
    assert [m.id for m in in_hand.follow_ups] == held
    assert [m.payload["name"] for m in in_hand.follow_ups[:2]] == ["e0", "e1"]
    # The rest go to any worker, as does what a later commit sends once the room is taken.
    assert queue.outbox == [*sent[HELD_AT_MOST:], later]
    assert await _statuses(*sent, later) == ["processing"] * HELD_AT_MOST + ["pending"] * 3
    if engine_name == "postgres":
        assert statements.count == 1  # the inserts, held, are the commit's one statement
    # Held: no other worker's claim takes them while the lease runs.
    async with container.uow()(autocommit=True) as uow:
        assert await uow.messages.outbox.claim_batch(held, 30) == []


async def test_a_message_sent_before_a_read_is_held_by_an_update_in_the_commit(
        container: Any) -> None:
    with performing("obx_running", hold_seconds=60) as in_hand:
        async with container.uow()() as uow:
            message_id = await send(uow, TrackEvent("c", "e"))
            await uow.messages.outbox.unfinished(60, 5)  # sends the insert before it
            await commit_and_dispatch(uow, RecordingQueue())
    assert [m.id for m in in_hand.follow_ups] == [message_id]
    assert await _statuses(message_id) == ["processing"]


async def test_the_relay_runs_the_follow_ups_of_a_message_without_a_claim(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async with container.uow()() as uow:
        first = await send(uow, SendNotification("hello", audience="seller", seller_id="s1"))
        await uow.commit()
    handle = container.bus().handle
    follow_up: list[str] = []

    async def handled(command: Any, *, message_id: str = "") -> None:
        if message_id == first:  # the first one sends another, as a policy would
            async with container.uow()() as uow:
                follow_up.append(await send(uow, SendNotification(
                    "again", audience="seller", seller_id="s1")))
                await commit_and_dispatch(uow, container.queue())
        await handle(command, message_id=message_id)

    container.bus().handle = handled
    claimed: list[list[str]] = []
    claim_batch = OutboxRepository.claim_batch

    async def claiming(self: Any, message_ids: list[str], lease: float) -> Any:
        claimed.append(list(message_ids))
        return await claim_batch(self, message_ids, lease)

    monkeypatch.setattr(OutboxRepository, "claim_batch", claiming)
    assert await container.outbox().run_batch([first]) == 1
    assert await _statuses(first, *follow_up) == ["done", "done"]
    logged = await NotificationLog.select(NotificationLog.template).where(
        NotificationLog.owner == "seller:s1")
    assert sorted(row["template"] for row in logged) == ["again", "hello"]
    assert claimed == [[first]]  # the follow-up was held in its commit: no claim
