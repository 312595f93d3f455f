"""Talking to the gateway: authorize, capture, void and refund (outbox handlers, safe to run
twice), and what is recorded when a call is refused or never answered."""

from __future__ import annotations

from application.payments.core import PaymentServiceBase
from application.ports import PaymentRequest, ProviderCall
from application.transactions import commit_and_dispatch, open_incident
from domain.errors import DomainError, NotFound, ProviderUnavailable
from domain.failures import FailureReason
from domain.money import Money
from domain.orders import Order
from domain.payments import EventType, Payment, PaymentEvent, PaymentStatus, PaymentUpdate
from domain.privacy import pseudonym


class ProviderCalls(PaymentServiceBase):
    async def authorize(self, payment_id: str, operation_id: str, method_token: str) -> None:
        """Ask the provider; safe to run again (the provider dedupes on the idempotency key)."""
        async with self._uow() as uow:
            # Same order as apply_payment_update: lock, then read, so a provider answer
            # committed meanwhile is never overwritten with "processing".
            order = await uow.orders.lock_for_payment(payment_id)
            # The order's payments: one statement that brings their operations too.
            payments = await uow.payments.of_order(order.id) if order is not None else []
            payment = next((p for p in payments if p.id == payment_id), None)
            operation = await uow.operations.get(operation_id)
            if payment is None or operation is None or order is None:
                raise NotFound(f"payment {payment_id} not found")
            if payment.status not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
                return
            payment.apply(PaymentUpdate.of(EventType.PROCESSING))
            operation.progress(f"Contacting the payment provider ({payment.provider}).",
                               self._clock.now())
            await uow.payments.save(payment)
            await uow.operations.save(operation)
            await uow.commit()
        gateway = self._gateways[payment.provider]
        try:
            update = await gateway.authorize(PaymentRequest(
                payment_id=payment.id, order_id=payment.order_id, amount=payment.amount,
                method=payment.method, method_token=method_token,
                idempotency_key=payment.idempotency_key,
                customer_reference=pseudonym(payment.customer_id, self._key, purpose="payments"),
                capture=payment.capture == "automatic", description=f"Order {order.id}",
            ))
        except ProviderUnavailable as exc:
            if exc.request_sent:
                raise  # the provider may have acted: only the same key may ask again
            # Nothing reached the provider: end this attempt now and offer the others, so the
            # customer is not kept waiting on a gateway that is down.
            await self._fail_unsent(payment, order)
            return
        await self.apply_update(payment_id, update)

    async def _fail_unsent(self, payment: Payment, order: Order) -> None:
        others = await self._alternatives(order, payment.method, payment.provider)
        await self.apply_update(payment.id, PaymentUpdate.of(
            EventType.FAILED, failure_code=FailureReason.PROVIDER_UNAVAILABLE.value,
        ), extra_result={"alternatives": others})

    async def _call(self, payment_id: str, action: str, call_id: str,
                    amount: int | None = None, reason: str = "") -> None:
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} not found")
        if not payment.provider_reference:
            raise DomainError(f"payment {payment_id} has no provider reference yet")
        gateway = self._gateways[payment.provider]
        call = ProviderCall(payment.provider_reference,
                            Money(payment.amount.amount if amount is None else amount,
                                  payment.amount.currency), call_id, reason, payment.order_id)
        update = await {"capture": gateway.capture, "void": gateway.cancel,
                        "refund": gateway.refund}[action](call)
        await self.apply_update(payment_id, update)

    async def capture(self, payment_id: str) -> None:
        await self._call(payment_id, "capture", f"{payment_id}-capture")
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
        if payment is not None and payment.status == PaymentStatus.AUTHORIZED:
            # The provider refused or did not confirm: retried, then an incident and an alert
            # (the order stays on hold; nothing ships on an uncaptured authorization).
            raise DomainError(f"the capture of payment {payment_id} was not confirmed")

    async def void(self, payment_id: str, reason: str = "") -> None:
        """Call a payment off at the provider (release a hold, close an unfinished step);
        `reason` is a CancellationReason the provider is told."""
        await self._call(payment_id, "void", f"{payment_id}-void", reason=reason)

    async def refund(self, payment_id: str, refund_id: str, amount: int, reason: str) -> None:
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} not found")
        if payment.refund_answered(refund_id):
            return  # answered already
        await self._call(payment_id, "refund", refund_id, amount, reason)

    async def refund_failed(self, payment_id: str, refund_id: str) -> None:
        await self.apply_update(payment_id, PaymentUpdate(
            (PaymentEvent(EventType.REFUND_FAILED, reference=refund_id),),
            failure_code=FailureReason.PROVIDER_UNAVAILABLE.value))

    async def refund_unconfirmed(self, payment_id: str, refund_id: str) -> None:
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id)
            if payment is None:
                raise NotFound(f"payment {payment_id} not found")
            detail = {"order_id": payment.order_id, "payment_id": payment_id,
                      "refund_id": refund_id, "provider": payment.provider,
                      "refund_pending": payment.refund_pending}
            await open_incident(
                uow, "refund_unconfirmed", f"order:{payment.order_id}", detail,
                severity="critical", source=payment.provider,
                summary=f"refund {refund_id} on order {payment.order_id} may or may not have "
                        "been paid out: check with the provider before refunding again")
            await commit_and_dispatch(uow, self._queue)
    async def give_up(self, payment_id: str, reason: str) -> None:
        """The provider stayed unreachable through every retry: fail the attempt visibly."""
        del reason  # kept in the outbox row and the incident, not shown to the customer
        await self.apply_update(payment_id, PaymentUpdate.of(
            EventType.FAILED, failure_code=FailureReason.PROVIDER_UNAVAILABLE.value))
