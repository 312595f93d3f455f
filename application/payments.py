"""Paying for an order: route to a provider, screen for fraud, authorize in the background,
and follow every later move of the gateway (capture, refunds, disputes) on payment and order."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from application.bus import publish
from application.ports import (
    Clock,
    FraudReview,
    FraudScreen,
    PaymentGateway,
    PaymentRequest,
    ProviderCall,
    RiskSignals,
    TaskQueue,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.transactions import commit_and_dispatch, new_id, open_incident, send
from domain import events as ev
from domain.commands import (
    AuthorizePayment,
    CapturePayment,
    RaiseAlert,
    RefundPayment,
    VoidPayment,
)
from domain.errors import DomainError, InvalidTransition, NotFound, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.failures import FailureReason, explain
from domain.money import Money
from domain.operations import Operation
from domain.orders import Order, OrderStatus
from domain.payments import (
    MONEY_TAKEN,
    CancellationReason,
    EventType,
    Payment,
    PaymentEvent,
    PaymentStatus,
    PaymentUpdate,
    can_defer_capture,
)
from domain.privacy import pseudonym
from domain.routing import ProviderContract, eligible_providers
from domain.settlement import Before, FollowUp, money_moved, needs_other_payments, settle

# What the customer reads for each outcome that is not a failure.
OUTCOME_MESSAGES = {
    PaymentStatus.CAPTURED: "Payment succeeded. Your order is confirmed.",
    PaymentStatus.AUTHORIZED: (
        "Payment authorized. We are checking the order before it ships; the amount is only "
        "charged once it is confirmed."
    ),
    PaymentStatus.AWAITING_DEPOSIT: (
        "Waiting for your bank transfer: deposit the exact amount to the account shown before "
        "it expires. We will confirm your order as soon as the money arrives."
    ),
    PaymentStatus.REQUIRES_ACTION: (
        "Your bank asks you to confirm this payment: follow next_action to finish it."
    ),
}
SECURED = MONEY_TAKEN | {PaymentStatus.AUTHORIZED}


class IdentityVerificationRequired(DomainError):
    code = "identity-verification-required"


class MethodCannotAwaitReview(DomainError):
    """A held order was to be paid by a method that takes the money at once."""

    code = "method-cannot-await-review"


@dataclass(frozen=True)
class KycRule:
    """Above `threshold` (minor units of `currency`) an order shipped to `country` needs a
    customer whose identity was verified."""

    country: str
    currency: str
    threshold: int


@dataclass(frozen=True)
class PaymentStarted:
    operation: dict[str, Any]
    payment_id: str
    final: bool


@dataclass(frozen=True)
class PaymentChoice:
    """What the customer asked for; only the token is required."""

    method_token: str
    method: str | None = None
    provider: str | None = None
    billing_country: str | None = None
    ip_country: str | None = None


def method_of(token: str) -> str:
    """The payment method a token stands for when the customer did not say (tokens never
    carry card data)."""
    return "virtual_account" if "virtual_account" in token else "card"


def refund_id_for(order_id: str, key: str) -> str:
    """Our refund id for an admin's idempotency key: the same key is the same refund."""
    return "rf_" + hashlib.sha256(f"{order_id}|{key}".encode()).hexdigest()[:28]


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
        kyc_rules: Sequence[KycRule] = (),
        fraud_model_max_age: timedelta = timedelta(hours=1),
    ) -> None:
        self._uow, self._gateways, self._contracts = uow, gateways, contracts
        self._fraud, self._clock, self._queue = fraud, clock, queue
        self._key = pseudonym_key
        self._sync_wait, self._slow_after = sync_wait_seconds, slow_after_seconds
        self._poll = poll_interval_seconds
        self._kyc = list(kyc_rules)
        self._model_max_age = fraud_model_max_age
        self._model_fitted_at: datetime | None = None

    # --- starting a payment ---------------------------------------------------------------

    async def _route(self, order: Order, choice: PaymentChoice, method: str) -> str:
        routes = eligible_providers(
            self._contracts, country=order.country, currency=order.currency, method=method)
        configured = [p for p in routes if p in self._gateways]
        if not configured:
            raise DomainError(f"no configured gateway takes {method} payments in "
                              f"{order.currency}; choose another payment method")
        if choice.provider is not None:
            if choice.provider not in configured:
                raise DomainError(
                    f"{choice.provider} cannot take this payment; eligible: "
                    f"{', '.join(configured)}")
        routed = choice.provider or configured[0]
        if await self._gateways[routed].available():
            return routed
        # The routed gateway's circuit is open: nothing was sent; offer the others.
        others = await self._alternatives(order, method, routed)
        raise ProviderUnavailable(
            f"{routed} is not answering right now, so nothing was sent or charged. "
            + (f"Pay with {', '.join(others)} instead (send \"provider\"), "
               "or try again in a few minutes." if others else "Try again in a few minutes."),
            request_sent=False, alternatives=others,
        )

    def _check_kyc(self, order: Order, verified: bool) -> None:
        for rule in self._kyc:
            if (rule.country in ("*", order.country) and rule.currency == order.currency
                    and order.total.amount > rule.threshold and not verified):
                raise IdentityVerificationRequired(
                    f"orders above {Money(rule.threshold, rule.currency)} shipped to "
                    f"{order.country} need a verified identity before payment: complete the "
                    "identity check in your account, then pay again. Nothing was charged.")

    async def refresh_fraud_model(self, force: bool = False) -> bool:
        """Refit the fraud screen's statistics on the mall's paid orders when they are old."""
        now = self._clock.now()
        if (not force and self._model_fitted_at is not None
                and now - self._model_fitted_at < self._model_max_age):
            return False
        async with self._uow() as uow:
            totals = await uow.orders.paid_totals(limit=20_000)
        await self._fraud.learn(totals)
        self._model_fitted_at = now
        return True

    async def start(
        self, *, customer_id: str, order_id: str, method_token: str,
        choice: PaymentChoice | None = None,
    ) -> PaymentStarted:
        """Record the attempt and queue the provider call; wait briefly for a quick answer."""
        choice = choice or PaymentChoice(method_token)
        method = choice.method or method_of(method_token)
        await self.refresh_fraud_model()
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
            provider = await self._route(order, choice, method)
            customer = await uow.customers.get(customer_id)
            self._check_kyc(order, customer is not None and customer.identity_verified)
            capture = await self._screen(uow, order, customer, choice, provider, method)
            now = self._clock.now()
            payment_id = new_id("pay")
            payment = Payment(
                id=payment_id, order_id=order_id, customer_id=customer_id, provider=provider,
                amount=order.total, method=method,
                # The provider dedupes on this attempt, never on a key a customer could reuse
                # for another order once it expired.
                idempotency_key=payment_id, capture="automatic" if capture else "manual",
                created_at=now,
            )
            operation = Operation(new_id("op"), customer_id, "payment", f"payment:{payment.id}",
                                  now)
            order.start_payment()
            await uow.payments.add(payment)
            await uow.operations.add(operation)
            await uow.orders.save(order)
            await send(uow, AuthorizePayment(payment.id, operation.id, method_token))
            await uow.evidence.append(EvidenceDraft(
                source="storefront", kind="payment.requested", subject=f"order:{order_id}",
                context={"payment_id": payment.id, "provider": provider},
                payload={"amount": payment.amount.amount, "currency": payment.amount.currency,
                         "method": method, "capture": payment.capture},
            ))
            await commit_and_dispatch(uow, self._queue)
        view = await self._wait_for(operation.id)
        return PaymentStarted(view, payment.id, view["status"] in ("succeeded", "failed"))

    async def _screen(self, uow: UnitOfWork, order: Order, customer: Any,
                      choice: PaymentChoice, provider: str, method: str) -> bool:
        """Screen the order; True when the payment may be captured at once.

        A held order is only authorized, whatever path the payment then takes (with or
        without 3-D Secure, a redirect, an answer that comes later by webhook): the capture
        mode chosen here travels with the payment to the provider, and the money is taken
        only when a reviewer approves. Where capture cannot wait:

        * a bank transfer into a virtual account moves the money when the customer sends it:
          it is refused for a held order (`MethodCannotAwaitReview`, nothing is issued), since
          giving a deposit back needs a bank account we do not have and would pay out to
          whoever names one; the customer is told to pay by card instead;
        * a gateway without separate capture (Toss confirms and captures in one step; its
          payment keys cannot be sent elsewhere) takes the money, the order is held with
          nothing shipped, and a rejection refunds it in full.
        """
        now = self._clock.now()
        review = await uow.reviews.get(order.id)
        if review is not None and review.status == "approved":
            return True
        signals = RiskSignals(
            customer_history=await uow.orders.of_customer(order.customer_id, limit=200),
            account_created_at=customer.created_at if customer is not None else None,
            failed_logins_24h=await uow.customers.login_failures_since(
                order.customer_id, now - timedelta(hours=24)),
            failed_payments_24h=await uow.payments.failures_of_customer(
                order.customer_id, now - timedelta(hours=24)),
            ip_country=choice.ip_country, billing_country=choice.billing_country,
        )
        risk = await self._fraud.screen(order, signals)
        await uow.evidence.append(EvidenceDraft(
            source="fraud-screen", kind="fraud.assessment", subject=f"order:{order.id}",
            context={"order_id": order.id},
            payload={"score": risk.score, "decision": risk.decision, "reasons": risk.reasons},
        ))
        if risk.decision == "reject":
            await uow.commit()
            raise DomainError(explain(FailureReason.SUSPECTED_FRAUD).message)
        if risk.decision != "review" and review is None:
            return True
        if not can_defer_capture(method):
            await uow.commit()  # the assessment stays on record; the order stays payable
            raise MethodCannotAwaitReview(
                "We check this order before it ships, and a bank transfer cannot wait for "
                "that check. Pay by card instead: the amount is only held, and charged once "
                "the order is confirmed. Nothing was charged and no account was issued.")
        order.hold_for_review()
        await uow.reviews.add(FraudReview(order.id, order.customer_id, risk.score,
                                          list(risk.reasons), now))
        await send(uow, RaiseAlert(
            "warning", "fraud-screen", f"order {order.id} is held for review (score {risk.score})",
            {"order_id": order.id, "reasons": risk.reasons}))
        # Hold the funds without taking them where the gateway can; otherwise a rejected
        # order is refunded.
        return not self._gateways[provider].supports_manual_capture

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

    # --- talking to the gateway (outbox handlers, safe to run twice) ---------------------

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
            order = await uow.orders.get(found.order_id)
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

    async def _alternatives(self, order: Order, method: str, failing: str) -> list[str]:
        """The other configured gateways that may take this payment and are up."""
        try:
            routes = eligible_providers(self._contracts, country=order.country,
                                        currency=order.currency, method=method)
        except DomainError:
            return []
        return [p for p in routes if p in self._gateways and p != failing
                and await self._gateways[p].available()]

    async def _fail_unsent(self, payment: Payment, order: Order) -> None:
        others = await self._alternatives(order, payment.method, payment.provider)
        await self.apply_update(payment.id, PaymentUpdate.of(
            EventType.FAILED, failure_code=FailureReason.PROVIDER_UNAVAILABLE.value,
        ), extra_result={"alternatives": others})

    async def _call(self, payment_id: str, action: str, call_id: str,
                    amount: int | None = None, reason: str = "") -> None:
        async with self._uow() as uow:
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
        async with self._uow() as uow:
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
        async with self._uow() as uow:
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

    async def lookup(self, payment_id: str) -> bool:
        """Ask the provider where a payment stands and apply the answer (reconciliation)."""
        async with self._uow() as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None or not payment.provider_reference:
            return False
        update = await self._gateways[payment.provider].lookup(payment.provider_reference)
        return await self.apply_update(payment_id, update)

    async def reconcile(self, older_than: timedelta, limit: int = 200) -> dict[str, int]:
        """Ask the providers about payments stuck before a final answer, so a lost webhook
        loses nothing. Provider failures are counted and left for the next run."""
        async with self._uow() as uow:
            stuck = await uow.payments.unsettled(self._clock.now() - older_than, limit)
        report = {"checked": 0, "changed": 0, "unreachable": 0}
        for payment in stuck:
            if payment.provider not in self._gateways or not payment.provider_reference:
                continue
            report["checked"] += 1
            try:
                report["changed"] += await self.lookup(payment.id)
            except ProviderUnavailable:
                report["unreachable"] += 1
        return report

    async def expire_abandoned(self, action_timeout: timedelta, limit: int = 200) -> int:
        """Cancel attempts the customer abandoned: a virtual account past its deadline (the
        order is cancelled), a 3-D Secure step never finished (the order can be paid again)."""
        now = self._clock.now()
        async with self._uow() as uow:
            waiting = await uow.payments.waiting_on_customer(now - action_timeout, limit)
        expired = 0
        for payment in waiting:
            if payment.status == PaymentStatus.AWAITING_DEPOSIT:
                deadline = (payment.deposit_account or {}).get("expires_at")
                if deadline and datetime.fromisoformat(deadline) > now:
                    continue
                code = FailureReason.DEPOSIT_EXPIRED
            else:
                code = FailureReason.AUTHENTICATION_ABANDONED
            expired += await self._expire(payment, code)
        return expired

    async def _expire(self, payment: Payment, code: FailureReason) -> bool:
        """Cancel an abandoned attempt here, and at the provider so that a late 3-D Secure
        or deposit cannot take money for it (if one does, it is given back)."""
        async with self._uow() as uow:
            changed = await apply_payment_update(
                uow, payment.id, PaymentUpdate.of(EventType.CANCELLED, failure_code=code.value),
                self._clock)
            if changed and payment.provider_reference:
                await send(uow, VoidPayment(payment.id, CancellationReason.ABANDONED.value))
            await commit_and_dispatch(uow, self._queue)
        return changed

    async def give_up(self, payment_id: str, reason: str) -> None:
        """The provider stayed unreachable through every retry: fail the attempt visibly."""
        del reason  # kept in the outbox row and the incident, not shown to the customer
        await self.apply_update(payment_id, PaymentUpdate.of(
            EventType.FAILED, failure_code=FailureReason.PROVIDER_UNAVAILABLE.value))

    async def apply_update(self, payment_id: str, update: PaymentUpdate,
                           extra_result: dict[str, Any] | None = None) -> bool:
        async with self._uow() as uow:
            changed = await apply_payment_update(uow, payment_id, update, self._clock,
                                                 extra_result)
            await commit_and_dispatch(uow, self._queue)
        return changed

    async def find_for_event(self, uow: UnitOfWork, provider: str, reference: str,
                             update: PaymentUpdate) -> Payment:
        payment = await uow.payments.by_reference(provider, reference) if reference else None
        if payment is None and update.merchant_reference:
            payment = await uow.payments.get(update.merchant_reference)
            if payment is not None and payment.provider != provider:
                payment = None
        if payment is None:
            raise NotFound(f"no payment with {provider} reference {reference}")
        return payment

    async def apply_provider_event(
        self, uow: UnitOfWork, provider: str, reference: str, update: PaymentUpdate
    ) -> bool:
        payment = await self.find_for_event(uow, provider, reference, update)
        return await apply_payment_update(uow, payment.id, update, self._clock)

    # --- the review queue -----------------------------------------------------------------

    async def decide_review(self, order_id: str, *, approve: bool, admin_id: str,
                            note: str = "") -> FraudReview:
        """Approve (fulfilment goes on, held funds are captured) or reject (the order is
        cancelled, authorizations released, captured money refunded)."""
        async with self._uow() as uow:
            await uow.orders.lock(order_id)
            order = await uow.orders.get(order_id)
            review = await uow.reviews.get(order_id)
            if order is None or review is None:
                raise NotFound(f"no review for order {order_id}")
            if review.status != "pending":
                if review.status == ("approved" if approve else "rejected"):
                    return review  # the same decision again
                raise InvalidTransition(f"order {order_id} was already {review.status}")
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
                    await _release(uow, payment, CancellationReason.FRAUDULENT)
                    await uow.payments.save(payment)
                order.events.append(ev.OrderCancelled(
                    order.id, order.customer_id, FailureReason.REJECTED_IN_REVIEW.value))
            review.status = "approved" if approve else "rejected"
            review.decided_at, review.decided_by = self._clock.now(), admin_id
            review.note = note[:500]
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
        async with self._uow() as uow:
            return await uow.reviews.pending(limit)

    # --- refunds ----------------------------------------------------------------------------

    async def request_refund(self, order_id: str, *, amount: int | None, reason: str,
                             key: str, admin_id: str) -> tuple[str, str | None]:
        """Reserve a refund on the order's payment and queue the provider call.

        Returns (refund id, outbox message id or None when this key was already used). The
        same key is the same refund; the total never exceeds what was captured."""
        refund_id = refund_id_for(order_id, key)
        async with self._uow() as uow:
            await uow.orders.lock(order_id)
            order = await uow.orders.get(order_id)
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
        async with self._uow() as uow:
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


def money_summary(currency: str, payments: Sequence[Payment]) -> dict[str, Any]:
    totals = {"captured": 0, "refunded": 0, "refund_pending": 0, "disputed": 0,
              "dispute_lost": 0, "net": 0}
    for payment in payments:
        amounts = payment.amounts()
        for name in totals:
            totals[name] += amounts[name]
    return {"currency": currency, **totals}


def payment_view(payment: Payment, language: str = "en") -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": payment.id, "provider": payment.provider,
        "provider_reference": payment.provider_reference or None, "method": payment.method,
        "status": payment.status.value, "amount": payment.amount.amount,
        "currency": payment.amount.currency, **{k: v for k, v in payment.amounts().items()
                                                 if k != "amount"},
        "failure_code": payment.failure_code, "next_action": payment.next_action,
        "deposit_account": payment.deposit_account,
        # the provider's clock, as every time in the API: RFC 3339 in UTC
        "events": [{**e.as_dict(), "occurred_at": None if e.occurred_at is None else
                    datetime.fromtimestamp(e.occurred_at, UTC).isoformat()}
                   for e in payment.events],
    }
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        view["failure"] = explain(payment.failure_code or _default_failure(payment),
                                  language).as_dict()
    return view


def _default_failure(payment: Payment) -> str:
    return (FailureReason.CANCELLED_BY_CUSTOMER.value if payment.status == PaymentStatus.CANCELLED
            else FailureReason.PROCESSING_ERROR.value)


def customer_message(payment: Payment, language: str = "en") -> str:
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return explain(payment.failure_code or _default_failure(payment), language).message
    return OUTCOME_MESSAGES.get(payment.status, "Processing your payment.")


async def apply_payment_update(
    uow: UnitOfWork, payment_id: str, update: PaymentUpdate, clock: Clock,
    extra_result: dict[str, Any] | None = None,
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
    before = Before.of(payment)
    if not payment.apply(update):
        return False
    order = await uow.orders.get(payment.order_id)
    assert order is not None
    another_secured = needs_other_payments(payment, before) and any(
        p.secured for p in await uow.payments.of_order(order.id) if p.id != payment.id)
    settled = settle(order, payment, before, another_secured=another_secured)
    for follow_up in settled.follow_ups:
        if follow_up == FollowUp.CAPTURE:
            await send(uow, CapturePayment(payment.id))
        elif follow_up == FollowUp.REPORT_SURPLUS:
            await _report_surplus_charge(uow, payment, order.status.value)
        elif follow_up == FollowUp.GIVE_BACK_DUPLICATE:
            await _release(uow, payment, CancellationReason.DUPLICATE)
        elif follow_up == FollowUp.REPORT_PARTIAL_CAPTURE:
            await _report_partial_capture(uow, payment)
        elif follow_up == FollowUp.REPORT_INQUIRY:
            await _report_inquiry(uow, payment)
    await _watch_releases(uow, payment, update)
    events = [*settled.events, *order.events]
    order.events.clear()
    if order.is_settled:
        await _follow_money(uow, order, payment)
        events += money_moved(order, payment, before)
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


async def _follow_money(uow: UnitOfWork, order: Order, payment: Payment) -> None:
    """Refunds and chargebacks move a settled order (over every payment that paid it)."""
    payments = [payment if p.id == payment.id else p
                for p in await uow.payments.of_order(order.id)]
    # A surplus charge given back (see _release) is not part of what paid the order.
    paid = [p for p in payments if p.status in MONEY_TAKEN and not any(
        e.reference == _release_id(p) for e in p.events)]
    shipments = await uow.shipments.of_order(order.id)
    order.follow_money(
        captured=sum(p.captured for p in paid),
        refunded=sum(p.refunded for p in paid),
        disputed=sum(p.disputed for p in paid),
        dispute_lost=sum(p.dispute_lost for p in paid),
        shipment_statuses=[s.status.value for s in shipments],
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


async def _release(uow: UnitOfWork, payment: Payment, reason: CancellationReason) -> None:
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
        explanation = explain(payment.failure_code or _default_failure(payment))
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

