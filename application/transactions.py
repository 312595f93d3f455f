"""Small helpers every use case shares: ids, commit-then-dispatch, event reactions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from application.ports import TaskQueue, UnitOfWork
from domain import events as ev
from domain.evidence import EvidenceDraft
from domain.redaction import card_safe_id
from domain.shipments import Shipment


def new_id(prefix: str) -> str:
    return card_safe_id(prefix)


async def commit_and_dispatch(uow: UnitOfWork, queue: TaskQueue) -> None:
    """Commit, then hand the new outbox rows to the workers (a lost hand-off is swept later)."""
    await uow.commit()
    if uow.new_outbox_ids:
        queue.dispatch_outbox(list(uow.new_outbox_ids))
        uow.new_outbox_ids.clear()


async def notify(uow: UnitOfWork, customer_id: str, template: str, **params: object) -> None:
    await uow.outbox.add(
        "notify", {"audience": "customer", "customer_id": customer_id, "template": template,
                   "params": params},
    )


async def track(uow: UnitOfWork, customer_id: str, name: str, **properties: object) -> None:
    await uow.outbox.add(
        "analytics", {"customer_id": customer_id, "name": name, "properties": properties}
    )


async def react(uow: UnitOfWork, events: Iterable[ev.Event]) -> None:
    """Turn domain events into outbox work, in the same transaction as the change."""
    for event in events:
        match event:
            case ev.CustomerRegistered(customer_id=cid):
                await track(uow, cid, "Signed Up", method="password")
            case ev.OrderPlaced(order_id=oid, customer_id=cid, total_minor=t, currency=c):
                await track(uow, cid, "Order Placed", order_ref=oid, total_minor=t, currency=c)
            case ev.OrderPaid(order_id=oid, customer_id=cid):
                await notify(uow, cid, "order_paid", order_id=oid)
                await track(uow, cid, "Order Completed", order_ref=oid)
                await _request_shipments(uow, oid)
            case ev.PaymentFailed(order_id=oid, customer_id=cid, reason=reason):
                await notify(uow, cid, "payment_failed", order_id=oid, reason=reason)
                await track(uow, cid, "Payment Failed", order_ref=oid, reason=reason)
            case ev.PaymentAwaitingDeposit(order_id=oid, customer_id=cid):
                await notify(uow, cid, "awaiting_deposit", order_id=oid)
            case ev.ShipmentStatusChanged(order_id=oid, customer_id=cid, shipment_id=sid,
                                          status=status):
                await notify(uow, cid, f"shipment_{status}", order_id=oid, shipment_id=sid)
                await track(uow, cid, "Shipment Updated", order_ref=oid, status=status)
            case ev.DeliveryExceptionRaised() as exc:
                await _open_delivery_incident(uow, exc)
            case ev.OrderDelivered(order_id=oid, customer_id=cid):
                await notify(uow, cid, "order_delivered", order_id=oid)
                await track(uow, cid, "Order Delivered", order_ref=oid)
            case ev.PaymentRefunded(order_id=oid, customer_id=cid, amount_minor=a, currency=c):
                await notify(uow, cid, "payment_refunded", order_id=oid, amount_minor=a,
                             currency=c)
                await track(uow, cid, "Order Refunded", order_ref=oid, amount_minor=a,
                            currency=c)
            case ev.DisputeOpened() as dispute:
                await _open_dispute_incident(uow, dispute)
            case ev.DisputeClosed(order_id=oid, payment_id=pid, outcome=outcome):
                await uow.outbox.add("alert", {
                    "severity": "warning", "source": "payments",
                    "summary": f"the chargeback on order {oid} was {outcome}",
                    "detail": {"order_id": oid, "payment_id": pid, "outcome": outcome}})
            case ev.OrderCancelled(order_id=oid, customer_id=cid, reason=reason):
                await notify(uow, cid, "order_cancelled", order_id=oid, reason=reason)
                await track(uow, cid, "Order Cancelled", order_ref=oid, reason=reason)


async def open_incident(uow: UnitOfWork, kind: str, subject: str, detail: dict[str, Any], *,
                        severity: str, source: str, summary: str) -> str:
    """An incident for a human, and the alert that tells the operators about it."""
    incident_id = await uow.incidents.open(kind, subject, detail)
    await uow.outbox.add("alert", {"severity": severity, "source": source, "summary": summary,
                                   "detail": {"incident_id": incident_id, **detail}})
    return incident_id


async def _request_shipments(uow: UnitOfWork, order_id: str) -> None:
    """One shipment per seller, each booked with the carrier the customer chose."""
    order = await uow.orders.get(order_id)
    if order is None or await uow.shipments.of_order(order_id):
        return
    for seller_id in order.sellers:
        shipment = Shipment(new_id("shp"), order_id, seller_id, order.carrier)
        await uow.shipments.add(shipment)
        await uow.outbox.add("shipment.create", {"shipment_id": shipment.id})


async def _open_dispute_incident(uow: UnitOfWork, dispute: ev.DisputeOpened) -> None:
    """A chargeback has a deadline for evidence: someone must assemble the bundle."""
    detail = {"order_id": dispute.order_id, "payment_id": dispute.payment_id,
              "amount_minor": dispute.amount_minor, "currency": dispute.currency,
              "evidence_bundle": f"/v1/admin/orders/{dispute.order_id}/dispute-bundle"}
    await open_incident(
        uow, "chargeback", f"order:{dispute.order_id}", detail, severity="critical",
        source="payments",
        summary=f"chargeback opened on order {dispute.order_id}: answer with the evidence "
                "bundle before the network's deadline")


async def _open_delivery_incident(uow: UnitOfWork, exc: ev.DeliveryExceptionRaised) -> None:
    detail = {"order_id": exc.order_id, "shipment_id": exc.shipment_id, "reason": exc.reason}
    incident_id = await uow.incidents.open("delivery_exception", f"order:{exc.order_id}", detail)
    await notify(uow, exc.customer_id, "delivery_exception", incident_id=incident_id, **detail)
    await uow.outbox.add(
        "notify", {"audience": "seller", "seller_id": exc.seller_id,
                   "template": "delivery_exception_seller",
                   "params": {"incident_id": incident_id, **detail}},
    )
    await uow.outbox.add(
        "alert", {"severity": "warning", "source": "logistics",
                  "summary": f"delivery exception on order {exc.order_id}",
                  "detail": {"incident_id": incident_id, **detail}},
    )
    await uow.evidence.append(EvidenceDraft(
        source="mall", kind="incident.opened", subject=f"order:{exc.order_id}",
        context={"incident_id": incident_id}, payload=detail,
    ))
