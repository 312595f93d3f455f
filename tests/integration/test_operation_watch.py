"""A payment's customer waits on its operation without polling: the commit that changes the
operation wakes the waiter, in this process on both engines and, on PostgreSQL, in every
other process through NOTIFY."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from adapters.operation_watch import PostgresOperationWatch
from domain.operations import Operation

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def _progress_later(container: Any, operation_id: str, commit: bool = True) -> None:
    await asyncio.sleep(0.05)
    async with container.uow()() as uow:
        operation = await uow.operations.get(operation_id)
        assert operation is not None
        operation.progress("the bank is answering", AT)
        await uow.operations.save(operation)
        if commit:
            await uow.commit()


async def _new_operation(container: Any) -> str:
    async with container.uow()() as uow:
        await uow.operations.add(Operation("op_w", "cus_w", "payment", "payment:pay_w", AT))
        await uow.commit()
    return "op_w"


async def test_the_commit_of_a_change_wakes_the_waiter(container: Any) -> None:
    operation_id = await _new_operation(container)
    watch = container.operation_watch()
    change = asyncio.create_task(_progress_later(container, operation_id))
    assert await watch.wait(operation_id, 30) is True
    await change


async def test_a_change_rolled_back_wakes_nobody(container: Any) -> None:
    operation_id = await _new_operation(container)
    change = asyncio.create_task(_progress_later(container, operation_id, commit=False))
    assert await container.operation_watch().wait(operation_id, 0.5) is False
    await change


async def test_another_process_hears_the_change_through_notify(
        container: Any, engine_name: str) -> None:
    if engine_name != "postgres":
        return  # one process only on SQLite: nothing to hear from elsewhere
    operation_id = await _new_operation(container)
    # A watch of its own, as another process has: only PostgreSQL can wake it.
    elsewhere = PostgresOperationWatch(container.config.database_url())
    try:
        assert await elsewhere.wait("op_warmup", 0.01) is False  # LISTEN is on
        change = asyncio.create_task(_progress_later(container, operation_id))
        assert await elsewhere.wait(operation_id, 30) is True
        await change
    finally:
        await elsewhere.close()
