"""Admin: rotate a provider's webhook secret or API key, or move it to another endpoint,
through the validated workflow (application/provider_credentials.py)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from domain.provider_credentials import CredentialKind, ProviderCredential
from entrypoints.http.api import (
    RouteTable,
    container,
    current_admin,
    json_response,
    parse,
    read_body,
)
from entrypoints.http.schemas import credentials as s

table = RouteTable("admin")
PROVIDER = {"name": "provider", "in": "path", "required": True,
            "schema": {"type": "string", "example": "stripe"}}
CREDENTIAL = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _out(credential: ProviderCredential) -> dict[str, object]:
    return {"id": credential.id, "provider": credential.provider,
            "kind": credential.kind.value, "version": credential.version,
            "fingerprint": credential.fingerprint, "status": credential.status.value,
            "proposed_at": credential.proposed_at.isoformat(),
            "retire_at": credential.retire_at.isoformat() if credential.retire_at else None,
            "reason": credential.reason, "steps": credential.steps}


@table.add("GET", "/v1/admin/providers/{provider}/credentials",
           "Every version of a provider's rotated secrets, keys and endpoints (fingerprints "
           "only), the newest first", responses={200: s.CredentialList, 403: None},
           auth="admin", params=[PROVIDER])
async def list_credentials(request: web.Request) -> web.Response:
    await current_admin(request)
    found = await container(request).provider_credentials().of_provider(
        request.match_info["provider"])
    return json_response({"credentials": [_out(c) for c in found]})


@table.add("POST", "/v1/admin/providers/{provider}/credentials",
           "Propose a new webhook secret, API key or endpoint; nothing changes until it is "
           "validated and activated", request=s.CredentialProposalIn,
           responses={201: s.CredentialOut, 403: None, 422: None}, auth="admin",
           params=[PROVIDER])
async def propose_credential(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.CredentialProposalIn, await read_body(request))
    credential = await container(request).provider_credentials().propose(
        request.match_info["provider"], CredentialKind(body.kind), body.value, admin.id)
    return json_response(_out(credential), status=201)


@table.add("POST", "/v1/admin/credentials/{id}/validate",
           "Validate a proposed value against the provider (a signed test event for a "
           "webhook secret); a failure rejects it, opens an incident and alerts",
           responses={200: s.CredentialOut, 403: None, 404: None, 422: None}, auth="admin",
           params=[CREDENTIAL])
async def validate_credential(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    credential = await container(request).provider_credentials().validate(
        request.match_info["id"], admin.id)
    return json_response(_out(credential))


@table.add("POST", "/v1/admin/credentials/{id}/activate",
           "Put a validated value in force; the one it replaces is still accepted for the "
           "overlap, then retired", request=s.CredentialActivationIn,
           responses={200: s.CredentialOut, 403: None, 404: None, 409: None}, auth="admin",
           params=[CREDENTIAL])
async def activate_credential(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.CredentialActivationIn, await read_body(request))
    credential = await container(request).provider_credentials().activate(
        request.match_info["id"], admin.id, timedelta(minutes=body.overlap_minutes))
    return json_response(_out(credential))


@table.add("POST", "/v1/admin/credentials/{id}/retire",
           "Stop accepting a replaced value now, before its overlap ends",
           responses={200: s.CredentialOut, 403: None, 404: None, 409: None, 422: None},
           auth="admin", params=[CREDENTIAL], body_required=False)
async def retire_credential(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    credential = await container(request).provider_credentials().retire(
        request.match_info["id"], admin.id)
    return json_response(_out(credential))
