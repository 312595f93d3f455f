"""Paying for an order: route to a provider, authorize in the background, follow its answers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from application.ports import (
    Clock,
    FraudScreen,
    PaymentGateway,
    PaymentRequest,
    TaskQueue,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.units import commit_and_dispatch, new_id, react
from domain import events as ev
from domain.errors import DomainError, InvalidTransition, NotFound, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.operations import Operation
from domain.payments import Payment, PaymentStatus, PaymentUpdate
from domain.privacy import pseudonym
from domain.routing import ProviderContract, eligible_providers

# What the customer reads for each outcome: what happened, can a retry work, what to do next.
OUTCOME_MESSAGES = {
    PaymentStatus.SUCCEEDED: "Payment succeeded. Your order is confirmed.",
    PaymentStatus.AWAITING_DEPOSIT: (
        "Waiting for your bank transfer: deposit the exact amount to the account shown before "
        "it expires. We will confirm your order as soon as the money arrives."
    ),
    PaymentStatus.REQUIRES_ACTION: (
        "Your bank asks you to confirm this payment: follow next_action to finish it."
    ),
    PaymentStatus.CANCELLED: "The payment was cancelled; nothing was charged.",
}


@dataclass(frozen=True)
class PaymentStarted:
    operation: dict[str, Any]
    payment_id: str
    final: bool


def method_of(token: str) -> str:
    """The payment method a token stands for (tokens never carry card data)."""
    return "virtual_account" if "virtual_account" in token else "card"


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gateways: Mapping[str, PaymentGateway],
        contracts: Sequence[ProviderContract],
        fraud: FraudScreen,
        clock: Clock,
        queue: TaskQueue,
        pseudonym_key: bytes,
        sync_wait_seconds: float,
        slow_after_seconds: float,
        poll_interval_seconds: float = 0.02,
    ) -> None:
        self._uow, self._gateways, self._contracts = uow, gateways, contracts
        self._fraud, self._clock, self._queue = fraud, clock, queue
        self._key = pseudonym_key
        self._sync_wait, self._slow_after = sync_wait_seconds, slow_after_seconds
        self._poll = poll_interval_seconds

    async def start(
        self, *, customer_id: str, order_id: str, method_token: str
    ) -> PaymentStarted:
        """Record the attempt and queue the provider call; wait briefly for a quick answer."""
        method = method_of(method_token)
        async with self._uow() as uow:
            await uow.orders.lock(order_id)
            order = await uow.orders.get(order_id)
            if order is None or order.customer_id != customer_id:
                raise NotFound(f"order {order_id} not found")
            if not order.can_pay():
                raise InvalidTransition(
                    f"order {order_id} is {order.status.value}; only an order pending payment "
                    "can be paid"
                )
            routes = eligible_providers(
                self._contracts, country=order.country, currency=order.currency, method=method
            )
            provider = next((p for p in routes if p in self._gateways), None)
            if provider is None:
                raise DomainError(f"no configured gateway for {method} in {order.currency}")
            history = await uow.orders.of_customer(customer_id, limit=200)
            risk = await self._fraud.screen(order, customer_history=history)
            await uow.evidence.append(EvidenceDraft(
                source="fraud-screen", kind="fraud.assessment", subject=f"order:{order_id}",
                context={"order_id": order_id},
                payload={"score": risk.score, "decision": risk.decision, "reasons": risk.reasons},
            ))
            if risk.decision == "reject":
                await uow.commit()
                raise DomainError(
                    "this payment cannot be accepted; please contact customer support"
                )
            now = self._clock.now()
            payment_id = new_id("pay")
            payment = Payment(
                id=payment_id, order_id=order_id, customer_id=customer_id, provider=provider,
                amount=order.total, method=method,
                # The provider dedupes on this attempt, never on a key a customer could reuse
                # for another order once it expired.
                idempotency_key=payment_id,
                created_at=now,
            )
            operation = Operation(new_id("op"), customer_id, "payment", f"payment:{payment.id}",
                                  now)
            order.start_payment()
            await uow.payments.add(payment)
            await uow.operations.add(operation)
            await uow.orders.save(order)
            await uow.outbox.add("payment.authorize", {
                "payment_id": payment.id, "operation_id": operation.id,
                "method_token": method_token,
            })
            await uow.evidence.append(EvidenceDraft(
                source="storefront", kind="payment.requested", subject=f"order:{order_id}",
                context={"payment_id": payment.id, "provider": provider},
                payload={"amount": payment.amount.amount, "currency": payment.amount.currency,
                         "method": method},
            ))
            await commit_and_dispatch(uow, self._queue)
        view = await self._wait_for(operation.id)
        return PaymentStarted(view, payment.id, view["status"] in ("succeeded", "failed"))

    async def _wait_for(self, operation_id: str) -> dict[str, Any]:
        """Poll the operation until it has a result or the wait is over; the interval grows
        (up to 0.25 s) so a slow provider does not turn into a stream of queries."""
        loop = asyncio.get_running_loop()
        deadline, interval = loop.time() + self._sync_wait, self._poll
        while True:
            async with self._uow() as uow:
                operation = await uow.operations.get(operation_id)
            assert operation is not None
            if operation.is_final or operation.result is not None:
                break
            if loop.time() >= deadline:
                break
            await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
            interval = min(interval * 1.5, 0.25)
        return operation.view(self._clock.now(), self._slow_after)

    async def authorize(self, payment_id: str, operation_id: str, method_token: str) -> None:
        """Ask the provider; safe to run again (the provider dedupes on the idempotency key)."""
        async with self._uow() as uow:
            found = await uow.payments.get(payment_id)
            if found is None:
                raise NotFound(f"payment {payment_id} not found")
            # Same order as apply_payment_update: lock, then read, so a provider answer
            # committed meanwhile is never overwritten with "processing".
            await uow.orders.lock(found.order_id)
            payment = await uow.payments.get(payment_id)
            operation = await uow.operations.get(operation_id)
            if payment is None or operation is None:
                raise NotFound(f"payment {payment_id} not found")
            if payment.status not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
                return
            payment.apply(PaymentUpdate(PaymentStatus.PROCESSING))
            operation.progress(f"Contacting the payment provider ({payment.provider}).",
                               self._clock.now())
            await uow.payments.save(payment)
            await uow.operations.save(operation)
            await uow.commit()
        gateway = self._gateways[payment.provider]
        update = await gateway.authorize(PaymentRequest(
            payment_id=payment.id, order_id=payment.order_id, amount=payment.amount,
            method_token=method_token, idempotency_key=payment.idempotency_key,
            customer_reference=pseudonym(payment.customer_id, self._key, purpose="payments"),
        ))
        await self.apply_update(payment_id, update)

    async def expire_abandoned(self, action_timeout: timedelta, limit: int = 200) -> int:
        """Cancel attempts the customer abandoned: a virtual account past its deadline, a
        3-D Secure step never finished. The order can then be paid another way."""
        now = self._clock.now()
        async with self._uow() as uow:
            waiting = await uow.payments.waiting_on_customer(now - action_timeout, limit)
        expired = 0
        for payment in waiting:
            if payment.status == PaymentStatus.AWAITING_DEPOSIT:
                deadline = (payment.deposit_account or {}).get("expires_at")
                if deadline and datetime.fromisoformat(deadline) > now:
                    continue
                code, message = "deposit_expired", (
                    "The transfer deadline passed, so this payment was cancelled and nothing "
                    "was charged. You can pay for the order again.")
            else:
                code, message = "authentication_abandoned", (
                    "The bank's confirmation step was not completed in time, so this payment "
                    "was cancelled and nothing was charged. You can pay for the order again.")
            expired += await self.apply_update(payment.id, PaymentUpdate(
                PaymentStatus.CANCELLED, failure_code=code, failure_message=message))
        return expired

    async def give_up(self, payment_id: str, reason: str) -> None:
        """The provider stayed unreachable through every retry: fail the attempt visibly."""
        del reason  # kept in the outbox row and the incident, not shown to the customer
        await self.apply_update(payment_id, PaymentUpdate(
            PaymentStatus.FAILED, failure_code=ProviderUnavailable.code,
            failure_message=(
                "The payment provider is not answering, so this payment did not go through. "
                "Try again in a few minutes; should a charge for it appear later, we match it "
                "to your order or refund it. If this keeps failing, contact customer support."
            ),
        ))

    async def apply_update(self, payment_id: str, update: PaymentUpdate) -> bool:
        async with self._uow() as uow:
            changed = await apply_payment_update(uow, payment_id, update, self._clock)
            await commit_and_dispatch(uow, self._queue)
        return changed

    async def apply_provider_event(
        self, uow: UnitOfWork, provider: str, reference: str, update: PaymentUpdate
    ) -> bool:
        payment = await uow.payments.by_reference(provider, reference)
        if payment is None and update.merchant_reference:
            payment = await uow.payments.get(update.merchant_reference)
            if payment is not None and payment.provider != provider:
                payment = None
        if payment is None:
            raise NotFound(f"no payment with {provider} reference {reference}")
        return await apply_payment_update(uow, payment.id, update, self._clock)


def customer_message(payment: Payment) -> str:
    if payment.status == PaymentStatus.FAILED:
        return payment.failure_message or "The payment failed; try again or use another method."
    return OUTCOME_MESSAGES.get(payment.status, "Processing your payment.")


async def apply_payment_update(
    uow: UnitOfWork, payment_id: str, update: PaymentUpdate, clock: Clock
) -> bool:
    """Apply a provider's answer to the payment, the order and the customer's operation.

    The order is locked first and the payment read after, so two answers about the same
    payment (a reply and a webhook, say) are applied one after the other, never both at once.
    """
    payment = await uow.payments.get(payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} not found")
    await uow.orders.lock(payment.order_id)
    payment = await uow.payments.get(payment_id)
    assert payment is not None
    if not payment.apply(update):
        return False
    order = await uow.orders.get(payment.order_id)
    assert order is not None
    events: list[ev.Event] = []
    if payment.status == PaymentStatus.SUCCEEDED and not order.awaits_payment():
        # Money arrived for an order another attempt already paid, or that was cancelled
        # (say, a provider that timed out charged after all): keep the truth, tell a human.
        await _report_surplus_charge(uow, payment, order.status.value)
    elif payment.status == PaymentStatus.SUCCEEDED:
        order.mark_paid()
        events.extend(order.events)
        order.events.clear()
    elif payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        order.payment_failed()
        events.append(ev.PaymentFailed(order.id, order.customer_id,
                                       payment.failure_code or payment.status.value))
    elif payment.status == PaymentStatus.AWAITING_DEPOSIT:
        order.await_deposit()
        events.append(ev.PaymentAwaitingDeposit(order.id, order.customer_id))
    await uow.payments.save(payment)
    await uow.orders.save(order)
    await uow.evidence.append(EvidenceDraft(
        source=payment.provider, kind="payment.transition", subject=f"order:{order.id}",
        context={"payment_id": payment.id, "provider_reference": payment.provider_reference},
        payload={"status": payment.status.value, "failure_code": payment.failure_code,
                 "order_status": order.status.value},
    ))
    await _settle_operation(uow, payment, clock)
    await react(uow, events)
    return True


async def _report_surplus_charge(uow: UnitOfWork, payment: Payment, order_status: str) -> None:
    detail = {"order_id": payment.order_id, "payment_id": payment.id,
              "provider": payment.provider, "provider_reference": payment.provider_reference,
              "amount": payment.amount.amount, "currency": payment.amount.currency,
              "order_status": order_status}
    incident_id = await uow.incidents.open("surplus_charge", f"order:{payment.order_id}", detail)
    await uow.outbox.add("alert", {
        "severity": "critical", "source": payment.provider,
        "summary": f"order {payment.order_id} was charged again: refund or apply it",
        "detail": {"incident_id": incident_id, **detail},
    })


async def _settle_operation(uow: UnitOfWork, payment: Payment, clock: Clock) -> None:
    operation = await uow.operations.by_subject(f"payment:{payment.id}")
    if operation is None:
        return
    result = {
        "payment_id": payment.id, "order_id": payment.order_id, "status": payment.status.value,
        "failure_code": payment.failure_code, "next_action": payment.next_action,
        "deposit_account": payment.deposit_account,
    }
    message = customer_message(payment)
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
                          PaymentStatus.CANCELLED, PaymentStatus.AWAITING_DEPOSIT,
                          PaymentStatus.REQUIRES_ACTION):
        # The customer's request is answered once the outcome is known to them, even if the
        # money moves later (deposit, 3-D Secure): the order page follows from there.
        succeeded = payment.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED)
        operation.finish(succeeded=succeeded, message=message, result=result, now=clock.now())
    else:
        operation.progress(message, clock.now())
    await uow.operations.save(operation)
