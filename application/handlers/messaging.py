"""Commands that reach people: customers and sellers, analytics, the operators."""

from __future__ import annotations

from typing import Protocol

from application.ports import (
    Alert,
    AlertSink,
    AnalyticsEvent,
    AnalyticsSink,
    Clock,
    Notification,
    Notifier,
    UnitOfWorkFactory,
)
from application.transactions import commit_result
from domain.commands import RaiseAlert, SendNotification, TrackEvent
from domain.customers import Customer
from domain.privacy import pseudonym


class LinkMinter(Protocol):
    def mint(self, purpose: str, customer: Customer) -> dict[str, str]: ...


async def send_notification(command: SendNotification, uow: UnitOfWorkFactory,
                            notifier: Notifier, links: LinkMinter) -> None:
    params = command.params
    if command.audience == "seller":
        recipient = owner = f"seller:{command.seller_id}"
    else:
        async with uow(read_only=True) as unit:
            customer = await unit.customers.get(command.customer_id)
        if customer is None:
            return  # the customer was erased; there is nobody to tell
        recipient, owner = customer.email, customer.id
        if command.mint:
            # Links are minted now, at sending, so no live token waits in a table.
            params = {**params, **links.mint(command.mint, customer)}
    await notifier.send(Notification("email", recipient, command.template, params))
    async with uow() as unit:
        await unit.messages.notifications.log(owner, "email", command.template,
                                              str(params.get("order_id", "")))
        await commit_result(unit)


async def track_event(command: TrackEvent, analytics: AnalyticsSink, clock: Clock,
                      pseudonym_key: bytes, message_id: str) -> None:
    await analytics.track(AnalyticsEvent(
        message_id=message_id,  # stable across retries: the sink dedupes on it
        name=command.name,
        anonymous_id=pseudonym(command.customer_id, pseudonym_key, purpose="analytics"),
        occurred_at=clock.now(),
        properties={k: (pseudonym(str(v), pseudonym_key, purpose="analytics")
                        if k == "order_ref" else v)
                    for k, v in command.properties.items()},
    ))


async def raise_alert(command: RaiseAlert, alerts: AlertSink) -> None:
    await alerts.alert(Alert(command.severity, command.source, command.summary,
                             command.detail))
