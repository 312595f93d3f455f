"""Reading operations: poll once or follow them until they end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from application.ports import Clock, UnitOfWorkFactory
from domain.errors import NotFound


class OperationsService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, slow_after_seconds: float,
        update_every_seconds: float, poll_seconds: float = 0.25,
    ) -> None:
        self._uow, self._clock = uow, clock
        self._slow_after, self._every, self._poll = (
            slow_after_seconds, update_every_seconds, poll_seconds)

    async def get(self, customer_id: str, operation_id: str) -> dict[str, Any]:
        async with self._uow(read_only=True) as uow:
            operation = await uow.operations.get(operation_id)
        if operation is None or operation.customer_id != customer_id:
            raise NotFound(f"operation {operation_id} not found")
        return operation.view(self._clock.now(), self._slow_after)

    async def follow(self, customer_id: str,
                     operation_id: str) -> AsyncGenerator[dict[str, Any], None]:
        """Yield the view on every change, and at least every `update_every_seconds` once the
        operation is slow, until it succeeds or fails; a stream the client leaves is closed
        with `aclose()`."""
        loop = asyncio.get_running_loop()
        last: tuple[Any, ...] | None = None
        last_sent = loop.time()
        while True:
            view = await self.get(customer_id, operation_id)
            key = (view["status"], view["message"], view["still_processing"])
            due = view["still_processing"] and loop.time() - last_sent >= self._every
            if key != last or due:
                yield view
                last, last_sent = key, loop.time()
            if view["status"] in ("succeeded", "failed"):
                return
            await asyncio.sleep(self._poll)
