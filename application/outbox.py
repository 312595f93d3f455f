"""The outbox relay: delivers each stored command to the bus once, with retries and a sweep."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from application.bus import MessageBus
from application.ports import Alert, AlertSink, OutboxMessage, TaskQueue, UnitOfWorkFactory
from application.transactions import performing
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
        await self.run_batch([message_id])
        return True

    async def run_batch(self, message_ids: Sequence[str]) -> int:
        """Claim the messages in one statement and perform each; how many were claimed.
        Messages done before or held by another worker are skipped. When one fails and will
        be tried again, the others are still performed and the failure is raised at the end,
        so the batch is retried for what is left."""
        async with self._uow(autocommit=True) as uow:
            claimed = await uow.messages.outbox.claim_batch(list(message_ids), self._lease)
        retry: Exception | None = None
        unended: list[str] = []
        try:
            for message in claimed:
                try:
                    if not await self._perform(message):
                        unended.append(message.id)
                except Exception as exc:
                    retry = retry or exc
        finally:
            if unended:
                # Handlers that committed nothing of their own (an alert, an analytics call)
                # are ended together, in one statement.
                async with self._uow(autocommit=True) as uow:
                    await uow.messages.outbox.complete(*unended)
        if retry is not None:
            raise retry
        return len(claimed)

    async def _perform(self, message: OutboxMessage) -> bool:
        """Hand the message to the bus; True once it has ended (done in the handler's own
        commit, or set aside), False when the handler committed nothing of its own."""
        command: Command | None = None
        try:
            # Inside the try: a row the bus cannot read (a command renamed away) is retried
            # and then set aside like any other failure, never retried forever.
            command = deserialize(message.topic, message.payload)
            with performing(message.id) as in_hand:
                await self._bus.handle(command, message_id=message.id)
        except Exception as exc:
            if not await self._fail(message, command, exc):
                raise
            return True
        return in_hand.completed

    async def _fail(self, message: OutboxMessage, command: Command | None,
                    exc: Exception) -> bool:
        """Record a failed attempt; True when the message is set aside for good."""
        dead = message.attempts + 1 >= self._max_attempts
        if dead:
            try:
                # Settle the consequences (fail the payment, alert) before the message is
                # marked dead: if this fails too, the message stays to be tried again.
                await self._give_up(command, exc, message.topic, message.id)
            except Exception:
                dead = False
        async with self._uow(autocommit=not dead) as uow:  # dead: an incident with it
            await uow.messages.outbox.release(message.id, f"{type(exc).__name__}: {exc}", dead)
            if dead:
                await uow.incidents.open(
                    "job_failed", f"outbox:{message.id}",
                    {"command": message.topic, "error": type(exc).__name__},
                )
            await uow.commit()
        return dead

    async def _give_up(self, command: Command | None, exc: Exception, stored_as: str,
                       message_id: str) -> None:
        name = type(command).__name__ if command is not None else stored_as
        log.error("%s gave up after %d attempts: %s", name, self._max_attempts,
                  type(exc).__name__)
        if command is not None:
            await self._bus.given_up(command, exc, message_id)
        await self._alerts.alert(Alert(
            "critical", name, f"{name} failed after {self._max_attempts} attempts",
            {"error": type(exc).__name__},
        ))

    async def sweep(self, older_than_seconds: float, limit: int = 500) -> int:
        """Re-send work nobody finished (a lost broker message, a worker that died)."""
        async with self._uow(read_only=True) as uow:
            stale = await uow.messages.outbox.unfinished(older_than_seconds, limit)
            inbox = await uow.messages.inbox.unprocessed(older_than_seconds, limit)
        if stale:
            self._queue.dispatch_outbox(stale)
        for inbox_id in inbox:
            self._queue.dispatch_inbox(inbox_id)
        return len(stale) + len(inbox)
