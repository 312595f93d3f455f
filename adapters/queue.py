"""Dramatiq: the Redis broker in production, an in-memory broker with an in-process worker in
embedded mode. Messages name their actor, so this module needs no actor imports."""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO

QUEUE = "default"
RUN_OUTBOX = "run_outbox_message"
PROCESS_INBOX = "process_inbox_message"


def make_broker(redis_url: str | None, heartbeat_timeout_ms: int) -> dramatiq.Broker:
    if redis_url:
        # A worker that dies mid-job stops heart-beating; after the timeout another worker's
        # maintenance puts its unacknowledged messages back on the queue.
        broker: dramatiq.Broker = RedisBroker(
            url=redis_url, heartbeat_timeout=heartbeat_timeout_ms, maintenance_chance=100_000,
        )
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    broker.declare_queue(QUEUE)
    return broker


class DramatiqTaskQueue:
    """The TaskQueue port on a Dramatiq broker."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def _send(self, actor_name: str, *args: str) -> None:
        self._broker.enqueue(dramatiq.Message(
            queue_name=QUEUE, actor_name=actor_name, args=args, kwargs={}, options={},
        ))

    def dispatch_outbox(self, message_ids: Sequence[str]) -> None:
        for message_id in message_ids:
            self._send(RUN_OUTBOX, message_id)

    def dispatch_inbox(self, message_id: str) -> None:
        self._send(PROCESS_INBOX, message_id)
