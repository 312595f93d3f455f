"""Payment gateways and the fraud screen: what a payment asks of a provider, and the
messages that cross."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.ports.webhooks import InboundEvent
from domain.money import Money
from domain.orders import Order
from domain.payments import PaymentUpdate


@dataclass(frozen=True)
class PaymentRequest:
    payment_id: str
    order_id: str
    amount: Money
    method: str  # "card" | "virtual_account" | ...
    method_token: str  # a provider token (Stripe pm_..., Toss paymentKey), never card data
    idempotency_key: str
    customer_reference: str  # pseudonymous, never the email
    capture: bool = True  # False: authorize only (held for review), capture on approval
    description: str = ""  # shown by the provider to the customer (Toss orderName)


@dataclass(frozen=True)
class ProviderCall:
    """A follow-up call about an existing payment at its provider."""

    provider_reference: str
    amount: Money
    idempotency_key: str  # the provider does the same thing at most once per key
    reason: str = ""
    order_id: str = ""  # files the exchange's evidence under its order

    @property
    def subject(self) -> str:
        return f"order:{self.order_id}" if self.order_id else f"payment:{self.provider_reference}"


@dataclass(frozen=True)
class RiskSignals:
    """What the mall knows around an order when it screens it (no personal data)."""

    customer_history: Sequence[Order]  # the customer's earlier orders, newest first
    account_created_at: datetime | None = None
    failed_logins_24h: int = 0
    failed_payments_24h: int = 0
    ip_country: str | None = None  # from the edge proxy's country header
    billing_country: str | None = None


@dataclass(frozen=True)
class RiskAssessment:
    score: float  # 0 (safe) .. 1 (certainly fraud)
    decision: str  # "approve" | "review" | "reject"
    reasons: list[str]


class PaymentGateway(Protocol):
    """A payment provider.

    Every call is safe to repeat with the same idempotency key: the provider acts at most
    once per key and answers repeats with the first result. When no usable answer came back
    the call raises ProviderUnavailable (whose `request_sent` says whether the provider may
    have acted); a refusal by the provider is an update with a FAILED or REFUND_FAILED event
    and a FailureReason code, not an exception.
    """

    name: str
    supports_manual_capture: bool

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate: ...

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        """Capture an authorized payment (after a fraud review approved it)."""
        ...

    async def cancel(self, call: ProviderCall) -> PaymentUpdate:
        """Release an authorization that was not captured (void)."""
        ...

    async def refund(self, call: ProviderCall) -> PaymentUpdate:
        """Refund `amount` of a captured payment; the update's REFUNDED event `settles` the
        idempotency key (our refund id)."""
        ...

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        """The provider's current view of a payment (captures, refunds, disputes), for
        reconciliation and for webhooks whose body cannot be trusted."""
        ...

    async def available(self) -> bool:
        """False while calls would not even be sent (its circuit is open)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """Check the signature (any key of the ring) and parse; InvalidSignature otherwise."""
        ...

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        """(provider reference, update) for events about a payment; None for others."""
        ...


class FraudScreen(Protocol):
    """Scores an order before payment; every score carries its reasons."""

    async def screen(self, order: Order, signals: RiskSignals) -> RiskAssessment: ...

    async def learn(self, paid_totals: Sequence[tuple[str, int]]) -> None:
        """Refit the statistical model on the mall's paid order totals (currency, minor)."""
        ...
