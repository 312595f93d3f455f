"""Delivery incidents: the customer reads an order's incidents and acts on one; the operators
list those still open or escalated."""

from __future__ import annotations

from aiohttp import web

from domain.orders import ShippingAddress
from entrypoints.http.api import (
    BadRequest,
    RouteTable,
    container,
    current_admin,
    current_customer,
    json_response,
    parse,
    query_int,
    read_body,
)
from entrypoints.http.schemas.delivery_incidents import (
    DeliveryIncidentList,
    DeliveryIncidentOut,
    IncidentActionIn,
)
from entrypoints.http.storefront import IDEMPOTENCY, Outcome, answer_once

table = RouteTable("delivery incidents")
ORDER = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
INCIDENT = {"name": "incident_id", "in": "path", "required": True,
            "schema": {"type": "string"}}
STATUSES = ("open", "awaiting_customer", "awaiting_seller", "escalated")


@table.add("GET", "/v1/orders/{id}/delivery-incidents",
           "The order's delivery incidents, each with what the customer can choose and by when",
           responses={200: DeliveryIncidentList, 404: None}, params=[ORDER])
async def list_incidents(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    incidents = await container(request).delivery_incidents().of_order(
        customer.id, request.match_info["id"])
    return json_response({"incidents": incidents})


@table.add("POST", "/v1/orders/{id}/delivery-incidents/{incident_id}/actions",
           "Act on a delivery incident: correct the address, pick another delivery date, have "
           "the goods shipped again, or be refunded (idempotent with an Idempotency-Key)",
           request=IncidentActionIn,
           responses={200: DeliveryIncidentOut, 404: None, 409: None, 422: None},
           params=[ORDER, INCIDENT, {**IDEMPOTENCY, "required": False}])
async def act_on_incident(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    raw = await read_body(request)

    async def act() -> Outcome:
        body = parse(IncidentActionIn, raw)
        incidents = container(request).delivery_incidents()
        ids = (customer.id, request.match_info["id"], request.match_info["incident_id"])
        if body.option == "correct_address" and body.shipping_address is not None:
            address = ShippingAddress(**body.shipping_address.model_dump())
            view = await incidents.correct_address(*ids, address)
        elif body.option == "reschedule" and body.delivery_date is not None:
            view = await incidents.reschedule(*ids, body.delivery_date)
        elif body.option == "reshipment":
            view = await incidents.reship(*ids)
        else:
            view = await incidents.refund(*ids)
        return 200, view, {}

    return await answer_once(request, customer.id, raw, act, required=False)


@table.add("GET", "/v1/admin/delivery-incidents",
           "Delivery incidents not resolved yet (or those of one status), the longest "
           "waiting first",
           responses={200: DeliveryIncidentList, 400: None, 403: None}, auth="admin",
           params=[{"name": "status", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(STATUSES)}},
                   {"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                               "default": 50}}])
async def admin_incidents(request: web.Request) -> web.Response:
    await current_admin(request)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    limit = query_int(request, "limit", 50, 1, 200)
    incidents = await container(request).delivery_incidents().listing(status, limit)
    return json_response({"incidents": incidents})
