"""Bodies of the seller API: the parcels a seller hands to a Korean domestic carrier."""

from __future__ import annotations

from pydantic import Field, JsonValue

from domain.carriers import KOREAN_CARRIERS
from domain.orders import OrderStatus
from domain.shipments import ShipmentStatus
from entrypoints.http.schemas.fields import Answer, Strict
from entrypoints.http.schemas.orders import AddressIn, ParcelLine


class ParcelIn(Strict):
    carrier: str = Field(min_length=1, max_length=40, examples=["kr.cjlogistics"],
                         json_schema_extra={"enum": list[JsonValue](sorted(KOREAN_CARRIERS))})
    tracking_number: str = Field(
        min_length=1, max_length=40, examples=["6012 3456 7890"],
        description="as printed on the waybill; hyphens and spaces are ignored, the digits "
                    "must be of a length the carrier issues")
    lines: list[ParcelLine] | None = Field(
        None, max_length=100, description="what is in the parcel; all the seller still has to "
                                          "send for the order when omitted")


class ParcelOut(Answer):
    id: str
    carrier: str
    tracking_number: str | None
    status: ShipmentStatus
    lines: list[ParcelLine]


class SellerOrderOut(Answer):
    order_id: str
    status: OrderStatus
    carrier: str
    service: str
    ship_to: AddressIn
    to_ship: list[ParcelLine] = Field(description="what the seller has not sent yet")
    parcels: list[ParcelOut]
