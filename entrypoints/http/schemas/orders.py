"""Bodies of the storefront: orders, payments, shipments and the operations that follow them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from domain.orders import OrderStatus
from domain.payments import EventType, PaymentStatus
from domain.redaction import has_card_number
from domain.shipments import ShipmentStatus
from entrypoints.http.schemas.fields import MAX_MINOR, Answer, Country, Currency, Strict


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
    carrier: str = Field(min_length=1, max_length=40, examples=["sandbox-express"],
                         description="one of the carriers GET /v1/shipping/options lists for "
                                     "the address's country")
    service: str = Field("", max_length=40, examples=["standard"],
                         description="the carrier's service; its cheapest when empty")
    note: str = Field("", max_length=1000)


class OrderLineOut(Answer):
    sku: str
    title: str
    seller_id: str
    quantity: int
    unit_price: int
    line_total: int


class FailureOut(Answer):
    """Why a payment failed and what the customer can do; `message` is in the language the
    request asked for (Accept-Language: en or ko)."""

    reason: str
    retryable: bool
    contact: Literal["bank", "support", "none"]
    message: str


class PaymentEventOut(Answer):
    """One fact the provider told us about the payment."""

    type: EventType
    amount: int | None = Field(description="minor units; null: the whole payment")
    reference: str = Field(description="the provider's id of this fact (a refund, a dispute)")
    running_total: bool = Field(description="the amount is a running total")
    occurred_at: str | None = Field(description="the provider's clock")
    settles: str = Field(description="the refund request it answers, if any")


class NextActionOut(Answer):
    """What the customer must do before the payment can go on (3-D Secure)."""

    type: str = Field(examples=["redirect_to_url"])
    url: str | None = None


class DepositAccountOut(Answer):
    """The virtual account the customer transfers the money to."""

    bank: str
    account_number: str
    holder: str
    amount: int
    currency: str
    expires_at: str | None


class MoneyOut(Answer):
    """What money moved: taken, given back, held by disputes, and what stays (`net`)."""

    currency: str
    captured: int
    refunded: int
    refund_pending: int
    disputed: int
    dispute_lost: int
    net: int


class PaymentOut(MoneyOut):
    """A payment attempt; its amounts derive from `events`, the provider's facts."""

    id: str
    provider: str
    provider_reference: str | None = Field(
        description="the payment's id at its provider (Stripe pi_..., Toss paymentKey)")
    method: str
    status: PaymentStatus
    amount: int
    authorized: int
    failure_code: str | None
    failure: FailureOut | None = None
    next_action: NextActionOut | None
    deposit_account: DepositAccountOut | None
    events: list[PaymentEventOut]


class ParcelLine(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1000)


class ShipmentOut(Answer):
    id: str
    seller_id: str
    carrier: str
    status: ShipmentStatus
    tracking_number: str | None
    lines: list[ParcelLine] = Field(
        description="what the parcel holds; empty: all of its seller's lines")


class EstimatedDays(Answer):
    min: int
    max: int


class ShippingOptionOut(Answer):
    carrier: str
    service: str
    fee: int = Field(description="minor units of the currency asked for; 0 is free")
    fee_display: str
    estimated_days: EstimatedDays | None = Field(description="usual delivery, business days")
    seller_ships: bool = Field(description="the seller hands the parcel to the carrier and "
                                           "registers its tracking number")


class ShippingOptionsOut(Answer):
    country: str
    currency: str
    options: list[ShippingOptionOut]
    countries_served: list[str] = Field(description="ISO codes, or * for every country")


class OrderOut(Answer):
    id: str
    status: OrderStatus
    currency: str
    total: int
    total_display: str
    carrier: str
    service: str
    shipping_fee: int = Field(description="minor units, included in total")
    note: str
    created_at: str | None
    lines: list[OrderLineOut]
    shipping_address: AddressIn
    payments: list[PaymentOut] | None = None
    money: MoneyOut | None = None
    review: Literal["pending"] | None = None
    shipments: list[ShipmentOut] | None = None


class OrderList(Answer):
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


class PaymentResultOut(Answer):
    """Where a payment operation ended: the payment's outcome and what the customer does next."""

    payment_id: str
    order_id: str
    status: PaymentStatus
    failure_code: str | None
    next_action: NextActionOut | None
    deposit_account: DepositAccountOut | None
    failure: FailureOut | None = None
    alternatives: list[str] | None = Field(
        None, description="other gateways to pay with, when the chosen one was unavailable")


class OperationOut(Answer):
    id: str
    kind: str
    subject: str
    status: Literal["pending", "processing", "succeeded", "failed"]
    message: str
    still_processing: bool
    elapsed_seconds: float
    result: PaymentResultOut | None
