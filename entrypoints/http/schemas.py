"""Request and response bodies; the OpenAPI document is generated from these models."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.redaction import redact_card_numbers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Credentials(Strict):
    email: str = Field(min_length=3, max_length=254, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery"])


class Registration(Credentials):
    country: str | None = Field(None, min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
                                description="decides which privacy and retention rules apply")


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class CustomerOut(BaseModel):
    id: str
    email: str
    role: str
    created_at: str | None
    email_verified: bool
    identity_verified: bool
    jurisdiction: str


def customer_out(customer: Any) -> CustomerOut:
    return CustomerOut(
        id=customer.id, email=customer.email, role=customer.role.value,
        created_at=customer.created_at.isoformat() if customer.created_at else None,
        email_verified=customer.email_verified, identity_verified=customer.identity_verified,
        jurisdiction=customer.jurisdiction)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class LogoutIn(Strict):
    everywhere: bool = False


class TokenIn(Strict):
    token: str = Field(min_length=10, max_length=4096)


class EmailIn(Strict):
    email: str = Field(min_length=3, max_length=254)


class PasswordResetIn(Strict):
    token: str = Field(min_length=10, max_length=4096)
    password: str = Field(min_length=1, max_length=1024)


class ProviderOut(BaseModel):
    name: str
    available: bool
    start: str


class ProviderList(BaseModel):
    providers: list[ProviderOut]
    password: bool


class SignInOut(BaseModel):
    status: Literal["signed_in", "linked", "link_pending", "email_in_use"]
    message: str
    customer_id: str | None
    created: bool
    ways_in: list[str]
    access_token: str | None = None
    refresh_token: str | None = None
    link_token: str | None = None


class IdentityOut(BaseModel):
    provider: str
    email: str | None
    email_verified: bool
    linked_at: str


class IdentityList(BaseModel):
    identities: list[IdentityOut]
    password: bool


class LinkStartOut(BaseModel):
    authorization_url: str


class LinkConfirmIn(Strict):
    link_token: str = Field(min_length=10, max_length=200)


class MergeIn(Strict):
    access_token: str = Field(min_length=10, max_length=4096,
                              description="an access token of the account to merge in")


CONSENT_PURPOSES = Literal["marketing_email", "marketing_sms", "marketing_push",
                           "personalization"]


class ConsentsIn(Strict):
    consents: dict[CONSENT_PURPOSES, bool]


class ErasureIn(Strict):
    confirm: str = Field(examples=["erase my account"])


class OrderLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    seller_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    quantity: int = Field(ge=1, le=1000)
    unit_price: int = Field(ge=0, le=10**13, description="in the currency's minor unit")


class AddressIn(Strict):
    recipient: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, examples=["KR"])


class OrderIn(Strict):
    currency: str = Field(min_length=3, max_length=3, examples=["KRW"])
    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)
    shipping_address: AddressIn
    carrier: str = Field(min_length=1, max_length=40, examples=["sandbox-express"])
    note: str = Field("", max_length=1000)


class OrderLineOut(BaseModel):
    sku: str
    title: str
    seller_id: str
    quantity: int
    unit_price: int
    line_total: int


class FailureOut(BaseModel):
    reason: str
    retryable: bool
    contact: Literal["bank", "support", "none"]
    message: str


class PaymentOut(BaseModel):
    """A payment attempt; its amounts derive from `events`, the provider's facts."""

    id: str
    provider: str
    method: str
    status: str
    amount: int
    currency: str
    authorized: int
    captured: int
    refunded: int
    refund_pending: int
    disputed: int
    dispute_lost: int
    net: int
    failure_code: str | None
    failure: FailureOut | None = None
    next_action: dict[str, Any] | None
    deposit_account: dict[str, Any] | None
    events: list[dict[str, Any]]


class MoneyOut(BaseModel):
    currency: str
    captured: int
    refunded: int
    refund_pending: int
    disputed: int
    dispute_lost: int
    net: int


class ShipmentOut(BaseModel):
    id: str
    seller_id: str
    carrier: str
    status: str
    tracking_number: str | None


class OrderOut(BaseModel):
    id: str
    status: str
    currency: str
    total: int
    total_display: str
    carrier: str
    note: str
    created_at: str | None
    lines: list[OrderLineOut]
    shipping_address: AddressIn
    payments: list[PaymentOut] | None = None
    money: MoneyOut | None = None
    review: Literal["pending"] | None = None
    shipments: list[ShipmentOut] | None = None


class OrderList(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None


_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


class PaymentIn(Strict):
    payment_method: str = Field(
        min_length=3, max_length=200, examples=["pm_sandbox_success"],
        description="a payment-method token from the provider's payment form (Stripe pm_..., "
                    "Toss paymentKey); never card data",
    )
    method: Literal["card", "virtual_account"] | None = Field(
        None, description="what the token pays with; guessed from the token when absent")
    provider: str | None = Field(
        None, max_length=40, pattern=r"^[a-z0-9-]+$",
        description="a gateway among the eligible ones, e.g. the alternative offered when the "
                    "routed one is unavailable")
    billing_country: str | None = Field(None, min_length=2, max_length=2,
                                        pattern=r"^[A-Za-z]{2}$")

    @field_validator("payment_method")
    @classmethod
    def _token_only(cls, value: str) -> str:
        if redact_card_numbers(value) != value:
            raise ValueError("must be a payment-method token, never a card number")
        if not _TOKEN.match(value):
            raise ValueError("must be a payment-method token such as pm_sandbox_success")
        return value


class OperationOut(BaseModel):
    id: str
    kind: str
    subject: str
    status: Literal["pending", "processing", "succeeded", "failed"]
    message: str
    still_processing: bool
    elapsed_seconds: float
    result: dict[str, Any] | None


class RefundIn(Strict):
    amount: int | None = Field(None, ge=1, le=10**13,
                               description="minor units; absent: all that is still refundable")
    reason: str = Field("", max_length=200)


class RefundOut(MoneyOut):
    refund_id: str
    status: Literal["refunded", "pending", "failed"]
    message: str
    order_id: str
    order_status: str
    payments: list[PaymentOut]


class ReviewOut(BaseModel):
    order_id: str
    customer_id: str
    score: float
    reasons: list[str]
    status: Literal["pending", "approved", "rejected"]
    opened_at: str
    decided_at: str | None
    decided_by: str | None
    note: str


class ReviewList(BaseModel):
    reviews: list[ReviewOut]


class ReviewDecisionIn(Strict):
    decision: Literal["approve", "reject"]
    note: str = Field("", max_length=500)


class ReconciliationOut(BaseModel):
    checked: int
    changed: int
    unreachable: int


class DisputeBundleOut(BaseModel):
    """Everything about an order a card network asks for, with the provenance of each piece."""

    order: dict[str, Any]
    payments: list[PaymentOut]
    shipments: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    chain: dict[str, Any]
    generated_at: str


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]


class EvidenceOut(BaseModel):
    seq: int
    source: str
    kind: str
    subject: str
    received_at: str
    context: dict[str, Any]
    payload_hash: str
    payload: Any
    prev_hash: str
    hash: str


class EvidenceList(BaseModel):
    subject: str
    records: list[EvidenceOut]


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None


class Problem(BaseModel):
    """RFC 9457 problem details, plus whether a retry can help."""

    type: str
    title: str
    status: int
    detail: str
    retryable: bool
    instance: str | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
