"""The outbox relay: delivers each stored command to the bus once, with retries and a sweep."""

from __future__ import annotations

import logging

from application.bus import MessageBus
from application.ports import Alert, AlertSink, TaskQueue, UnitOfWorkFactory
from domain.commands import Command, deserialize

log = logging.getLogger("mall.outbox")


class OutboxRelay:
    """Performs each stored command once, through the bus, with retries and a sweep.
    Handlers must be idempotent: a message can run twice."""

    def __init__(self, uow: UnitOfWorkFactory, queue: TaskQueue, bus: MessageBus,
                 alerts: AlertSink, max_attempts: int, lease_seconds: float) -> None:
        self._uow, self._queue, self._bus, self._alerts = uow, queue, bus, alerts
        self._max_attempts, self._lease = max_attempts, lease_seconds

    async def run(self, message_id: str) -> bool:
        """Perform one message; True when it is done (now or before). Raises to be retried."""
        async with self._uow() as uow:
            message = await uow.outbox.claim(message_id, self._lease)
            await uow.commit()
        if message is None:
            return True
        command: Command | None = None
        try:
            # Inside the try: a row the bus cannot read (a command renamed away) is retried
            # and then set aside like any other failure, never retried forever.
            command = deserialize(message.topic, message.payload)
            await self._bus.handle(command, message_id=message.id)
        except Exception as exc:
            dead = message.attempts + 1 >= self._max_attempts
            if dead:
                try:
                    # Settle the consequences (fail the payment, alert) before the message is
                    # marked dead: if this fails too, the message stays to be tried again.
                    await self._give_up(command, exc, message.topic)
                except Exception:
                    dead = False
            async with self._uow() as uow:
                await uow.outbox.release(message_id, f"{type(exc).__name__}: {exc}", dead)
                if dead:
                    await uow.incidents.open(
                        "job_failed", f"outbox:{message_id}",
                        {"command": message.topic, "error": type(exc).__name__},
                    )
                await uow.commit()
            if dead:
                return True
            raise
        async with self._uow() as uow:
            await uow.outbox.complete(message_id)
            await uow.commit()
        return True

    async def _give_up(self, command: Command | None, exc: Exception, stored_as: str) -> None:
        name = type(command).__name__ if command is not None else stored_as
        log.error("%s gave up after %d attempts: %s", name, self._max_attempts,
                  type(exc).__name__)
        if command is not None:
            await self._bus.given_up(command, exc)
        await self._alerts.alert(Alert(
            "critical", name, f"{name} failed after {self._max_attempts} attempts",
            {"error": type(exc).__name__},
        ))

    async def sweep(self, older_than_seconds: float, limit: int = 500) -> int:
        """Re-send work nobody finished (a lost broker message, a worker that died)."""
        async with self._uow() as uow:
            stale = await uow.outbox.unfinished(older_than_seconds, limit)
            inbox = await uow.inbox.unprocessed(older_than_seconds, limit)
        if stale:
            self._queue.dispatch_outbox(stale)
        for inbox_id in inbox:
            self._queue.dispatch_inbox(inbox_id)
        return len(stale) + len(inbox)
