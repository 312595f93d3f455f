"""A read-only unit of work opens no transaction: its statements run on their own, it takes
no write lock on SQLite, and it has nothing to commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.persistence.tables import Order
from tests.sql_statements import count_statements


async def test_a_read_only_unit_reads_without_a_transaction(container: Any) -> None:
    engine = Order._meta.db
    async with container.uow()() as writer:
        assert engine.current_transaction.get() is not None
        await writer.customers.get("cus_nobody")
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
