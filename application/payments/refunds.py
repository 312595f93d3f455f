"""Refunds an admin asks for, and where the order's money stands."""

from __future__ import annotations

import hashlib
from typing import Any

from application.payments.core import PaymentServiceBase
from application.payments.views import money_summary, payment_view
from application.transactions import commit_and_dispatch, send
from domain.commands import RefundPayment
from domain.errors import InvalidTransition, NotFound
from domain.evidence import EvidenceDraft
from domain.payments import EventType


def refund_id_for(order_id: str, key: str) -> str:
    """Our refund id for an admin's idempotency key: the same key is the same refund."""
    return "rf_" + hashlib.sha256(f"{order_id}|{key}".encode()).hexdigest()[:28]


class Refunds(PaymentServiceBase):
    async def request_refund(self, order_id: str, *, amount: int | None, reason: str,
                             key: str, admin_id: str) -> tuple[str, str | None]:
        """Reserve a refund on the order's payment and queue the provider call.

        Returns (refund id, outbox message id or None when this key was already used). The
        same key is the same refund; the total never exceeds what was captured."""
        refund_id = refund_id_for(order_id, key)
        async with self._uow() as uow:
            order = await uow.orders.lock(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            payments = await uow.payments.of_order(order_id)
            if any(e.type == EventType.REFUND_REQUESTED and e.reference == refund_id
                   for p in payments for e in p.events):
                return refund_id, None
            candidates = sorted((p for p in payments if p.refundable > 0),
                                key=lambda p: -p.refundable)
            if not candidates:
                raise InvalidTransition(f"order {order_id} has nothing left to refund")
            payment = candidates[0]
            wanted = payment.refundable if amount is None else amount
            payment.request_refund(refund_id, wanted)
            await uow.payments.save(payment)
            message_id = await send(uow, RefundPayment(payment.id, refund_id, wanted,
                                                       reason[:200]))
            await uow.evidence.append(EvidenceDraft(
                source="admin", kind="refund.requested", subject=f"order:{order_id}",
                context={"payment_id": payment.id, "refund_id": refund_id,
                         "admin_id": admin_id},
                payload={"amount": wanted, "currency": payment.amount.currency,
                         "reason": reason[:200], "payment": payment.amounts()},
            ))
            # The caller runs this message at once; the sweep retries it if that fails.
            uow.new_outbox_ids.remove(message_id)
            await commit_and_dispatch(uow, self._queue)
        return refund_id, message_id

    async def money_of(self, order_id: str, refund_id: str | None = None) -> dict[str, Any]:
        """The order's money; with `refund_id`, where that refund stands ("refund_status")."""
        async with self._uow(snapshot=True) as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            payments = await uow.payments.of_order(order_id)
        view = {"order_id": order_id, "order_status": order.status.value,
                **money_summary(order.currency, payments),
                "payments": [payment_view(p) for p in payments]}
        if refund_id is not None:
            outcomes = [p.refund_outcome(refund_id) for p in payments]
            view["refund_status"] = next((o for o in outcomes if o), "pending")
        return view
