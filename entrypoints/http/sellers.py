"""Seller API: what a seller has to send for an order, and the parcels it hands over.

A seller's system signs in with the API key the mall issued it (`mall seller-key <id>`),
sent as `Authorization: Bearer <key>`; it only ever sees orders with its own lines.
"""

from __future__ import annotations

from aiohttp import web

from domain.errors import Unauthorized
from entrypoints.http import schemas as s
from entrypoints.http.api import RouteTable, container, json_response, parse, read_body

table = RouteTable("sellers")
ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}


def current_seller(request: web.Request) -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send 'Authorization: Bearer <seller API key>' with the key the "
                           "mall issued to your shop")
    return container(request).seller_keys().seller_of(key.strip())


@table.add("GET", "/v1/seller/orders/{order_id}",
           "What the seller has to send for an order, where to, and the parcels sent",
           responses={200: s.SellerOrderOut, 404: None}, params=[ORDER_ID], auth="seller")
async def seller_order(request: web.Request) -> web.Response:
    seller_id = current_seller(request)
    return json_response(await container(request).seller_parcels().owed(
        seller_id, request.match_info["order_id"]))


@table.add("POST", "/v1/seller/orders/{order_id}/parcels",
           "Register a parcel handed to a Korean domestic carrier; it is tracked from then on "
           "(the same waybill again answers the parcel already registered)",
           request=s.ParcelIn, params=[ORDER_ID], auth="seller",
           responses={201: s.ParcelOut, 200: s.ParcelOut, 404: None, 409: None, 422: None})
async def register_parcel(request: web.Request) -> web.Response:
    seller_id = current_seller(request)
    body = parse(s.ParcelIn, await read_body(request))
    lines: dict[str, int] | None = None
    if body.lines:
        lines = {}
        for line in body.lines:
            lines[line.sku] = lines.get(line.sku, 0) + line.quantity
    created, view = await container(request).seller_parcels().register(
        seller_id, request.match_info["order_id"], body.carrier, body.tracking_number, lines)
    return json_response(view, status=201 if created else 200)
