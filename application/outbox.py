"""The outbox relay: performs each stored piece of work once, with retries and a sweep."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from application.payments import PaymentService
from application.ports import (
    Alert,
    AlertSink,
    AnalyticsEvent,
    AnalyticsSink,
    Clock,
    Notification,
    Notifier,
    OutboxMessage,
    TaskQueue,
    UnitOfWorkFactory,
)
from application.shipping import Fulfilment
from domain.customers import Customer
from domain.errors import ProviderUnavailable
from domain.privacy import pseudonym

log = logging.getLogger("mall.outbox")

Handler = Callable[[OutboxMessage], Awaitable[None]]


class LinkMinter(Protocol):
    def mint(self, purpose: str, customer: Customer) -> dict[str, str]: ...


class OutboxRelay:
    """Runs outbox messages by topic. Handlers must be idempotent: a message can run twice."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: TaskQueue,
        clock: Clock,
        payments: PaymentService,
        fulfilment: Fulfilment,
        notifier: Notifier,
        analytics: AnalyticsSink,
        alerts: AlertSink,
        pseudonym_key: bytes,
        max_attempts: int,
        lease_seconds: float,
        links: LinkMinter | None = None,
    ) -> None:
        self._links = links
        self._uow, self._queue, self._clock = uow, queue, clock
        self._notifier, self._analytics, self._alerts = notifier, analytics, alerts
        self._payments = payments
        self._key, self._max_attempts, self._lease = pseudonym_key, max_attempts, lease_seconds
        self._handlers: dict[str, Handler] = {
            "payment.authorize": lambda m: payments.authorize(
                m.payload["payment_id"], m.payload["operation_id"], m.payload["method_token"]),
            "payment.capture": lambda m: payments.capture(m.payload["payment_id"]),
            "payment.void": lambda m: payments.void(m.payload["payment_id"],
                                                    m.payload.get("reason", "")),
            "payment.refund": lambda m: payments.refund(
                m.payload["payment_id"], m.payload["refund_id"], m.payload["amount"],
                m.payload.get("reason", "")),
            "shipment.create": lambda m: fulfilment.create_shipment(m.payload["shipment_id"]),
            "notify": self._notify,
            "analytics": self._track,
            "alert": self._alert,
        }

    async def run(self, message_id: str) -> bool:
        """Perform one message; True when it is done (now or before). Raises to be retried."""
        async with self._uow() as uow:
            message = await uow.outbox.claim(message_id, self._lease)
            await uow.commit()
        if message is None:
            return True
        try:
            await self._handlers[message.topic](message)
        except Exception as exc:
            dead = message.attempts + 1 >= self._max_attempts
            if dead:
                try:
                    # Settle the consequences (fail the payment, alert) before the message is
                    # marked dead: if this fails too, the message stays to be tried again.
                    await self._on_dead(message.topic, message.payload, exc)
                except Exception:
                    dead = False
            async with self._uow() as uow:
                await uow.outbox.release(message_id, f"{type(exc).__name__}: {exc}", dead)
                if dead:
                    await uow.incidents.open(
                        "job_failed", f"outbox:{message_id}",
                        {"topic": message.topic, "error": type(exc).__name__},
                    )
                await uow.commit()
            if dead:
                return True
            raise
        async with self._uow() as uow:
            await uow.outbox.complete(message_id)
            await uow.commit()
        return True

    async def _on_dead(self, topic: str, payload: dict[str, Any], exc: Exception) -> None:
        log.error("outbox message on %s gave up after %d attempts: %s",
                  topic, self._max_attempts, type(exc).__name__)
        if topic == "payment.authorize":
            await self._payments.give_up(payload["payment_id"], type(exc).__name__)
        elif topic == "payment.refund":
            if isinstance(exc, ProviderUnavailable) and not exc.request_sent:
                # The provider never got it: free the reserved amount for another try.
                await self._payments.refund_failed(payload["payment_id"], payload["refund_id"])
            else:
                # It may have been paid out: the amount stays reserved (a second refund could
                # pay twice) until a human checks with the provider.
                await self._payments.refund_unconfirmed(payload["payment_id"],
                                                        payload["refund_id"])
        await self._alerts.alert(Alert(
            "critical", topic, f"{topic} failed after {self._max_attempts} attempts",
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

    async def _notify(self, message: OutboxMessage) -> None:
        payload = message.payload
        template, params = payload["template"], payload["params"]
        if payload["audience"] == "seller":
            recipient, owner = f"seller:{payload['seller_id']}", f"seller:{payload['seller_id']}"
        else:
            async with self._uow() as uow:
                customer = await uow.customers.get(payload["customer_id"])
            if customer is None:
                return  # the customer was erased; there is nobody to tell
            recipient, owner = customer.email, customer.id
            if payload.get("mint") and self._links is not None:
                # Links are minted now, at sending, so no live token waits in a table.
                params = {**params, **self._links.mint(payload["mint"], customer)}
        await self._notifier.send(Notification("email", recipient, template, params))
        async with self._uow() as uow:
            await uow.notifications.log(owner, "email", template,
                                        str(params.get("order_id", "")))
            await uow.commit()

    async def _track(self, message: OutboxMessage) -> None:
        payload = message.payload
        await self._analytics.track(AnalyticsEvent(
            message_id=message.id,  # stable across retries: the sink dedupes on it
            name=payload["name"],
            anonymous_id=pseudonym(payload["customer_id"], self._key, purpose="analytics"),
            occurred_at=self._clock.now(),
            properties={k: (pseudonym(str(v), self._key, purpose="analytics")
                            if k == "order_ref" else v)
                        for k, v in payload["properties"].items()},
        ))

    async def _alert(self, message: OutboxMessage) -> None:
        payload = message.payload
        await self._alerts.alert(Alert(payload["severity"], payload["source"],
                                       payload["summary"], payload["detail"]))
