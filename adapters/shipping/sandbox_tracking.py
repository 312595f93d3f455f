"""The sandbox carrier's tracking webhooks, planned in the database and sent when due.

Booking a parcel writes its whole journey (`sandbox_parcel_event`); a loop in the web process
sends each event once it is due, in order within its parcel, and marks it sent. A restart
resumes from the first event not marked. Delivery is at least once: an event sent by a process
that died before marking it is sent again, under the same event id (the inbox drops the
repeat); an event never skips one before it that was not delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.persistence import raw
from adapters.persistence.tables import SandboxParcelEvent
from adapters.sandbox_webhooks import SandboxWebhookSender
from application.ports import Clock

log = logging.getLogger("mall.sandbox")

# How long a sender holds an event it is sending: longer than its retries can take (five
# attempts of up to the HTTP timeout, with backoff), so two senders rarely both send it.
LEASE = timedelta(minutes=5)


def plan_each(parcel: str, first: int) -> str:
    """`plan` within a statement, for each row of `parcel` (a CTE giving `tracking_number`),
    with the four arrays of `SandboxTrackingPlan.plan_values` from placeholder `first` on."""
    return ("INSERT INTO sandbox_parcel_event (id, tracking_number, sequence, due_at, event) "  # noqa: S608
            f"SELECT step.id, {parcel}.tracking_number, step.sequence, step.due_at, "
            f"step.event::jsonb FROM {parcel}, unnest(${first}::text[], "
            f"${first + 1}::int[], ${first + 2}::timestamptz[], ${first + 3}::text[]) "
            "AS step (id, sequence, due_at, event) ON CONFLICT DO NOTHING")


def poll_seconds(step_seconds: float) -> float:
    """How often the sender looks for due events: twice a step, between 50 ms and 1 s."""
    return min(1.0, max(0.05, step_seconds / 2))


class SandboxTrackingPlan:
    def __init__(self, webhooks: SandboxWebhookSender, clock: Clock, poll_seconds: float,
                 lease: timedelta = LEASE) -> None:
        self._webhooks, self._clock = webhooks, clock
        self._poll, self._lease = poll_seconds, lease
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _rows(tracking_number: str, events: Sequence[tuple[datetime, dict[str, Any]]]
              ) -> list[SandboxParcelEvent]:
        return [SandboxParcelEvent(
            id=f"{tracking_number}/{sequence}", tracking_number=tracking_number,
            sequence=sequence, due_at=due_at, event=event,
        ) for sequence, (due_at, event) in enumerate(events, start=1)]

    @classmethod
    def plan_values(cls, tracking_number: str,
                    events: Sequence[tuple[datetime, dict[str, Any]]]
                    ) -> tuple[list[str], list[int], list[datetime], list[str]]:
        """The values of `plan_each`: the parcel's events as `plan` keeps them."""
        rows = cls._rows(tracking_number, events)
        return ([row.id for row in rows], [row.sequence for row in rows],
                [row.due_at for row in rows], [json.dumps(row.event) for row in rows])

    async def plan(self, tracking_number: str,
                   events: Sequence[tuple[datetime, dict[str, Any]]]) -> None:
        """Keep the parcel's events, each due at its time; planning a parcel again changes
        nothing (a booking retried after a crash)."""
        rows = self._rows(tracking_number, events)
        if rows:  # sent with the COMMIT of a transaction that gathers (raw.later)
            await raw.later(SandboxParcelEvent.insert(*rows).on_conflict(
                target=SandboxParcelEvent.id, action="DO NOTHING"))

    async def send_due(self) -> int:
        """Send every event that is due, parcel by parcel in sequence order; the number sent.
        A parcel whose event could not be delivered waits for the next round."""
        e = SandboxParcelEvent
        rows = await e.select(e.id, e.tracking_number, e.event).where(
            e.sent_at.is_null() & (e.due_at <= self._clock.now())
        ).order_by(e.tracking_number).order_by(e.sequence).output(load_json=True)
        parcels: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            parcels.setdefault(row["tracking_number"], []).append(row)
        sent = await asyncio.gather(*(self._send_in_order(due) for due in parcels.values()))
        return sum(sent)

    async def _send_in_order(self, due: list[dict[str, Any]]) -> int:
        e = SandboxParcelEvent
        sent = 0
        for row in due:
            if self._stopping.is_set() or not await self._claim(row["id"]):
                break  # stopping, or another sender is on this parcel
            delivered = False
            try:
                delivered = await self._webhooks.deliver(row["event"])
            finally:
                # Marked sent, or let go at once (even when cancelled) for a retry.
                await e.update({
                    e.sent_at: self._clock.now() if delivered else None,
                    e.claimed_until: None,
                }).where(e.id == row["id"])
            if not delivered:
                break  # the next ones wait: an event never overtakes one not delivered
            sent += 1
        return sent

    async def _claim(self, event_id: str) -> bool:
        """Hold the event for this sender; False when it was sent or another sender holds it."""
        e = SandboxParcelEvent
        now = self._clock.now()
        claimed = await e.update({e.claimed_until: now + self._lease}).where(
            (e.id == event_id) & e.sent_at.is_null()
            & (e.claimed_until.is_null() | (e.claimed_until < now))
        ).returning(e.id)
        return bool(claimed)

    async def run(self) -> None:
        """Send due events until stopped; a failed round is logged and the next one tries."""
        while not self._stopping.is_set():
            try:
                await self.send_due()
            except Exception:
                log.warning("sandbox carrier: a round of tracking webhooks failed; the next "
                            "one retries", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll)

    def start(self) -> None:
        self._stopping = asyncio.Event()  # of the loop that runs it
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop after the event being sent is marked (cancelled if that takes too long)."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_seconds)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

