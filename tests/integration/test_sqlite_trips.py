"""On SQLite a unit of work's writes nobody reads back travel with its next statement or its
COMMIT, in one trip to the connection's thread, and writers queue at the engine's write gate
(adapters/persistence/warm_sqlite.py): the same effects as one statement at a time, with
SQLite's single write lock held only while SQLite works."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest

from adapters.persistence import raw, warm_sqlite
from adapters.persistence.tables import EvidenceRecord, OutboxMessage
from domain.commands import SendNotification
from domain.evidence import EvidenceDraft
from tests.integration.test_message_deliveries import _korean_customer, _shop


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The first statement of every trip made to a connection's thread: for a
    transaction, a write on its own, or a read on its own."""
    made: list[str] = []
    in_thread, read_alone = warm_sqlite._in_thread, aiosqlite.Connection.execute_fetchall

    async def counted(connection: Any, function: Any, *args: Any) -> Any:
        made.append(str(args[1][0][0]).split(" ", 1)[0] if function is warm_sqlite._run_steps
                    else str(args[-1]).split(" ", 1)[0])
        return await in_thread(connection, function, *args)

    async def counted_read(connection: Any, sql: str, *args: Any) -> Any:
        made.append(sql.lstrip().split(" ", 1)[0])
        return await read_alone(connection, sql, *args)

    monkeypatch.setattr(warm_sqlite, "_in_thread", counted)
    monkeypatch.setattr(aiosqlite.Connection, "execute_fetchall", counted_read)
    yield made


def _draft(n: int) -> EvidenceDraft:
    return EvidenceDraft("test", "note", "order:o1", {"n": n}, {"n": n})


async def test_writes_alone_commit_in_one_trip(container: Any, trips: list[str]) -> None:
    async with container.uow()() as u:
        first = await u.messages.outbox.add("TrackEvent", {"n": 1})
        second = await u.messages.outbox.add("TrackEvent", {"n": 2})
        pending = await u.evidence.append(_draft(1))
        assert trips == []  # nothing sent yet, not even BEGIN
        await u.commit()
    assert trips == ["INSERT"]  # BEGIN IMMEDIATE, three INSERTs and the COMMIT
    rows = await OutboxMessage.select(OutboxMessage.id).where(
        OutboxMessage.id.is_in([first, second]))
    assert len(rows) == 2
    # The append was handed out before it had an id; it has the one it got by now.
    assert pending.id > 0
    stored = await EvidenceRecord.select(EvidenceRecord.payload).where(
        EvidenceRecord._meta.primary_key == pending.id).first()
    assert stored is not None and json.loads(stored["payload"]) == {"n": 1}


async def test_a_read_in_the_transaction_sees_the_writes_before_it(
        container: Any, trips: list[str]) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        [claimed] = await u.messages.outbox.claim_batch([message_id], 60)
        await u.commit()
    assert claimed.id == message_id
    assert trips == ["INSERT", "COMMIT"]  # the insert went with the claim


async def test_an_append_gets_its_id_when_asked(container: Any) -> None:
    async with container.uow()() as u:
        pending = await u.evidence.append(_draft(1))
        assert pending.id == 0
        await raw.flush()  # what sealing does first
        assert pending.id > 0
        await u.commit()


async def test_leaving_without_commit_writes_nothing_and_frees_the_lock(
        container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        await u.orders.get("ord_nobody")  # sends the insert: the write lock is taken
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 0
    async with container.uow()() as u:  # would wait at the gate if the lock were kept
        await asyncio.wait_for(u.messages.outbox.add("TrackEvent", {"n": 2}), 5)
        await asyncio.wait_for(u.commit(), 5)


async def test_a_gathered_write_that_fails_fails_the_commit_and_keeps_nothing(
        container: Any) -> None:
    async with container.uow()() as u:
        taken = await u.messages.outbox.add("TrackEvent", {"n": 1})
        await u.commit()
    with pytest.raises(sqlite3.IntegrityError):
        async with container.uow()() as u:
            kept_back = await u.messages.outbox.add("TrackEvent", {"n": 2})
            await raw.later(OutboxMessage.insert(OutboxMessage(  # its key is taken
                id=taken, topic="TrackEvent", payload="{}", status="pending")))
            await u.commit()
    assert await OutboxMessage.count().where(OutboxMessage.id == kept_back) == 0
    async with container.uow()() as u:  # the gate and the lock were left
        await asyncio.wait_for(u.messages.outbox.add("TrackEvent", {"n": 3}), 5)
        await asyncio.wait_for(u.commit(), 5)


async def test_a_writer_waits_at_the_gate_until_the_holder_commits(container: Any) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with container.uow()() as u:
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            await u.orders.get("ord_nobody")  # begun: the gate and SQLite's lock are held
            holding.set()
            await release.wait()
            await u.commit()

    async def write_alone() -> str:
        async with container.uow()() as u:
            message_id = await u.messages.outbox.add("TrackEvent", {"n": 2})
            await u.commit()
        return message_id

    holder = asyncio.create_task(hold())
    await holding.wait()
    writer = asyncio.create_task(write_alone())
    done, _ = await asyncio.wait([writer], timeout=0.3)
    assert not done  # queued behind the holder
    release.set()
    await holder
    message_id = await asyncio.wait_for(writer, 5)
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 1


async def test_a_write_transaction_of_its_own_joins_a_running_one(container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        async with raw.together():  # joins: commits nothing on its own
            await raw.later(OutboxMessage.update({OutboxMessage.attempts: 7}).where(
                OutboxMessage.id == message_id))
    # Left without commit: neither write was kept.
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 0
    async with raw.together():  # on its own: commits at its end
        await raw.later(OutboxMessage.insert(OutboxMessage(
            id="obx_alone", topic="TrackEvent", payload="{}", status="pending")))
    assert await OutboxMessage.count().where(OutboxMessage.id == "obx_alone") == 1


async def test_a_message_is_claimed_with_its_recipient_in_one_trip(
        container: Any, trips: list[str]) -> None:
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)
    trips.clear()

    await container.messaging().send(command, "msg_paid_trips")

    assert [mail.message_id for mail in smtp.sent] == ["msg_paid_trips"]
    # The claim with the recipient, their consents, devices and suppressions (BEGIN
    # IMMEDIATE, the INSERT, the read, COMMIT); then the outcome with its evidence.
    assert trips == ["INSERT", "UPDATE"], trips
