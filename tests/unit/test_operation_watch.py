"""Waiting on an operation in one process: a change committed on any thread wakes the waiters
of that operation, and only them; without a change the wait ends when its time is up."""

from __future__ import annotations

import asyncio
import threading

from adapters.operation_watch import LocalOperationWatch


async def test_a_change_from_another_thread_wakes_the_waiters_of_that_operation() -> None:
    watch = LocalOperationWatch()
    first = asyncio.create_task(watch.wait("op_1", 30))
    second = asyncio.create_task(watch.wait("op_1", 30))
    other = asyncio.create_task(watch.wait("op_2", 0.05))
    await asyncio.sleep(0)  # all three are waiting
    worker = threading.Thread(target=watch.changed, args=(["op_1"],))
    worker.start()
    assert await asyncio.wait_for(asyncio.gather(first, second), 10) == [True, True]
    worker.join()
    assert await other is False


async def test_without_a_change_the_wait_ends_when_its_time_is_up() -> None:
    watch = LocalOperationWatch()
    assert await watch.wait("op_1", 0.01) is False
    watch.changed(["op_1"])  # nobody waits: nothing is kept for later
    assert await watch.wait("op_1", 0.01) is False
