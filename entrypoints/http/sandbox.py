"""The sandbox providers' own pages and controls: what a tester does at the bank or the
identity provider. Mounted only while a sandbox provider is configured."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from domain.errors import NotFound
from entrypoints.http import schemas as s
from entrypoints.http.api import BadRequest, RouteTable, container, json_response

table = RouteTable("sandbox")
REFERENCE = {"name": "provider_reference", "in": "path", "required": True,
             "schema": {"type": "string"},
             "description": "the payment's provider_reference, as the order view shows it"}


def _payment_action(method: str, path: str, summary: str, act: str, done: str,
                    missing: str) -> None:
    """A route that does what the customer or the bank would do to a sandbox payment."""

    async def action(request: web.Request) -> web.Response:
        gateway = container(request).sandbox_gateway()
        if not await getattr(gateway, act)(request.match_info["provider_reference"]):
            raise NotFound(missing)
        return json_response({"status": done})

    table.add(method, path, summary, responses={200: s.SandboxStatusOut, 404: None},
              auth=None, params=[REFERENCE])(action)


_payment_action("POST", "/sandbox/payments/{provider_reference}/deposit",
                "Sandbox: deposit into a virtual account now (the gateway then calls us back)",
                "deposit", "deposited",
                "no sandbox virtual account awaiting a deposit with this reference")
_payment_action("GET", "/sandbox/3ds/{provider_reference}",
                "Sandbox: the bank's 3-D Secure page; visiting it approves the payment",
                "complete_action", "authenticated",
                "no sandbox payment waiting for authentication with this reference")
_payment_action("POST", "/sandbox/payments/{provider_reference}/dispute",
                "Sandbox: the card holder disputes the charge (then /won or /lost decides it)",
                "dispute", "disputed",
                "no captured sandbox payment without an open dispute has this reference")


@table.add("GET", "/sandbox/identity/authorize",
           "Sandbox: the identity provider's sign-in page; signs the test user in and "
           "redirects back with a code", responses={302: None, 400: None}, auth=None)
async def sandbox_authorize(request: web.Request) -> web.Response:
    c = container(request)
    query = request.query
    missing = [name for name in ("redirect_uri", "state", "nonce", "code_challenge")
               if not query.get(name)]
    if missing:
        raise BadRequest(f"missing {', '.join(missing)}")
    redirect_uri = query["redirect_uri"]
    if not redirect_uri.startswith(c.config.base_url() + "/"):
        raise BadRequest("redirect_uri must point back to this backend")
    code = c.sandbox_identity().issue_code(
        subject=query.get("login_hint", "sandbox-user")[:64], nonce=query["nonce"],
        code_challenge=query["code_challenge"], redirect_uri=redirect_uri)
    back = urlencode({"code": code, "state": query["state"], "iss": c.config.base_url()})
    raise web.HTTPFound(f"{redirect_uri}?{back}")


@table.add("POST", "/sandbox/payments/{provider_reference}/dispute/{outcome}",
           "Sandbox: the card network decides the open dispute (outcome: won or lost)",
           responses={200: s.SandboxStatusOut, 404: None}, auth=None,
           params=[REFERENCE, {"name": "outcome", "in": "path", "required": True,
                               "schema": {"type": "string", "enum": ["won", "lost"]}}])
async def sandbox_dispute_outcome(request: web.Request) -> web.Response:
    outcome = request.match_info["outcome"]
    if outcome not in ("won", "lost"):
        raise BadRequest("the outcome is won or lost")
    if not await container(request).sandbox_gateway().dispute(
            request.match_info["provider_reference"], outcome):
        raise NotFound("no open sandbox dispute on a payment with this reference")
    return json_response({"status": outcome})


@table.add("GET", "/sandbox/real-name/verify",
           "Sandbox: a Korean identity verification (PASS-style) passed by `person`; returns "
           "the token to send to POST /v1/me/real-name-verification",
           responses={200: s.SandboxTokenOut, 400: None, 404: None}, auth=None,
           params=[{"name": "person", "in": "query", "required": True,
                    "schema": {"type": "string"}}])
async def sandbox_real_name(request: web.Request) -> web.Response:
    person = request.query.get("person", "").strip()
    if not person or len(person) > 64:
        raise BadRequest("give ?person=<any label of up to 64 characters>: the same label is "
                         "the same person")
    verifier = container(request).real_name_verifier()
    if verifier is None:
        raise NotFound("no real-name verification is configured")
    return json_response({"token": verifier.issue_token(person,
                                                        request.query.get("adult") != "false")})
