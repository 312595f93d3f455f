"""What follows a domain event, decided inside the transaction that raised it: each handler
only writes (rows, evidence, commands for the outbox), so the event and its consequences
commit together or not at all."""

from __future__ import annotations

from application.ports import UnitOfWork
from application.transactions import new_id, open_incident, send
from domain import events as ev
from domain.carriers import KOREAN_CARRIERS
from domain.commands import CreateShipment, RaiseAlert, SendNotification, TrackEvent
from domain.evidence import EvidenceDraft
from domain.shipments import DeliveryProblem, Shipment


async def _notify(uow: UnitOfWork, customer_id: str, template: str, **params: object) -> None:
    await send(uow, SendNotification(template, params, customer_id=customer_id))


async def _track(uow: UnitOfWork, customer_id: str, name: str, **properties: object) -> None:
    await send(uow, TrackEvent(customer_id, name, properties))


async def order_held(event: ev.OrderHeld, uow: UnitOfWork) -> None:
    # The customer hears that a check holds the order (not why: the reasons are the screen's).
    await _notify(uow, event.customer_id, "order_held", order_id=event.order_id)
    await send(uow, RaiseAlert(
        "warning", "fraud-screen", f"order {event.order_id} is held for review (score "
        f"{event.score})", {"order_id": event.order_id, "reasons": list(event.reasons)}))


async def customer_registered(event: ev.CustomerRegistered, uow: UnitOfWork) -> None:
    await _track(uow, event.customer_id, "Signed Up", method="password")


async def order_placed(event: ev.OrderPlaced, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, "order_placed", order_id=event.order_id,
                  amount_minor=event.total_minor, currency=event.currency)
    await _track(uow, event.customer_id, "Order Placed", order_ref=event.order_id,
                 total_minor=event.total_minor, currency=event.currency)


async def order_paid(event: ev.OrderPaid, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, "order_paid", order_id=event.order_id)
    await _track(uow, event.customer_id, "Order Completed", order_ref=event.order_id)


async def request_shipments(event: ev.OrderPaid, uow: UnitOfWork) -> None:
    """One shipment per seller, each booked with the carrier the customer chose; with a
    Korean domestic carrier each seller is asked to hand over its parcels instead (it
    registers them through the seller API, in as many parcels as it sends)."""
    order = await uow.orders.get(event.order_id)
    if order is None or await uow.shipments.of_order(event.order_id):
        return
    for seller_id in order.sellers:
        if order.carrier in KOREAN_CARRIERS:
            await send(uow, SendNotification(
                "ship_order_seller", {"order_id": order.id, "carrier": order.carrier,
                                      "lines": order.unshipped(seller_id, [])},
                audience="seller", seller_id=seller_id))
            continue
        shipment = Shipment(new_id("shp"), event.order_id, seller_id, order.carrier,
                            service=order.service)
        await uow.shipments.add(shipment)
        await send(uow, CreateShipment(shipment.id))


async def payment_failed(event: ev.PaymentFailed, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, "payment_failed", order_id=event.order_id,
                  reason=event.reason)
    await _track(uow, event.customer_id, "Payment Failed", order_ref=event.order_id,
                 reason=event.reason)


# The virtual account's fields, as the awaiting_deposit message names them.
_DEPOSIT_PARAMS = {"bank": "bank", "account_number": "account_number",
                   "holder": "account_holder", "amount": "amount_minor",
                   "currency": "currency", "expires_at": "deadline"}


async def payment_awaiting_deposit(event: ev.PaymentAwaitingDeposit, uow: UnitOfWork) -> None:
    """The customer is told where to transfer how much, and by when."""
    account = next((p.deposit_account for p in reversed(await uow.payments.of_order(
        event.order_id)) if p.deposit_account), None) or {}
    details = {ours: account[theirs] for theirs, ours in _DEPOSIT_PARAMS.items()
               if account.get(theirs) not in (None, "")}
    await _notify(uow, event.customer_id, "awaiting_deposit", order_id=event.order_id,
                  **details)


async def shipment_status_changed(event: ev.ShipmentStatusChanged, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, f"shipment_{event.status}", order_id=event.order_id,
                  shipment_id=event.shipment_id, carrier=event.carrier,
                  tracking_number=event.tracking_number)
    await _track(uow, event.customer_id, "Shipment Updated", order_ref=event.order_id,
                 status=event.status)


async def delivery_exception_raised(event: ev.DeliveryExceptionRaised, uow: UnitOfWork) -> None:
    """A delivery incident: the customer is told what they can do, the seller is asked to
    act, the operators hear of it; its owner and deadline follow from the problem. The same
    problem of the same parcel while its incident is open is not a new incident."""
    problem = DeliveryProblem(event.problem)
    if any(open_.repeats(event.shipment_id, problem)
           for open_ in await uow.incidents.deliveries_of_order(event.order_id)):
        return
    incident = await uow.incidents.open_delivery(
        order_id=event.order_id, shipment_id=event.shipment_id, seller_id=event.seller_id,
        problem=problem, reason=event.reason)
    detail = {"order_id": event.order_id, "shipment_id": event.shipment_id,
              "reason": event.reason, "problem": incident.problem.value}
    await _notify(uow, event.customer_id, "delivery_exception", incident_id=incident.id,
                  options=", ".join(incident.options), **detail)
    await send(uow, SendNotification("delivery_exception_seller",
                                     {"incident_id": incident.id, **detail},
                                     audience="seller", seller_id=event.seller_id))
    await send(uow, RaiseAlert("warning", "logistics",
                               f"delivery exception on order {event.order_id}",
                               {"incident_id": incident.id, "owner": incident.owner.value,
                                **detail}))
    await uow.evidence.append(EvidenceDraft(
        source="mall", kind="incident.opened", subject=f"order:{event.order_id}",
        context={"incident_id": incident.id},
        payload={**detail, "owner": incident.owner.value, "status": incident.status.value},
    ))


async def order_delivered(event: ev.OrderDelivered, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, "order_delivered", order_id=event.order_id)
    await _track(uow, event.customer_id, "Order Delivered", order_ref=event.order_id)


async def payment_refunded(event: ev.PaymentRefunded, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, "payment_refunded", order_id=event.order_id,
                  amount_minor=event.amount_minor, currency=event.currency)
    await _track(uow, event.customer_id, "Order Refunded", order_ref=event.order_id,
                 amount_minor=event.amount_minor, currency=event.currency)


async def dispute_opened(event: ev.DisputeOpened, uow: UnitOfWork) -> None:
    """A chargeback has a deadline for evidence: someone must assemble the bundle."""
    detail = {"order_id": event.order_id, "payment_id": event.payment_id,
              "amount_minor": event.amount_minor, "currency": event.currency,
              "evidence_bundle": f"/v1/admin/orders/{event.order_id}/dispute-bundle"}
    await open_incident(
        uow, "chargeback", f"order:{event.order_id}", detail, severity="critical",
        source="payments",
        summary=f"chargeback opened on order {event.order_id}: answer with the evidence "
                "bundle before the network's deadline")


async def dispute_closed(event: ev.DisputeClosed, uow: UnitOfWork) -> None:
    await send(uow, RaiseAlert(
        "warning", "payments", f"the chargeback on order {event.order_id} was {event.outcome}",
        {"order_id": event.order_id, "payment_id": event.payment_id,
         "outcome": event.outcome}))


async def order_cancelled(event: ev.OrderCancelled, uow: UnitOfWork) -> None:
    await _notify(uow, event.customer_id, "order_cancelled", order_id=event.order_id,
                  reason=event.reason)
    await _track(uow, event.customer_id, "Order Cancelled", order_ref=event.order_id,
                 reason=event.reason)
