"""The outbox relay: delivers each stored command to the bus once, with retries and a sweep."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from application.bus import MessageBus
from application.ports import Alert, AlertSink, OutboxMessage, TaskQueue, UnitOfWorkFactory
from application.transactions import MessageInHand, performing
from domain.commands import Command, deserialize

log = logging.getLogger("mall.outbox")


# A follow-up held for this worker is run here only in the first part of its lease: the lease
# began at the commit that held it, a little before this worker learned of it.
HELD_RUNS_FOR = 0.8


def _retry_wait(message: OutboxMessage) -> float:
    """Seconds before a failed message is tried again: as the broker's own retries wait
    (entrypoints/actors.py), from a second, doubling, at most a minute."""
    return float(min(2 ** message.attempts, 60))


class OutboxRelay:
    """Performs each stored command once, through the bus, with retries and a sweep.
    Handlers must be idempotent: a message can run twice."""

    def __init__(self, uow: UnitOfWorkFactory, queue: TaskQueue, bus: MessageBus,
                 alerts: AlertSink, max_attempts: int, lease_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._uow, self._queue, self._bus, self._alerts = uow, queue, bus, alerts
        self._max_attempts, self._lease = max_attempts, lease_seconds
        self._monotonic = monotonic

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
        # The messages the handlers commit for this worker run here next, each claimed in
        # the commit that made it (transactions.commit_and_dispatch), while that claim holds.
        work: list[tuple[OutboxMessage, float | None]] = [(m, None) for m in claimed]
        asked = len(claimed)
        try:
            for index, (message, held_until) in enumerate(work):  # grows with follow-ups
                if held_until is not None and self._monotonic() > held_until:
                    # Its lease is running out: another worker takes it over once it has.
                    self._queue.dispatch_outbox([message.id], self._lease)
                    continue
                try:
                    ended, follow_ups, since, failure = await self._perform(message)
                    if follow_ups:
                        until = (since or 0.0) + self._lease * HELD_RUNS_FOR
                        work.extend((follow_up, until) for follow_up in follow_ups)
                    if not ended:
                        unended.append(message.id)
                except Exception as exc:  # the failure could not even be recorded
                    failure = exc
                if failure is None:
                    continue
                if index < asked:
                    retry = retry or failure
                else:  # not in the broker message retried: handed back with a wait
                    self._queue.dispatch_outbox([message.id], _retry_wait(message))
        finally:
            if unended:
                # Handlers that committed nothing of their own (an alert, an analytics call)
                # are ended together, in one statement.
                async with self._uow(autocommit=True) as uow:
                    await uow.messages.outbox.complete(*unended)
        if retry is not None:
            raise retry
        return len(claimed)

    async def _perform(self, message: OutboxMessage
                       ) -> tuple[bool, list[OutboxMessage], float | None, Exception | None]:
        """Hand the message to the bus: whether it has ended (done in the handler's own
        commit, or set aside; not when the handler committed nothing of its own), the
        messages its handler committed for this worker to run next and when their claim
        began, and the failure it was released with to be tried again, if any."""
        command: Command | None = None
        in_hand = MessageInHand(message.id)
        try:
            # Inside the try: a row the bus cannot read (a command renamed away) is retried
            # and then set aside like any other failure, never retried forever.
            command = deserialize(message.topic, message.payload)
            with performing(message.id, self._lease, self._monotonic) as in_hand:
                await self._bus.handle(command, message_id=message.id)
        except Exception as exc:
            dead = await self._fail(message, command, exc)
            # What it committed before failing is held for this worker all the same.
            return True, in_hand.follow_ups, in_hand.held_since, None if dead else exc
        return in_hand.completed, in_hand.follow_ups, in_hand.held_since, None

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
