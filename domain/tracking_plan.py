"""The tracking plan: every analytics event the mall sends, who may send it (the storefront
or the server), and its typed properties. Nothing outside the plan reaches an analytics
service: the storefront is told what is allowed, the server's own events drop what the plan
does not name.

Properties are codes, counts and amounts, never free text: a customer's words (a name, an
address, a message) have no property to travel in. `ref` properties are our identifiers
(an order id): they leave only as a keyed hash (domain/analytics_privacy.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.errors import DomainError


class Source(StrEnum):
    STOREFRONT = "storefront"
    SERVER = "server"


class Kind(StrEnum):
    CODE = "code"  # a short code: letters, digits, _ . : - (no spaces: no free text)
    CHOICE = "choice"  # one of the listed values
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CURRENCY = "currency"  # ISO 4217
    REF = "ref"  # one of our ids, sent as a keyed hash


_CODE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_INTEGER = 10**12


@dataclass(frozen=True)
class Property:
    kind: Kind
    choices: tuple[str, ...] = ()
    required: bool = False

    def accepts(self, value: Any) -> bool:
        if self.kind is Kind.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool) and \
                abs(value) <= MAX_INTEGER
        if self.kind is Kind.BOOLEAN:
            return isinstance(value, bool)
        if not isinstance(value, str):
            return False
        if self.kind is Kind.CHOICE:
            return value in self.choices
        if self.kind is Kind.CURRENCY:
            return bool(_CURRENCY.match(value))
        return bool(_CODE.match(value))  # CODE, REF

    def describe(self) -> str:
        shown = f"one of {', '.join(self.choices)}" if self.kind is Kind.CHOICE else \
            self.kind.value
        return f"{shown} (required)" if self.required else shown


@dataclass(frozen=True)
class Milestone:
    name: str
    source: Source
    properties: Mapping[str, Property] = field(default_factory=dict)


def _code(required: bool = False) -> Property:
    return Property(Kind.CODE, required=required)


_REF, _INT, _CURRENCY_P = Property(Kind.REF), Property(Kind.INTEGER), Property(Kind.CURRENCY)
_SIGN_IN = {"provider": _code(), "channel": _code(), "campaign": _code(), "reason": _code(),
            "method": _code()}
_STOREFRONT = [
    Milestone("Product Viewed", Source.STOREFRONT, {"sku": _code(required=True)}),
    Milestone("Product Added", Source.STOREFRONT, {"sku": _code(required=True),
                                                   "quantity": _INT}),
    Milestone("Checkout Started", Source.STOREFRONT, {
        "item_count": _INT, "value_minor": _INT, "currency": _CURRENCY_P}),
    Milestone("Coupon Applied", Source.STOREFRONT, {
        "coupon": _code(required=True), "order_ref": _REF, "discount_minor": _INT,
        "currency": _CURRENCY_P}),
    Milestone("Coupon Denied", Source.STOREFRONT, {
        "coupon": _code(required=True), "reason": Property(
            Kind.CHOICE, ("expired", "invalid", "not_applicable", "used_up"))}),
    Milestone("Support Contacted", Source.STOREFRONT, {
        "channel": Property(Kind.CHOICE, ("chat", "email", "phone", "form"), required=True),
        "topic": Property(Kind.CHOICE, ("order", "payment", "delivery", "return", "account",
                                        "other")),
        "order_ref": _REF}),
]
_SERVER = [
    Milestone("Signed Up", Source.SERVER, _SIGN_IN),
    Milestone("Login Started", Source.SERVER, _SIGN_IN),
    Milestone("Login Succeeded", Source.SERVER, _SIGN_IN),
    Milestone("Login Failed", Source.SERVER, _SIGN_IN),
    Milestone("Link Started", Source.SERVER, _SIGN_IN),
    Milestone("Identity Linked", Source.SERVER, _SIGN_IN),
    Milestone("Identity Unlinked", Source.SERVER, _SIGN_IN),
    Milestone("Accounts Merged", Source.SERVER),
    Milestone("Order Placed", Source.SERVER, {"order_ref": _REF, "total_minor": _INT,
                                              "currency": _CURRENCY_P}),
    Milestone("Order Completed", Source.SERVER, {"order_ref": _REF}),  # payment succeeded
    Milestone("Payment Failed", Source.SERVER, {"order_ref": _REF, "reason": _code()}),
    Milestone("Shipment Updated", Source.SERVER, {"order_ref": _REF, "status": _code()}),
    Milestone("Order Delivered", Source.SERVER, {"order_ref": _REF}),
    Milestone("Order Refunded", Source.SERVER, {"order_ref": _REF, "amount_minor": _INT,
                                                "currency": _CURRENCY_P}),
    Milestone("Order Cancelled", Source.SERVER, {"order_ref": _REF, "reason": _code()}),
]
PLAN: dict[str, Milestone] = {m.name: m for m in [*_STOREFRONT, *_SERVER]}
# The purchase funnel the admin report counts, in order.
FUNNEL = ("Product Viewed", "Product Added", "Checkout Started", "Coupon Applied",
          "Order Placed", "Order Completed", "Order Delivered")


class OffPlan(DomainError):
    """An event the tracking plan does not allow as sent; `allowed` says what it allows."""

    def __init__(self, detail: str, *, allowed: dict[str, Any]) -> None:
        super().__init__(detail)
        self.allowed = allowed


def allowed_from(source: Source) -> dict[str, dict[str, str]]:
    """What `source` may send: each event's properties and their types."""
    return {m.name: {key: p.describe() for key, p in m.properties.items()}
            for m in PLAN.values() if m.source is source}


def check(name: str, properties: Mapping[str, Any], source: Source) -> Milestone:
    """The milestone `name` names, when `source` may send it with these properties; else
    OffPlan listing every problem and what is allowed."""
    milestone = PLAN.get(name)
    if milestone is None or milestone.source is not source:
        raise OffPlan(f"{name!r} is not an event the {source.value} may send",
                      allowed={"events": sorted(allowed_from(source))})
    problems = [f"{key!r} is not a property of {name!r}" for key in properties
                if key not in milestone.properties]
    problems += [f"{key!r} must be {p.describe()}" for key, p in milestone.properties.items()
                 if (key in properties and not p.accepts(properties[key]))
                 or (p.required and key not in properties)]
    if problems:
        raise OffPlan("; ".join(problems), allowed={
            "event": name, "properties": allowed_from(source)[name]})
    return milestone


def conform(name: str, properties: Mapping[str, Any]) -> tuple[Milestone | None, dict[str, Any],
                                                               list[str]]:
    """The server's own event as the plan allows it: (milestone or None when the plan does
    not know the event, the properties kept, the names of those dropped)."""
    milestone = PLAN.get(name)
    if milestone is None:
        return None, {}, sorted(properties)
    kept = {key: value for key, value in properties.items()
            if key in milestone.properties and milestone.properties[key].accepts(value)}
    return milestone, kept, sorted(set(properties) - set(kept))
