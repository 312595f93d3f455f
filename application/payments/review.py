"""The fraud review queue: an admin approves a held order (held funds are captured) or
rejects it (the money is given back)."""

from __future__ import annotations

from application.bus import publish
from application.payments.core import PaymentServiceBase
from application.payments.settle import release
from application.ports import FraudReview
from application.transactions import commit_and_dispatch, send
from domain import events as ev
from domain.commands import CapturePayment
from domain.errors import InvalidTransition, NotFound
from domain.evidence import EvidenceDraft
from domain.failures import FailureReason
from domain.orders import OrderStatus
from domain.payments import CancellationReason, PaymentStatus


class FraudReviews(PaymentServiceBase):
    async def decide_review(self, order_id: str, *, approve: bool, admin_id: str,
                            note: str = "") -> FraudReview:
        """Approve (fulfilment goes on, held funds are captured) or reject (the order is
        cancelled, authorizations released, captured money refunded)."""
        async with self._uow() as uow:
            order = await uow.orders.lock(order_id)
            review = await uow.reviews.get(order_id)
            if order is None or review is None:
                raise NotFound(f"no review for order {order_id}")
            if not review.decide(approve=approve, by=admin_id, note=note,
                                 now=self._clock.now()):
                return review  # the same decision again
            payments = await uow.payments.of_order(order_id)
            if approve:
                taken = any(p.captured >= p.amount.amount and p.net > 0 for p in payments)
                held = [p for p in payments if p.status == PaymentStatus.AUTHORIZED
                        and p.authorized >= p.amount.amount]
                if order.status == OrderStatus.ON_HOLD and not taken and not held:
                    raise InvalidTransition(
                        f"order {order_id} no longer holds any money (its authorization was "
                        "released or refunded): it cannot ship; reject it instead")
                order.approve(money_taken=taken)
                for payment in held if not taken else []:
                    await send(uow, CapturePayment(payment.id))
            else:
                order.reject()
                for payment in payments:
                    await release(uow, payment, CancellationReason.FRAUDULENT)
                    await uow.payments.save(payment)
                order.events.append(ev.OrderCancelled(
                    order.id, order.customer_id, FailureReason.REJECTED_IN_REVIEW.value))
            await uow.reviews.save(review)
            await uow.orders.save(order)
            await uow.evidence.append(EvidenceDraft(
                source="admin", kind="fraud.review_decided", subject=f"order:{order_id}",
                context={"admin_id": admin_id},
                payload={"decision": review.status, "score": review.score,
                         "reasons": review.reasons, "order_status": order.status.value},
            ))
            await publish(uow, order.events)
            order.events.clear()
            await commit_and_dispatch(uow, self._queue)
        return review

    async def pending_reviews(self, limit: int = 50) -> list[FraudReview]:
        async with self._uow(read_only=True) as uow:
            return await uow.reviews.pending(limit)
