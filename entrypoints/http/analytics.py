"""Analytics: the storefront's milestones (`POST /v1/events`, held to the tracking plan) and,
for admins, the funnel report and the dead letters of the analytics services."""

from __future__ import annotations

from aiohttp import web

from bootstrap import REQUEST_ID
from domain.errors import DomainError
from domain.tracking_plan import OffPlan
from entrypoints.http.api import (
    DATE_RANGE_PARAMS,
    BadRequest,
    RouteTable,
    container,
    current_admin,
    current_customer,
    date_range,
    json_response,
    parse,
    read_body,
)
from entrypoints.http.problems import problem
from entrypoints.http.schemas.analytics import (
    DeadLettersOut,
    FunnelOut,
    MilestoneIn,
    MilestoneOut,
    ReplayOut,
)

table = RouteTable("storefront")
admin_table = RouteTable("admin")

@table.add("POST", "/v1/events", "Record a storefront milestone (checkout started, coupon "
           "applied, support contacted, ...) for analytics. It must be an event of the tracking "
           "plan with its typed properties and no personal data, or the 422 lists what the plan "
           "allows; it reaches the analytics services only with the customer's consent where "
           "their jurisdiction requires it", request=MilestoneIn,
           responses={202: MilestoneOut, 401: None, 422: None})
async def record_milestone(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    body = parse(MilestoneIn, await read_body(request))
    try:
        message_id = await container(request).analytics_service().record_milestone(
            customer.id, body.event, body.properties)
    except OffPlan as exc:
        return problem(422, exc.code, exc.detail, retryable=False,
                       instance=f"urn:request:{REQUEST_ID.get()}", allowed=exc.allowed)
    return json_response(MilestoneOut(event=body.event, message_id=message_id), status=202)


@admin_table.add("GET", "/v1/admin/analytics/funnel", "The purchase funnel over a date range: "
                 "how many of each milestone occurred (counts only)",
                 responses={200: FunnelOut, 400: None, 403: None}, auth="admin",
                 params=DATE_RANGE_PARAMS)
async def funnel(request: web.Request) -> web.Response:
    await current_admin(request)
    start, end = date_range(request)
    try:
        report = await container(request).analytics_service().funnel(start, end)
    except DomainError as exc:
        raise BadRequest(exc.detail) from None
    return json_response(FunnelOut(**report))


@admin_table.add("GET", "/v1/admin/analytics/dead-letters", "How many analytics events each "
                 "service gave up on (refused, or failing past the last attempt)",
                 responses={200: DeadLettersOut, 403: None}, auth="admin")
async def dead_letters(request: web.Request) -> web.Response:
    await current_admin(request)
    counts = await container(request).analytics_service().dead_letters()
    return json_response(DeadLettersOut(dead_letters=counts))


@admin_table.add("POST", "/v1/admin/analytics/dead-letters/replay", "Send the dead letters "
                 "again (of one service, or of all), once the cause is fixed",
                 responses={200: ReplayOut, 403: None, 422: None}, auth="admin",
                 body_required=False, params=[
                     {"name": "destination", "in": "query", "required": False,
                      "schema": {"type": "string", "enum": ["ga4", "log", "segment"]}}])
async def replay(request: web.Request) -> web.Response:
    await current_admin(request)
    replayed = await container(request).analytics_service().replay(
        request.query.get("destination", ""))
    return json_response(ReplayOut(replayed=replayed))
