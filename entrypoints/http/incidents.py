"""Admin: the incidents the operators were alerted about. Acknowledging one stops its
escalation and acknowledges its page; resolving it closes the page (PagerDuty's alert is
resolved under the same dedup key). Acknowledging twice changes nothing; resolving twice is
refused with 409, the first resolution standing."""

from __future__ import annotations

from aiohttp import web

from domain.alerts import AlertStatus
from entrypoints.http.api import (
    BadRequest,
    RouteTable,
    container,
    current_admin,
    json_response,
    parse,
    query_int,
    read_body,
)
from entrypoints.http.schemas.incidents import (
    AlertedIncidentList,
    AlertedIncidentOut,
    ResolveIncidentIn,
)

table = RouteTable("admin")
INCIDENT = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
STATUSES = tuple(status.value for status in AlertStatus)


@table.add("GET", "/v1/admin/incidents",
           "Incidents the operators were alerted about (or those of one status), the most "
           "recent first; delivery incidents are listed under /v1/admin/delivery-incidents",
           responses={200: AlertedIncidentList, 400: None, 403: None}, auth="admin",
           params=[{"name": "status", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(STATUSES)}},
                   {"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                               "default": 50}}])
async def list_incidents(request: web.Request) -> web.Response:
    await current_admin(request)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    limit = query_int(request, "limit", 50, 1, 200)
    incidents = await container(request).incident_alerts().listing(status, limit)
    return json_response({"incidents": incidents})


@table.add("POST", "/v1/admin/incidents/{id}/acknowledge",
           "Take an incident on: its escalation stops and its page is acknowledged "
           "(again: nothing changes)",
           responses={200: AlertedIncidentOut, 403: None, 404: None, 409: None},
           auth="admin", params=[INCIDENT])
async def acknowledge(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    incident = await container(request).incident_alerts().acknowledge(
        request.match_info["id"], admin.id)
    return json_response(incident)


@table.add("POST", "/v1/admin/incidents/{id}/resolve",
           "End an incident, with a note of what was done: its page is resolved (a resolved "
           "incident cannot be resolved again: 409)", request=ResolveIncidentIn,
           responses={200: AlertedIncidentOut, 403: None, 404: None, 409: None, 422: None},
           auth="admin", params=[INCIDENT], body_required=False)
async def resolve(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    raw = await read_body(request)
    body = parse(ResolveIncidentIn, raw) if raw.strip() else ResolveIncidentIn()
    incident = await container(request).incident_alerts().resolve(
        request.match_info["id"], admin.id, body.note)
    return json_response(incident)
