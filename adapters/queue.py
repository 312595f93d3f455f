"""Dramatiq: the Redis broker in production, an in-memory broker with an in-process worker in
embedded mode. Messages name their actor, so this module needs no actor imports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO
from purgatory import SyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from adapters import tracing

log = logging.getLogger("mall.worker")
Cleanup = Callable[[], Coroutine[Any, Any, None]]

QUEUE = "default"
RUN_OUTBOX = "run_outbox_messages"
# Messages queued before batches (one id each) are still delivered, under their own name.
RUN_OUTBOX_ONE = "run_outbox_message"
OUTBOX_BATCH = 100  # ids per broker message: one claim statement for each
PROCESS_INBOX = "process_inbox_message"


class GracefulAsyncIO(AsyncIO):
    """Dramatiq's event loop for async actors, with `startups` run on the loop when it starts
    (open a connection pool) and a graceful stop: work still running on the loop (a
    provider's background callback, say) is cancelled and allowed to clean up (roll back,
    close its connection), then `cleanups` run (close sessions and pools)."""

    def __init__(self, startups: Sequence[Cleanup] = (), cleanups: Sequence[Cleanup] = ()) -> None:
        super().__init__()
        self._startups, self._cleanups = list(startups), list(cleanups)

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        super().before_worker_boot(broker, worker)  # type: ignore[no-untyped-call]  # unannotated hook
        thread = get_event_loop_thread()
        if thread is None:  # AsyncIO's own boot above starts it
            raise RuntimeError("Dramatiq's event loop thread did not start; the worker cannot run")
        for startup in self._startups:
            asyncio.run_coroutine_threadsafe(startup(), thread.loop).result(timeout=30)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        thread = get_event_loop_thread()
        if thread is not None and thread.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._wind_down(), thread.loop)
            try:
                future.result(timeout=10)
            except Exception:  # stopping must go on whatever a clean-up does
                log.warning("background work did not wind down cleanly", exc_info=True)
        super().after_worker_shutdown(broker, worker)  # type: ignore[no-untyped-call]  # unannotated hook

    async def _wind_down(self) -> None:
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for cleanup in self._cleanups:
            await cleanup()


class TracePropagation(dramatiq.Middleware):
    """A task message carries the trace context it was sent in (an option), and its actor
    runs in a span continuing it: the work a request hands to the workers stays in the
    request's trace. The span is attached on the worker thread, whose context the async
    actor's task inherits."""

    def __init__(self) -> None:
        self._running: dict[str, tracing.Attached] = {}

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        headers = tracing.carrier()
        if headers:
            message.options[tracing.TRACE_OPTION] = headers

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        headers = message.options.get(tracing.TRACE_OPTION)
        if headers:
            self._running[message.message_id] = tracing.Attached(
                headers, f"actor {message.actor_name}")

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        attached = self._running.pop(message.message_id, None)
        if attached is not None:
            attached.end(exception)

    after_skip_message = after_process_message


def make_broker(
    redis_url: str | None, heartbeat_timeout_ms: int,
    startups: Sequence[Cleanup] = (), cleanups: Sequence[Cleanup] = (),
) -> dramatiq.Broker:
    if redis_url:
        # A worker that dies mid-job stops heart-beating; after the timeout another worker's
        # maintenance puts its unacknowledged messages back on the queue.
        broker: dramatiq.Broker = RedisBroker(
            url=redis_url, heartbeat_timeout=heartbeat_timeout_ms, maintenance_chance=100_000,
        )
    else:
        broker = StubBroker()
    broker.add_middleware(GracefulAsyncIO(startups, cleanups))
    broker.add_middleware(TracePropagation())
    broker.declare_queue(QUEUE)
    return broker


class DramatiqTaskQueue:
    """The TaskQueue port on a Dramatiq broker, best-effort: the work is already committed in
    the outbox or inbox, so a message the broker does not take is left to the sweep, never
    raised into a request whose transaction stands. An outage is logged once, when it starts,
    and once more when the broker takes messages again."""

    def __init__(self, broker: dramatiq.Broker, retry_after_seconds: float = 5.0) -> None:
        self._broker = broker
        # After a failed hand-off the next ones are skipped for a while, so a broker that
        # hangs (an unreachable host) cannot hold every request for a socket timeout.
        self._breakers = SyncCircuitBreakerFactory(default_threshold=1,
                                                   default_ttl=retry_after_seconds)
        self._down = False

    def _send(self, actor_name: str, *args: str | list[str], delay_ms: int | None = None) -> None:
        message: dramatiq.Message[None] = dramatiq.Message(
            queue_name=QUEUE, actor_name=actor_name, args=args, kwargs={}, options={},
        )
        try:
            with self._breakers.get_breaker("broker"):
                self._broker.enqueue(message, delay=delay_ms)
        except OpenedState:
            return
        except Exception as exc:  # whatever the broker's failure, the work waits in the database
            if not self._down:
                self._down = True
                # Only the error's type: the message's arguments are ids, but a broker error's
                # text may name hosts and users.
                log.warning("the broker did not take a %s message (%s): the work stays in the "
                            "database and the sweep sends it once the broker is back",
                            actor_name, type(exc).__name__)
            return
        if self._down:
            self._down = False
            log.info("the broker takes messages again")

    def dispatch_outbox(self, message_ids: Sequence[str], delay_seconds: float = 0.0) -> None:
        ids = list(message_ids)
        delay_ms = round(delay_seconds * 1000) or None
        for start in range(0, len(ids), OUTBOX_BATCH):
            self._send(RUN_OUTBOX, ids[start:start + OUTBOX_BATCH], delay_ms=delay_ms)

    def dispatch_inbox(self, message_id: str) -> None:
        self._send(PROCESS_INBOX, message_id)
