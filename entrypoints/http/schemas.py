"""Request and response bodies; the OpenAPI document is generated from these models."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal

import pycountry
from babel.numbers import get_territory_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from domain.customers import EMAIL_PATTERN, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from domain.redaction import has_card_number

# Numbers a person sends stay below 10^12 (12 digits): no number field can hold a card number.
MAX_MINOR = 10**12 - 1


class Strict(BaseModel):
    """Request bodies: unknown fields refused, and no coercion (true is not 1, "1" is not 1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


@cache
def active_currencies() -> frozenset[str]:
    """ISO 4217 codes (pycountry) that are legal tender somewhere today (CLDR, through Babel):
    no fund codes, precious metals, test or "no currency" codes (XXX, XTS, XAU...)."""
    today = date.today()
    tender = {code for country in pycountry.countries
              for code in get_territory_currencies(country.alpha_2, today, tender=True)}
    return frozenset(c.alpha_3 for c in pycountry.currencies if c.alpha_3 in tender)


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from pycountry's copy of the ISO (Debian iso-codes) data."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


def _currency(value: str) -> str:
    code = value.upper()
    if code not in active_currencies():
        raise ValueError("must be an active ISO 4217 currency code, such as KRW or USD")
    return code


def _country(value: str) -> str:
    code = value.upper()
    if code not in countries():
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as KR or US")
    return code


def _codes(values: Callable[[], frozenset[str]]) -> Callable[[dict[str, Any]], None]:
    """The document lists the accepted codes (lower case is accepted too)."""
    return lambda schema: schema.update(enum=sorted(values()))


Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["KRW"],
                                json_schema_extra=_codes(active_currencies)),
                     AfterValidator(_currency)]
Country = Annotated[str, Field(min_length=2, max_length=2, examples=["KR"],
                               json_schema_extra=_codes(countries)),
                    AfterValidator(_country)]
# What domain.customers.normalize_email accepts; addresses compare case-insensitively.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN,
                             examples=["ada@example.com"],
                             description="compared case-insensitively")]
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH,
                                   max_length=MAX_PASSWORD_LENGTH,
                                   examples=["correct horse battery"],
                                   description=f"at least {MIN_PASSWORD_LENGTH} characters")]


class Credentials(Strict):
    email: Email
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH,
                          examples=["correct horse battery"])


class Registration(Credentials):
    password: NewPassword
    country: Country | None = Field(
        None, description="ISO 3166-1 alpha-2; decides which privacy and retention rules apply")


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
    email: Email


class PasswordResetIn(Strict):
    token: str = Field(min_length=10, max_length=4096)
    password: NewPassword


# What a provider posts back (form_post, OpenID Connect Core 1.0 and RFC 9207).
FORM_POST_CALLBACK: dict[str, Any] = {"type": "object", "properties": {
    name: {"type": "string", "maxLength": 4096}
    for name in ("code", "state", "iss", "error", "error_description", "id_token", "user")}}


class ProviderOut(BaseModel):
    name: str
    available: bool
    start: str
    reason: str | None = Field(None, description="why it is unavailable, when it is")


class ProviderList(BaseModel):
    providers: list[ProviderOut]
    password: bool


class ProviderAccountOut(BaseModel):
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    display: str = Field(description="how to show the account to its owner")


class SignInOut(BaseModel):
    status: Literal["signed_in", "linked", "link_pending", "email_in_use"]
    message: str
    customer_id: str | None
    created: bool
    ways_in: list[str]
    access_token: str | None = None
    refresh_token: str | None = None
    link_token: str | None = None
    account: ProviderAccountOut | None = Field(
        None, description="the provider account a pending link would add: show it to the "
                          "customer before they confirm")


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
    confirm: str = Field(min_length=3, max_length=254, examples=["ada@example.com"],
                         description="the account's own email address, as GET /v1/me shows "
                                     "it: erasure cannot be undone")


class OrderLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    seller_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    quantity: int = Field(ge=1, le=1000)
    unit_price: int = Field(ge=0, le=MAX_MINOR,
                            description="in the currency's minor unit (KRW 1, USD 0.01); an "
                                        "order must total more than zero and less than 10^12")


class AddressIn(Strict):
    recipient: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: Country


class OrderIn(Strict):
    currency: Currency
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
    provider_reference: str | None = Field(
        description="the payment's id at its provider (Stripe pi_..., Toss paymentKey)")
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
        min_length=3, max_length=200, examples=["pm_sandbox_success"], pattern=_TOKEN.pattern,
        description="a payment-method token from the provider's payment form (Stripe pm_..., "
                    "Toss paymentKey); never card data",
    )
    method: Literal["card", "virtual_account"] | None = Field(
        None, description="what the token pays with; guessed from the token when absent")
    provider: str | None = Field(
        None, max_length=40, pattern=r"^[a-z0-9-]+$",
        description="a gateway among the eligible ones, e.g. the alternative offered when the "
                    "routed one is unavailable")
    billing_country: Country | None = None

    @field_validator("payment_method")
    @classmethod
    def _token_only(cls, value: str) -> str:
        if has_card_number(value):
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
    amount: int | None = Field(None, ge=1, le=MAX_MINOR,
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


class CheckpointOut(BaseModel):
    """A signed checkpoint of the ledger, kept outside the database."""

    line: int | None = Field(description="its line in the checkpoint file")
    seq: int = Field(description="how many records it vouches for")
    head_hash: str = Field(description="the hash of the last of them")
    signed_at: str
    key_id: str


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None = Field(description="the first record that does not fit")
    reason: str | None
    checkpoint: CheckpointOut | None = Field(
        description="the signed checkpoint the ledger contradicts (or that is not trusted)")
    head_seq: int | None = Field(description="where the database says the chain ends")
    anchored_seq: int = Field(description="the last record a signed checkpoint vouches for")


class Problem(BaseModel):
    """RFC 9457 problem details, plus whether a retry can help."""

    type: str
    title: str
    status: int
    detail: str
    retryable: bool
    instance: str | None = None


class SignInConflict(Problem):
    """A sign-in that cannot go on as asked (problem+json): `outcome` says why and the rest
    what the customer can do (another way in, or a link for the account's owner to confirm)."""

    outcome: Literal["link_pending", "email_in_use"]
    message: str
    customer_id: str | None
    created: bool
    ways_in: list[str]
    link_token: str | None = None
    account: ProviderAccountOut | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
