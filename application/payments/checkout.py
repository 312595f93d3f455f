"""Starting a payment: route the order to a gateway, check identity rules, screen for fraud
(holding the order for review when asked), and queue the authorization."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from application.bus import publish
from application.payments.core import PaymentServiceBase
from application.ports import FraudReview, RiskSignals, UnitOfWork
from application.ports.runtime import settled
from application.transactions import commit_and_dispatch, new_id, send
from domain.commands import AuthorizePayment
from domain.customers import Customer
from domain.errors import DomainError, InvalidTransition, NotFound, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.failures import FailureReason, explain
from domain.money import Money
from domain.operations import Operation
from domain.orders import Order
from domain.payments import Payment, can_defer_capture
from domain.routing import eligible_providers

RECHECK = 0.5  # seconds: the longest a waiter goes without reading the operation again

log = logging.getLogger("mall.payments")


class IdentityVerificationRequired(DomainError):
    code = "identity-verification-required"


class MethodCannotAwaitReview(DomainError):
    """A held order was to be paid by a method that takes the money at once."""

    code = "method-cannot-await-review"


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


class StartingPayments(PaymentServiceBase):
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
        async with self._uow(read_only=True) as uow:
            totals = await uow.orders.paid_totals(limit=20_000)
        await self._fraud.learn(totals)
        self._model_fitted_at = now
        return True

    async def _keep_fraud_model_fresh(self) -> None:
        """The first payment screened waits for a model; after that none does: a model past
        its age keeps screening while a refit runs beside the request (its read of the last
        20,000 paid orders grows with the orders table, ~130 ms at a million)."""
        fitted = self._model_fitted_at
        if fitted is None:
            await self.refresh_fraud_model()
        elif self._refit is None and self._clock.now() - fitted >= self._model_max_age:
            self._refit = asyncio.create_task(self._refit_beside())

    async def _refit_beside(self) -> None:
        try:
            await self.refresh_fraud_model()
        except Exception:  # the model in use keeps screening; the next payment tries again
            log.warning("the fraud model could not be refitted; the one fitted at %s keeps "
                        "screening", self._model_fitted_at, exc_info=True)
        finally:
            self._refit = None

    async def start(
        self, *, customer_id: str, order_id: str, method_token: str,
        choice: PaymentChoice | None = None, signed_in: Customer | None = None,
    ) -> PaymentStarted:
        """Record the attempt and queue the provider call; wait briefly for a quick answer.
        `signed_in`: the customer as the request's sign-in check read them a moment ago,
        not read again."""
        choice = choice or PaymentChoice(method_token)
        method = choice.method or method_of(method_token)
        await self._keep_fraud_model_fresh()
        async with self._uow() as uow:
            order = await uow.orders.lock(order_id)
            if order is None or order.customer_id != customer_id:
                raise NotFound(f"order {order_id} not found")
            if not order.can_pay():
                raise InvalidTransition(
                    f"order {order_id} is {order.status.value}; only an order pending payment "
                    "can be paid"
                )
            provider = await self._route(order, choice, method)
            customer = (signed_in if signed_in is not None and signed_in.id == customer_id
                        else await uow.customers.get(customer_id))
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
        view = await self._wait_for(operation)
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
        record = await uow.reviews.screening(order.id, order.customer_id,
                                             now - timedelta(hours=24))
        review = record.review
        if review is not None and review.status == "approved":
            return True
        signals = RiskSignals(
            customer_history=await uow.orders.of_customer(order.customer_id, limit=200),
            account_created_at=customer.created_at if customer is not None else None,
            failed_logins_24h=record.failed_logins, failed_payments_24h=record.failed_payments,
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
        review = FraudReview.open(order.id, order.customer_id, risk.score, list(risk.reasons),
                                  now)
        await uow.reviews.add(review)
        await publish(uow, review.events)
        # Hold the funds without taking them where the gateway can; otherwise a rejected
        # order is refunded.
        return not self._gateways[provider].supports_manual_capture

    async def _wait_for(self, started: Operation) -> dict[str, Any]:
        """Wait until the operation has a result or the wait is over, reading it again each
        time a change to it commits (OperationWatch), not on a timer; it is not read back
        first, as it was just committed. A change that commits before the wait begins is
        caught by reading again at least every RECHECK seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._sync_wait
        operation = started
        while True:
            left = deadline - loop.time()
            if operation.is_final or operation.result is not None or left <= 0:
                break
            # progress is not worth a read: only a result or the end
            await self._watch.wait(settled(operation.id), min(left, RECHECK))
            async with self._uow(read_only=True) as uow:
                found = await uow.operations.get(operation.id)
            assert found is not None
            operation = found
        return operation.view(self._clock.now(), self._slow_after)
