"""Bodies of delivery incidents: what the customer reads and what they choose."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from domain.delivery_incidents import (
    MAX_RESCHEDULE_DAYS,
    CustomerOption,
    IncidentStatus,
    Owner,
    Resolution,
)
from domain.shipments import DeliveryProblem
from entrypoints.http.schemas.fields import Answer, Strict
from entrypoints.http.schemas.orders import AddressIn


class DeliveryIncidentOut(Answer):
    """A parcel the carrier could not deliver: who must act, by when, and what the customer
    can still choose (`options`, empty once resolved)."""

    id: str
    order_id: str
    shipment_id: str
    seller_id: str
    problem: DeliveryProblem
    reason: str = Field(description="the carrier's words")
    owner: Owner
    status: IncidentStatus
    options: list[CustomerOption]
    opened_at: str
    deadline: str | None = Field(description="past it, unresolved, the incident escalates to "
                                             "the operators; null once resolved")
    address_corrected: bool
    resolution: Resolution | None
    resolved_at: str | None
    steps: list[dict[str, str]] = Field(
        description="what was done, in order: {step, at, ...} (a new shipment_id, a "
                    "refund_id or a delivery_date); never an address")


class DeliveryIncidentList(Answer):
    incidents: list[DeliveryIncidentOut]


class IncidentActionIn(Strict):
    """One of the incident's `options`. `correct_address` takes `shipping_address` (in the
    order's country: what ships from now on goes there) and keeps the incident open for a
    delivery choice; `reschedule` takes `delivery_date`; `reshipment` sends the same goods
    again with the same carrier; `refund` pays them back."""

    option: Literal["correct_address", "reschedule", "reshipment", "refund"]
    shipping_address: AddressIn | None = None
    delivery_date: date | None = Field(
        None, strict=False, examples=["2026-12-05"],
        description=f"YYYY-MM-DD, after today and within {MAX_RESCHEDULE_DAYS} days")

    @model_validator(mode="after")
    def _what_the_option_takes(self) -> IncidentActionIn:
        if (self.option == "correct_address") != (self.shipping_address is not None):
            raise ValueError("shipping_address goes with option correct_address, and only "
                             "with it")
        if (self.option == "reschedule") != (self.delivery_date is not None):
            raise ValueError("delivery_date goes with option reschedule, and only with it")
        return self
