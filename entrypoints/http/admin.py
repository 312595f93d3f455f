"""Admin: the evidence ledger for audits and disputes, and its verification."""

from __future__ import annotations

from aiohttp import web

from entrypoints.http import schemas as s
from entrypoints.http.api import BadRequest, RouteTable, container, current_admin, json_response

table = RouteTable("admin")
SUBJECT = {"name": "subject", "in": "query", "required": True,
           "schema": {"type": "string", "example": "order:ord_..."}}


@table.add("GET", "/v1/admin/evidence", "Evidence records about one subject, in chain order",
           responses={200: s.EvidenceList, 400: None, 403: None}, auth="admin", params=[SUBJECT])
async def evidence_of(request: web.Request) -> web.Response:
    await current_admin(request)
    subject = request.query.get("subject", "").strip()
    if not subject or len(subject) > 80:
        raise BadRequest("give ?subject=<kind>:<id>, for example subject=order:ord_123")
    records = await container(request).evidence().of_subject(subject)
    return json_response({"subject": subject, "records": records})


@table.add("POST", "/v1/admin/evidence/verify",
           "Verify the whole evidence chain; reports the first altered or missing record",
           responses={200: s.ChainReportOut, 403: None}, auth="admin")
async def verify_evidence(request: web.Request) -> web.Response:
    await current_admin(request)
    report = await container(request).evidence().verify()
    return json_response(report.as_dict())
