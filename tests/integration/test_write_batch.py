"""A transaction's writes nobody reads back before commit travel together on PostgreSQL
(adapters/persistence/raw.py): one statement, sent before the transaction's next statement
or its commit, with the same effects as one statement each."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from adapters.persistence import raw
from adapters.persistence.tables import EvidenceRecord, Operation, OutboxMessage
from domain.evidence import EvidenceDraft
from domain.operations import Operation as OperationModel
from tests.sql_statements import count_statements

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine_name() -> str:
    return "postgres"


def _draft(n: int) -> EvidenceDraft:
    return EvidenceDraft("test", "note", "order:o1", {"n": n}, {"n": n})


async def test_writes_go_as_one_statement_with_the_commit(container: Any) -> None:
    async with container.uow()() as u:
        with count_statements() as seen:
            first = await u.messages.outbox.add("TrackEvent", {"n": 1})
            second = await u.messages.outbox.add("TrackEvent", {"n": 2})
            pending = await u.evidence.append(_draft(1))
            assert seen.count == 0  # nothing sent yet
            await u.commit()
    assert seen.count == 1 and seen.texts == ["WITH"]
    rows = await OutboxMessage.select(OutboxMessage.id).where(
        OutboxMessage.id.is_in([first, second]))
    assert len(rows) == 2
    # The append was handed out before it had an id; it has the one it got by now.
    assert pending.id > 0
    stored = await EvidenceRecord.select(EvidenceRecord.payload).where(
        EvidenceRecord._meta.primary_key == pending.id).first()
    assert stored is not None and stored["payload"] == '{"n": 1}'


async def test_a_read_in_the_transaction_sees_the_writes_before_it(container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        [claimed] = await u.messages.outbox.claim_batch([message_id], 60)
        await u.commit()
    assert claimed.id == message_id


async def test_writes_of_a_transaction_rolled_back_are_not_sent(container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        await u.evidence.append(_draft(1))
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 0
    assert await EvidenceRecord.count() == 0


async def test_two_changes_to_one_row_both_apply_in_order(container: Any) -> None:
    operation = OperationModel("op_1", "cus_1", "payment", "payment:pay_1", NOW)
    async with container.uow()() as u:
        await u.operations.add(operation)  # the INSERT and the UPDATEs change one row
        operation.progress("first", NOW)
        await u.operations.save(operation)
        operation.progress("second", NOW)
        await u.operations.save(operation)
        await u.commit()
    row = await Operation.select(Operation.message).where(Operation.id == "op_1").first()
    assert row is not None and row["message"] == "second"


async def test_a_task_started_in_the_transaction_does_not_join_its_batch(
        container: Any) -> None:
    async def elsewhere() -> None:
        async with container.uow()(autocommit=True) as other:
            await other.messages.outbox.add("TrackEvent", {"n": "elsewhere"})

    async with container.uow()() as u:
        await u.messages.outbox.add("TrackEvent", {"n": 1})
        with count_statements() as seen:
            # A copy of this context, as a task spawned here gets: its write is its own.
            await asyncio.create_task(elsewhere(), context=contextvars.copy_context())
        assert seen.count == 1  # sent at once, not left in this transaction's batch
        await u.commit()
    assert await OutboxMessage.count() == 2


async def _control_statements(work: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """BEGIN, COMMIT and ROLLBACK sent while `work` runs (asyncpg sends them as text)."""
    sent: list[str] = []
    execute = asyncpg.Connection.execute

    async def recording(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        word = query.split(None, 1)[0].rstrip(";").upper() if query.strip() else ""
        if word in ("BEGIN", "COMMIT", "ROLLBACK"):
            sent.append(word)
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "execute", recording)
    await work()
    monkeypatch.undo()
    return sent


async def test_a_unit_that_only_wrote_commits_as_one_statement_without_begin(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def place() -> None:
        async with container.uow()() as u:
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            await u.evidence.append(_draft(1))
            await u.commit()

    with count_statements() as seen:
        assert await _control_statements(place, monkeypatch) == []
    assert seen.count == 1
    assert await OutboxMessage.count() == 1 and await EvidenceRecord.count() == 1


async def test_a_unit_that_reads_begins_before_its_first_read(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def read_then_write() -> None:
        async with container.uow()() as u:
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            assert await u.operations.get("op_none") is None
            await u.evidence.append(_draft(1))
            await u.commit()

    assert await _control_statements(read_then_write, monkeypatch) == ["BEGIN", "COMMIT"]
    assert await OutboxMessage.count() == 1 and await EvidenceRecord.count() == 1


async def test_plain_reads_before_anything_else_leave_the_transaction_unbegun(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def read_then_write() -> None:
        async with container.uow()() as u:
            assert await u.operations.get("op_none") is None  # piccolo's SELECT
            assert await u.messages.deliveries.get("msg_none") is None
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            await u.evidence.append(_draft(1))
            await u.commit()

    with count_statements() as seen:
        assert await _control_statements(read_then_write, monkeypatch) == []
    # Two reads alone, then both writes as one statement, atomic on its own.
    assert seen.count == 3
    assert await OutboxMessage.count() == 1 and await EvidenceRecord.count() == 1


async def test_a_row_lock_begins_the_transaction_and_holds_until_commit(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def read_then_lock() -> None:
        async with container.uow()() as u:
            assert await u.operations.get("op_none") is None
            await u.orders.lock("ord_none")
            held.set()
            await release.wait()
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            await u.commit()

    async def watch() -> None:
        await held.wait()
        # The lock's transaction is open: its write is not visible before COMMIT.
        assert await OutboxMessage.count() == 0
        release.set()

    control: list[str] = []

    async def both() -> None:
        await asyncio.gather(read_then_lock(), watch())

    control = await _control_statements(both, monkeypatch)
    assert control == ["BEGIN", "COMMIT"]
    assert await OutboxMessage.count() == 1


async def test_a_read_after_a_write_waits_for_it_in_the_transaction(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def write_then_read() -> None:
        async with container.uow()() as u:
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            assert await u.messages.outbox.unfinished(older_than_seconds=-60, limit=5)
            await u.commit()

    assert await _control_statements(write_then_read, monkeypatch) == ["BEGIN", "COMMIT"]


@pytest.mark.parametrize(("sql", "plain"), [
    ('SELECT ALL "orders"."id" FROM "orders" WHERE "orders"."id" = $1', True),
    ("  select count(*) from payment", True),
    ('SELECT ALL "orders"."id" FROM "orders" WHERE id = $1 FOR UPDATE', False),
    ("SELECT id FROM orders WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED", False),
    ("SELECT id FROM orders FOR SHARE", False),
    ("SELECT pg_notify($1, $2)", False),
    ("SELECT nextval('evidence_record_id_seq')", False),
    ("WITH w0 AS (INSERT INTO outbox_message VALUES ($1)) SELECT 1", False),
    ("INSERT INTO inbox_message (id) VALUES ($1) RETURNING id", False),
    ("UPDATE outbox_message SET status = 'done' WHERE id = $1", False),
])
def test_what_counts_as_a_plain_read(sql: str, plain: bool) -> None:
    assert raw.plain_read(sql) is plain
