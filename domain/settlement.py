"""What an order becomes when its money moves: the settlement rules, with no I/O.

A provider's facts change a payment; `settle` then moves the payment's order and says what
must follow (take the money now, give it back, tell a human) and which events to publish.
`money_moved` names what a settled order's customer and operators are told when money comes
back (refunds) or is contested (chargebacks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain import events as ev
from domain.failures import FailureReason
from domain.orders import Order, OrderStatus
from domain.payments import Payment, PaymentStatus


class FollowUp(StrEnum):
    CAPTURE = "capture"  # take the authorized money now
    GIVE_BACK_DUPLICATE = "give_back_duplicate"  # void or refund: the order was paid already
    REPORT_SURPLUS = "report_surplus"  # money for an order already paid or cancelled
    REPORT_PARTIAL_CAPTURE = "report_partial_capture"  # less than the total: a human decides
    REPORT_INQUIRY = "report_inquiry"  # the card holder asked; a chargeback may follow


@dataclass(frozen=True)
class Before:
    """What a payment was before a provider's facts were applied."""

    status: PaymentStatus
    captured: int
    secured: bool
    inquiry_open: bool

    @classmethod
    def of(cls, payment: Payment) -> Before:
        return cls(payment.status, payment.captured, payment.secured, payment.inquiry_open)


@dataclass
class Settlement:
    follow_ups: list[FollowUp] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)


def needs_other_payments(payment: Payment, before: Before) -> bool:
    """Whether `settle` must know if another payment of the order secured the money."""
    return (payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED)
            and before.status != payment.status)


def _newly_secured(payment: Payment, before: Before) -> bool:
    return payment.secured and not before.secured


def settle(order: Order, payment: Payment, before: Before, *,
           another_secured: bool = False) -> Settlement:
    """Move `order` after `payment` changed from `before`; what follows, and the events.
    `another_secured`: another payment of the order holds the money (asked only when
    `needs_other_payments`)."""
    done = Settlement()
    status = payment.status
    if _newly_secured(payment, before):
        if order.awaits_payment():
            order.mark_paid(captured=payment.captured >= payment.amount.amount)
            if status == PaymentStatus.AUTHORIZED and not order.held_for_review:
                # Approved while the authorization was on its way (a 3-D Secure step, say):
                # take the money now; the order ships once the capture is confirmed.
                done.follow_ups.append(FollowUp.CAPTURE)
        else:
            # Money for an order another attempt already paid, or that was cancelled (a
            # provider that timed out charged after all): tell a human, give it back.
            done.follow_ups += [FollowUp.REPORT_SURPLUS, FollowUp.GIVE_BACK_DUPLICATE]
    elif (payment.captured > before.captured and payment.captured >= payment.amount.amount
          and order.status == OrderStatus.ON_HOLD):
        order.capture_confirmed()  # the approved order's authorization was captured
    elif payment.captured > before.captured and not payment.secured:
        done.follow_ups.append(FollowUp.REPORT_PARTIAL_CAPTURE)
    elif status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED) and before.status != status:
        if payment.failure_code == FailureReason.DEPOSIT_EXPIRED and order.awaits_payment():
            order.cancel()
            done.events.append(ev.OrderCancelled(order.id, order.customer_id,
                                                 FailureReason.DEPOSIT_EXPIRED.value))
        elif not another_secured:
            order.payment_failed()
            done.events.append(ev.PaymentFailed(order.id, order.customer_id,
                                                payment.failure_code or status.value))
    elif status == PaymentStatus.AWAITING_DEPOSIT and before.status != status:
        order.await_deposit()
        done.events.append(ev.PaymentAwaitingDeposit(order.id, order.customer_id))
    if payment.inquiry_open and not before.inquiry_open:
        done.follow_ups.append(FollowUp.REPORT_INQUIRY)
    return done


def money_moved(order: Order, payment: Payment) -> list[ev.Event]:
    """Refunds and chargebacks the payment raised, told once its order is settled (before,
    money coming and going is the payment's own business)."""
    moved = list(payment.raised) if order.is_settled else []
    payment.raised.clear()
    return moved
