"""A read-only unit of work opens no transaction: its statements run on their own, it takes
no write lock on SQLite, and it has nothing to commit."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.persistence.tables import Order
from domain.customers import Customer
from tests.sql_statements import count_statements

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def test_a_read_only_unit_reads_without_a_transaction(container: Any) -> None:
    engine = Order._meta.db
    async with container.uow()() as writer:
        await writer.orders.lock("ord_nobody")
        # begun by the row lock (on PostgreSQL it waits for a statement that needs it)
        assert engine.current_transaction.get() is not None
    with count_statements() as statements:
        async with container.uow()(read_only=True) as reader:
            assert engine.current_transaction.get() is None
            assert await reader.customers.get("cus_nobody") is None
            with pytest.raises(RuntimeError, match="nothing to commit"):
                await reader.commit()
    assert statements.count == 1


async def test_a_read_only_unit_does_not_wait_for_a_writer(container: Any) -> None:
    # On SQLite a writer holds the only write lock until it ends: a reader must not queue.
    holding, done = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with container.uow()() as writer:
            await writer.customers.get("cus_nobody")
            holding.set()
            await done.wait()

    writing = asyncio.create_task(write())
    await holding.wait()
    try:
        async with container.uow()(read_only=True) as reader:
            assert await asyncio.wait_for(reader.orders.get("ord_nobody"), 5) is None
    finally:
        done.set()
        await writing


async def test_a_snapshot_sees_one_moment_and_lets_writers_on(container: Any) -> None:
    async with container.uow()() as writer:
        await writer.customers.add(Customer("cus_s", "s@example.com", "", created_at=AT))
        await writer.commit()
    async with container.uow()(snapshot=True) as reader:
        before = await reader.customers.get("cus_s")

        async def verify_meanwhile() -> None:
            async with container.uow()() as writer:
                await writer.customers.set_identity_verified("cus_s", True)
                await writer.commit()

        # A writer is not held up by the snapshot (SQLite: no write lock taken)...
        # (in a context of its own, as another request would be: not inside the snapshot)
        await asyncio.wait_for(asyncio.create_task(verify_meanwhile(),
                                                   context=contextvars.Context()), 10)
        after = await reader.customers.get("cus_s")
        with pytest.raises(RuntimeError, match="nothing to commit"):
            await reader.commit()
    # ...and the snapshot's second read saw the moment of its first.
    assert before is not None and after is not None
    assert (before.identity_verified, after.identity_verified) == (False, False)
    async with container.uow()(read_only=True) as reader:
        now = await reader.customers.get("cus_s")
    assert now is not None and now.identity_verified
