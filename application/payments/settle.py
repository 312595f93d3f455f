"""Applying a provider's answer: the payment, the order it pays, the customer's operation,
and the follow-ups the settlement rules ask for (captures, releases, incidents)."""

from __future__ import annotations

import copy
from typing import Any

from application.bus import publish
from application.payments.views import customer_message, default_failure
from application.ports import Clock, UnitOfWork
from application.transactions import open_incident, send
from domain.commands import CapturePayment, RefundPayment, VoidPayment
from domain.errors import NotFound
from domain.evidence import EvidenceDraft
from domain.failures import explain
from domain.orders import Order
from domain.payments import (
    MONEY_TAKEN,
    CancellationReason,
    EventType,
    Payment,
    PaymentStatus,
    PaymentUpdate,
)
from domain.settlement import Before, FollowUp, money_moved, needs_other_payments, settle


async def apply_payment_update(
    uow: UnitOfWork, payment_id: str, update: PaymentUpdate, clock: Clock,
    extra_result: dict[str, Any] | None = None, *, found: Payment | None = None,
) -> bool:
    """Apply a provider's answer to the payment, the order and the customer's operation.

    The order is locked first and the payment read after, so two answers about the same
    payment (a reply and a webhook, say) are applied one after the other, never both at once.
    `found`: the payment as this transaction already read it, to find its order by; when it
    knows every fact of the update already, nothing is locked or read again (facts are only
    ever added, so the payment read under the lock would know them too).
    """
    if found is not None and found.id == payment_id and not copy.deepcopy(found).apply(update):
        return False
    if found is not None and found.id == payment_id:
        order = await uow.orders.lock(found.order_id)
    else:
        order = await uow.orders.lock_for_payment(payment_id)
    # Every payment of the order in one read: the one answered about, and the others that
    # the settlement rules and refunds weigh it against.
    payments = await uow.payments.of_order(order.id) if order is not None else []
    payment = next((p for p in payments if p.id == payment_id), None)
    if payment is None or order is None:
        raise NotFound(f"payment {payment_id} not found")
    before = Before.of(payment)
    if not payment.apply(update):
        return False
    another_secured = needs_other_payments(payment, before) and any(
        p.secured for p in payments if p.id != payment.id)
    settled = settle(order, payment, before, another_secured=another_secured)
    for follow_up in settled.follow_ups:
        if follow_up == FollowUp.CAPTURE:
            await send(uow, CapturePayment(payment.id))
        elif follow_up == FollowUp.REPORT_SURPLUS:
            await _report_surplus_charge(uow, payment, order.status.value)
        elif follow_up == FollowUp.GIVE_BACK_DUPLICATE:
            await release(uow, payment, CancellationReason.DUPLICATE)
        elif follow_up == FollowUp.REPORT_PARTIAL_CAPTURE:
            await _report_partial_capture(uow, payment)
        elif follow_up == FollowUp.REPORT_INQUIRY:
            await _report_inquiry(uow, payment)
    await _watch_releases(uow, payment, update)
    events = [*settled.events, *order.events]
    order.events.clear()
    if order.is_settled:
        await _follow_money(uow, order, payments)
    events += money_moved(order, payment)
    await uow.payments.save(payment)
    await uow.orders.save(order)
    await uow.evidence.append(EvidenceDraft(
        source=payment.provider, kind="payment.transition", subject=f"order:{order.id}",
        context={"payment_id": payment.id, "provider_reference": payment.provider_reference},
        payload={"status": payment.status.value, "previous_status": before.status.value,
                 "failure_code": payment.failure_code, "order_status": order.status.value,
                 "facts": [e.as_dict() for e in update.events], **payment.amounts()},
    ))
    await _settle_operation(uow, payment, clock, extra_result)
    await publish(uow, events)
    return True


async def _follow_money(uow: UnitOfWork, order: Order, payments: list[Payment]) -> None:
    """Refunds and chargebacks move a settled order (over every payment that paid it)."""
    # A surplus charge given back (see _release) is not part of what paid the order.
    paid = [p for p in payments if p.status in MONEY_TAKEN and not any(
        e.reference == _release_id(p) for e in p.events)]
    shipments = await uow.shipments.of_order(order.id)
    order.follow_money(
        captured=sum(p.captured for p in paid),
        refunded=sum(p.refunded for p in paid),
        disputed=sum(p.disputed for p in paid),
        dispute_lost=sum(p.dispute_lost for p in paid),
        shipments=shipments,
    )


async def _report_inquiry(uow: UnitOfWork, payment: Payment) -> None:
    """A card holder's inquiry takes no money, but unanswered it may become a chargeback."""
    detail = {"order_id": payment.order_id, "payment_id": payment.id,
              "provider": payment.provider, "currency": payment.amount.currency,
              "evidence_bundle": f"/v1/admin/orders/{payment.order_id}/dispute-bundle"}
    await open_incident(
        uow, "card_inquiry", f"order:{payment.order_id}", detail, severity="warning",
        source=payment.provider,
        summary=f"the card holder asked about order {payment.order_id}: answer with the "
                "evidence bundle before it becomes a chargeback (no money was taken)")


def _release_id(payment: Payment) -> str:
    return f"rf_release_{payment.id}"


async def release(uow: UnitOfWork, payment: Payment, reason: CancellationReason) -> None:
    """Give the customer's money back: void what is held, refund what was taken. The
    provider is told why (a fraud rejection, a duplicate)."""
    if payment.status == PaymentStatus.AUTHORIZED:
        await send(uow, VoidPayment(payment.id, reason.value))
    elif payment.refundable > 0:
        refund_id = _release_id(payment)
        if any(e.reference == refund_id for e in payment.events):
            return
        event = payment.request_refund(refund_id, payment.refundable)
        await send(uow, RefundPayment(payment.id, refund_id, event.amount or 0, reason.value))
    elif payment.status in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.AWAITING_DEPOSIT,
                            PaymentStatus.PROCESSING) and payment.provider_reference:
        # Still on its way: cancel it at the provider (an open virtual account, a 3-D Secure
        # step); should money arrive anyway, the surplus-charge path gives it back.
        await send(uow, VoidPayment(payment.id, reason.value))


async def _report_partial_capture(uow: UnitOfWork, payment: Payment) -> None:
    """Less money than the order's total arrived: the order is not paid; a human decides."""
    detail = {"order_id": payment.order_id, "payment_id": payment.id,
              "provider": payment.provider, "captured": payment.captured,
              "amount": payment.amount.amount, "currency": payment.amount.currency}
    await open_incident(
        uow, "partial_capture", f"order:{payment.order_id}", detail, severity="critical",
        source=payment.provider,
        summary=f"order {payment.order_id} received less than its total; it is not paid")


async def _watch_releases(uow: UnitOfWork, payment: Payment, update: PaymentUpdate) -> None:
    """A refund we started to give money back that the provider refused needs a human."""
    for event in update.events:
        if event.type == EventType.REFUND_FAILED and event.reference == _release_id(payment):
            detail = {"order_id": payment.order_id, "payment_id": payment.id,
                      "provider": payment.provider, "refundable": payment.refundable,
                      "currency": payment.amount.currency}
            await open_incident(
                uow, "release_failed", f"order:{payment.order_id}", detail,
                severity="critical", source=payment.provider,
                summary=f"money kept on order {payment.order_id} could not be given back: "
                        "refund it by hand")


async def _report_surplus_charge(uow: UnitOfWork, payment: Payment, order_status: str) -> None:
    detail = {"order_id": payment.order_id, "payment_id": payment.id,
              "provider": payment.provider, "provider_reference": payment.provider_reference,
              "amount": payment.amount.amount, "currency": payment.amount.currency,
              "order_status": order_status, "action": "being given back"}
    await open_incident(
        uow, "surplus_charge", f"order:{payment.order_id}", detail, severity="warning",
        source=payment.provider,
        summary=f"order {payment.order_id} was charged again: the charge is being returned")


async def _settle_operation(uow: UnitOfWork, payment: Payment, clock: Clock,
                            extra_result: dict[str, Any] | None) -> None:
    operation = await uow.operations.by_subject(f"payment:{payment.id}")
    if operation is None or operation.is_final:
        return
    result = {
        "payment_id": payment.id, "order_id": payment.order_id, "status": payment.status.value,
        "failure_code": payment.failure_code, "next_action": payment.next_action,
        "deposit_account": payment.deposit_account, **(extra_result or {}),
    }
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        explanation = explain(payment.failure_code or default_failure(payment))
        result["failure"] = {**explanation.as_dict(), "message": {
            language: explain(explanation.reason.value, language).message
            for language in ("en", "ko")}}
    message = customer_message(payment)
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        operation.progress(message, clock.now())
    else:
        # The customer's request is answered once the outcome is known to them, even if the
        # money moves later (deposit, 3-D Secure): the order page follows from there.
        succeeded = payment.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED)
        operation.finish(succeeded=succeeded, message=message, result=result, now=clock.now())
    await uow.operations.save(operation)
