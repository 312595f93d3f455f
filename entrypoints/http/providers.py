"""Admin: the provider registry. Which provider takes new payments and shipments, and a
switch from one to another while the first one's work drains
(application/provider_registry.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from domain.errors import DomainError
from domain.provider_registry import Capability, ContractStatus, PlanLine, RegisteredContract
from entrypoints.http.api import (
    RouteTable,
    container,
    current_admin,
    json_response,
    parse,
    read_body,
)
from entrypoints.http.schemas import providers as s

table = RouteTable("admin")
CONTRACT = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
CAPABILITY = {"name": "capability", "in": "path", "required": True,
              "schema": {"type": "string", "enum": ["payments", "shipping"]}}


def _out(contract: RegisteredContract) -> dict[str, Any]:
    return {"id": contract.id, "capability": contract.capability.value,
            "provider": contract.provider, "countries": list(contract.countries),
            "currencies": list(contract.currencies), "methods": list(contract.methods),
            "priority": contract.priority, "status": contract.status.value,
            "valid_from": contract.valid_from.isoformat() if contract.valid_from else None,
            "valid_until": contract.valid_until.isoformat() if contract.valid_until else None,
            "version": contract.version, "history": contract.history}


def _plan(capability: Capability, lines: list[PlanLine]) -> dict[str, Any]:
    return {"capability": capability.value,
            "providers": [{"provider": line.provider, "statuses": list(line.statuses),
                           "takes_new_work": line.takes_new_work,
                           "in_flight": line.in_flight} for line in lines],
            "drained": not any(line.in_flight for line in lines if not line.takes_new_work)}


def _terms(body: s.ContractTerms) -> dict[str, Any]:
    return {name: value for name, value in body.model_dump(
        include=set(s.ContractTerms.model_fields)).items() if value is not None}


def _capability(request: web.Request) -> Capability:
    try:
        return Capability(request.match_info["capability"])
    except ValueError:
        raise DomainError("capability is payments or shipping") from None


@table.add("GET", "/v1/admin/provider-contracts",
           "Every provider contract of the registry, with its versions",
           responses={200: s.ContractList, 403: None}, auth="admin")
async def list_contracts(request: web.Request) -> web.Response:
    await current_admin(request)
    found = await container(request).provider_registry().contracts()
    return json_response({"contracts": [_out(c) for c in found]})


@table.add("POST", "/v1/admin/provider-contracts",
           "Register a provider contract (standby unless said otherwise); once a capability "
           "has contracts in the registry, they route its new work instead of the settings'",
           request=s.ContractIn, responses={201: s.ContractOut, 403: None, 422: None},
           auth="admin")
async def add_contract(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.ContractIn, await read_body(request))
    contract = await container(request).provider_registry().add(
        Capability(body.capability), body.provider, admin.id, ContractStatus(body.status),
        **_terms(body))
    return json_response(_out(contract), status=201)


@table.add("PATCH", "/v1/admin/provider-contracts/{id}",
           "Change a contract's terms or state; a new version, kept with the others",
           request=s.ContractChangeIn,
           responses={200: s.ContractOut, 403: None, 404: None, 409: None, 422: None},
           auth="admin", params=[CONTRACT])
async def change_contract(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.ContractChangeIn, await read_body(request))
    contract = await container(request).provider_registry().change(
        request.match_info["id"], admin.id, body.version,
        ContractStatus(body.status) if body.status else None, body.note, **_terms(body))
    return json_response(_out(contract))


@table.add("POST", "/v1/admin/provider-switches",
           "Send new work to another provider: its contracts become active, the old one's "
           "retire; the old provider's work in flight drains (its webhooks are still "
           "accepted, its payments reconciled) and it is retired once none is left",
           request=s.SwitchIn, responses={200: s.SwitchPlanOut, 403: None, 422: None},
           auth="admin")
async def switch_provider(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = parse(s.SwitchIn, await read_body(request))
    capability = Capability(body.capability)
    lines = await container(request).provider_registry().switch(
        capability, body.from_provider, body.to_provider, admin.id)
    return json_response(_plan(capability, lines))


@table.add("GET", "/v1/admin/provider-switches/{capability}",
           "The switch plan: per provider, whether it takes new work and what is still in "
           "flight with it", responses={200: s.SwitchPlanOut, 403: None, 422: None},
           auth="admin", params=[CAPABILITY])
async def switch_plan(request: web.Request) -> web.Response:
    await current_admin(request)
    capability = _capability(request)
    lines = await container(request).provider_registry().plan(capability)
    return json_response(_plan(capability, lines))
