"""Ports that tell someone: the task queue to the workers, notifications to customers,
analytics events and alerts to the people on call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from application.ports import Alert, AnalyticsEvent, Notification
from tests.fakes.breakable import Breakable


class FakeTaskQueue:
    """Records what would be handed to the workers; tests run it (Mall.run_outbox), or have
    it run at once in tasks of their own, as the embedded worker does (`work_inline`)."""

    def __init__(self) -> None:
        self.outbox: list[str] = []
        self.waits: dict[str, float] = {}  # message id -> the wait it was handed back with
        self.inbox: list[str] = []
        self.failures: list[BaseException] = []
        self._run: Callable[[str], Awaitable[object]] | None = None

    def work_inline(self, run: Callable[[str], Awaitable[object]]) -> None:
        self._run = run

    async def _work(self, message_id: str, delay_seconds: float = 0.0) -> None:
        assert self._run is not None
        await asyncio.sleep(delay_seconds)
        try:
            await self._run(message_id)
        except Exception as exc:  # a worker logs it and retries later; the test reads it
            self.failures.append(exc)

    def dispatch_outbox(self, message_ids: Sequence[str], delay_seconds: float = 0.0) -> None:
        if delay_seconds:
            self.waits.update(dict.fromkeys(message_ids, delay_seconds))
        if self._run is None:
            self.outbox.extend(message_ids)
            return
        for message_id in message_ids:
            asyncio.get_running_loop().create_task(self._work(message_id, delay_seconds))

    def dispatch_inbox(self, message_id: str) -> None:
        self.inbox.append(message_id)


class FakeNotifier(Breakable):
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self._record(self.sent, notification)

    def templates(self, recipient: str | None = None) -> list[str]:
        return [n.template for n in self.sent if recipient is None or n.recipient == recipient]


class FakeAnalytics:
    def __init__(self) -> None:
        self.events: list[AnalyticsEvent] = []

    async def track(self, event: AnalyticsEvent) -> None:
        self.events.append(event)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events]


class FakeAlerts(Breakable):
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def alert(self, alert: Alert) -> None:
        self._record(self.alerts, alert)
