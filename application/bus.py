"""The message bus: the one place that decides what happens next.

One registry maps each command to exactly one handler and each domain event to its handlers.
Handlers are plain functions; a command handler names its dependencies as parameters and
the bus hands them over by name (bootstrap builds the bus with them). Event handlers run in
the transaction that raised the event (`publish`) and take the unit of work.

Adding behaviour is one function in `application/handlers/` and one line here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from application import parcel_tracking
from application.handlers import (
    alerts,
    delivery_incidents,
    fulfilment,
    messaging,
    payments,
    policies,
)
from application.ports import UnitOfWork
from domain import commands as c
from domain import events as ev

Handler = Callable[..., Awaitable[None]]

COMMAND_HANDLERS: dict[type[c.Command], Handler] = {
    c.AuthorizePayment: payments.authorize_payment,
    c.CapturePayment: payments.capture_payment,
    c.VoidPayment: payments.void_payment,
    c.RefundPayment: payments.refund_payment,
    c.CreateShipment: fulfilment.create_shipment,
    c.ApplyProviderEvent: fulfilment.apply_provider_event,
    c.FollowParcel: parcel_tracking.follow_parcel,
    c.SendNotification: messaging.send_notification,
    c.TrackEvent: messaging.track_event,
    c.RaiseAlert: messaging.raise_alert,
    c.UpdateAlert: alerts.update_alert,
}

# What is settled when a command's retries run out (besides the incident and the alert).
GIVEN_UP_HANDLERS: dict[type[c.Command], Handler] = {
    c.AuthorizePayment: payments.authorization_given_up,
    c.RefundPayment: payments.refund_given_up,
    c.SendNotification: messaging.notification_given_up,
}

EVENT_HANDLERS: dict[type[ev.Event], list[Callable[[Any, UnitOfWork], Awaitable[None]]]] = {
    ev.CustomerRegistered: [policies.customer_registered],
    ev.OrderPlaced: [policies.order_placed],
    ev.OrderHeld: [policies.order_held],
    ev.OrderPaid: [policies.order_paid, policies.request_shipments],
    ev.PaymentFailed: [policies.payment_failed],
    ev.PaymentAwaitingDeposit: [policies.payment_awaiting_deposit],
    ev.ShipmentStatusChanged: [policies.shipment_status_changed,
                               delivery_incidents.parcel_delivered],
    ev.DeliveryExceptionRaised: [policies.delivery_exception_raised],
    ev.OrderDelivered: [policies.order_delivered],
    ev.PaymentRefunded: [policies.payment_refunded],
    ev.DisputeOpened: [policies.dispute_opened],
    ev.DisputeClosed: [policies.dispute_closed],
    ev.OrderCancelled: [policies.order_cancelled],
}


async def publish(uow: UnitOfWork, events: Iterable[ev.Event]) -> None:
    """Run every handler of every event inside `uow`'s transaction, in order."""
    for event in events:
        for handler in EVENT_HANDLERS.get(type(event), ()):
            await handler(event, uow)


# Parameters the bus fills per message rather than from the dependencies.
_PER_MESSAGE = frozenset({"error", "message_id"})


def _bind(handler: Handler, dependencies: Mapping[str, Any]) -> tuple[Handler, frozenset[str]]:
    """The handler with its dependencies filled in (a partial: no frame of its own on the way
    to the work), and the per-message parameters it takes."""
    names = list(inspect.signature(handler).parameters)[1:]
    missing = [n for n in names if n not in dependencies and n not in _PER_MESSAGE]
    if missing:
        raise TypeError(f"{handler.__qualname__} needs {', '.join(missing)}, which the bus "
                        "was not given")
    bound = {n: dependencies[n] for n in names if n in dependencies}
    return functools.partial(handler, **bound), _PER_MESSAGE.intersection(names)


class MessageBus:
    """Delivers each command to its one handler, with the dependencies it names."""

    def __init__(self, dependencies: Mapping[str, Any]) -> None:
        self._handlers = {kind: _bind(h, dependencies) for kind, h in COMMAND_HANDLERS.items()}
        self._given_up = {kind: _bind(h, dependencies)
                          for kind, h in GIVEN_UP_HANDLERS.items()}

    async def handle(self, command: c.Command, *, message_id: str = "") -> None:
        found = self._handlers.get(type(command))
        if found is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        handler, wanted = found
        await handler(command, **({"message_id": message_id} if "message_id" in wanted else {}))

    async def given_up(self, command: c.Command, error: Exception,
                       message_id: str = "") -> None:
        """Settle what must be settled once `command` will never be done."""
        found = self._given_up.get(type(command))
        if found is not None:
            handler, wanted = found
            given = {"error": error, "message_id": message_id}
            await handler(command, **{name: given[name] for name in wanted})
