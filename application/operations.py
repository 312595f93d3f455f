"""Reading operations: once, or following them until they end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from application.ports import Clock, OperationWatch, UnitOfWorkFactory
from domain.errors import NotFound


class OperationsService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, watch: OperationWatch,
        slow_after_seconds: float, update_every_seconds: float, recheck_seconds: float = 1.0,
    ) -> None:
        self._uow, self._clock, self._watch = uow, clock, watch
        # Changes wake the stream at once; time alone (the slow threshold, the next update
        # due) is noticed within `recheck_seconds`.
        self._slow_after, self._every = slow_after_seconds, update_every_seconds
        self._recheck = min(recheck_seconds, update_every_seconds)

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
            await self._watch.wait(operation_id, self._recheck)
