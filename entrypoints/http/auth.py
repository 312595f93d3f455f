"""Sign-in REST: password accounts, OpenID Connect providers, sessions, linked identities,
and the customer's privacy rights (export, erasure, consents, real-name verification)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from application.identity import SignInResult, SignInStart, TokenPair
from bootstrap import REQUEST_ID
from domain.errors import DomainError
from domain.failures import preferred_language
from domain.identity import browser_cookie_name
from entrypoints.http import schemas as s
from entrypoints.http.api import (
    DATE_RANGE_PARAMS,
    BadRequest,
    RouteTable,
    container,
    current_admin,
    current_customer,
    date_range,
    dumps,
    json_response,
    parse,
    read_body,
    read_form,
)
from entrypoints.http.problems import problem

table = RouteTable("auth")
PROVIDER = {"name": "provider", "in": "path", "required": True,
            "schema": {"type": "string", "example": "google"}}


def _pair(pair: TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "token_type": pair.token_type,
            "expires_in": pair.expires_in, "refresh_token": pair.refresh_token,
            "refresh_expires_in": pair.refresh_expires_in}


def _client(request: web.Request) -> str | None:
    """The client's address, which sign-in limits count by: the edge proxy's header when one
    is configured (MALL_CLIENT_ADDRESS_HEADER), the TCP peer otherwise. In a list (as in
    X-Forwarded-For) the last entry is the one our proxy added; the client wrote the others."""
    header = container(request).config.client_address_header()
    if header and request.headers.get(header):
        return request.headers[header].split(",")[-1].strip()[:100]
    return request.remote


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# --- password accounts ------------------------------------------------------------------------


@table.add("POST", "/v1/auth/register", "Create a customer account (a verification email "
           "follows)", request=s.Registration,
           responses={201: s.CustomerOut, 409: None, 422: None, 429: None}, auth=None)
async def register(request: web.Request) -> web.Response:
    body = parse(s.Registration, await read_body(request))
    customer = await container(request).accounts().register(
        body.email, body.password, country=body.country, client=_client(request))
    return json_response(s.customer_out(customer), status=201)


@table.add("POST", "/v1/auth/login", "Sign in with email and password: an access token and a "
           "refresh token", request=s.Credentials,
           responses={200: s.TokenOut, 401: None, 429: None}, auth=None)
async def login(request: web.Request) -> web.Response:
    body = parse(s.Credentials, await read_body(request))
    return json_response(_pair(await container(request).accounts().login(
        body.email, body.password, client=_client(request))))


@table.add("POST", "/v1/auth/refresh", "Exchange a refresh token for new tokens (it rotates; "
           "a reused one ends every session of its sign-in)", request=s.RefreshIn,
           responses={200: s.TokenOut, 401: None}, auth=None)
async def refresh(request: web.Request) -> web.Response:
    body = parse(s.RefreshIn, await read_body(request))
    return json_response(_pair(await container(request).sessions().refresh(body.refresh_token)))


@table.add("POST", "/v1/auth/logout", "Sign out: this session (or every session) is revoked",
           request=s.LogoutIn, responses={200: s.SessionsRevokedOut, 401: None},
           body_required=False)
async def logout(request: web.Request) -> web.Response:
    await current_customer(request)
    raw = await read_body(request)
    body = parse(s.LogoutIn, raw) if raw.strip() else s.LogoutIn()
    revoked = await container(request).sessions().logout(_bearer(request), body.everywhere)
    return json_response({"revoked_sessions": revoked})


@table.add("POST", "/v1/auth/email/verify", "Confirm an email address with the emailed token",
           request=s.TokenIn, responses={200: s.CustomerOut, 401: None}, auth=None)
async def verify_email(request: web.Request) -> web.Response:
    body = parse(s.TokenIn, await read_body(request))
    customer = await container(request).accounts().verify_email(body.token)
    return json_response(s.customer_out(customer))


@table.add("GET", "/v1/auth/email/verify", "The emailed link itself: confirms the address",
           responses={200: s.CustomerOut, 400: None, 401: None}, auth=None,
           params=[{"name": "token", "in": "query", "required": True,
                    "schema": {"type": "string"}}])
async def verify_email_link(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    if not 10 <= len(token) <= 4096:
        raise BadRequest("the link is incomplete: open the whole link from the email")
    customer = await container(request).accounts().verify_email(token)
    return json_response(s.customer_out(customer))


@table.add("POST", "/v1/auth/email/verification", "Send the verification email again",
           responses={200: s.VerificationSentOut, 202: s.VerificationSentOut, 401: None,
                      429: None})
async def resend_verification(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    sent = await container(request).accounts().resend_verification(customer,
                                                                    client=_client(request))
    return json_response({"status": "sent" if sent else "already verified"},
                         status=202 if sent else 200)


@table.add("GET", "/v1/auth/password/reset", "The emailed reset link: says how to finish "
           "(POST the new password with this token)", responses={200: s.NextStepOut}, auth=None,
           params=[{"name": "token", "in": "query", "required": True,
                    "schema": {"type": "string"}}])
async def reset_password_link(request: web.Request) -> web.Response:
    return json_response({
        "next": "POST /v1/auth/password/reset with {\"token\": <this link's token>, "
                "\"password\": <the new password>} within 30 minutes"})


@table.add("POST", "/v1/auth/password/forgot", "Email a password reset link (the answer is the "
           "same whether or not the address has an account)", request=s.EmailIn,
           responses={202: s.ResetSentOut, 429: None}, auth=None)
async def forgot_password(request: web.Request) -> web.Response:
    body = parse(s.EmailIn, await read_body(request))
    await container(request).accounts().forgot_password(body.email, client=_client(request))
    return json_response({"status": "sent if the address has an account"}, status=202)


@table.add("POST", "/v1/auth/password/reset", "Set a new password with the emailed token; "
           "every session ends", request=s.PasswordResetIn,
           responses={204: None, 401: None, 429: None}, auth=None)
async def reset_password(request: web.Request) -> web.Response:
    body = parse(s.PasswordResetIn, await read_body(request))
    await container(request).accounts().reset_password(body.token, body.password,
                                                       client=_client(request))
    return web.Response(status=204)


# --- external providers -------------------------------------------------------------------------


@table.add("GET", "/v1/auth/providers", "Sign-in providers, whether each is up right now, "
           "and why not when it is not",
           responses={200: s.ProviderList}, auth=None)
async def list_providers(request: web.Request) -> web.Response:
    providers = container(request).identity_providers()
    listed = []
    for name, idp in providers.items():
        up = await idp.available()
        listed.append({"name": name, "available": up, "start": f"/v1/auth/{name}/start",
                       "reason": None if up else idp.fault() or "not answering right now"})
    return json_response({"providers": listed, "password": True})


@table.add("GET", "/v1/auth/{provider}/start", "Start signing in with a provider: a redirect "
           "to it (503 with the other ways in when it is down)",
           responses={302: None, 404: None, 429: None, 503: None}, auth=None, params=[
               PROVIDER,
               {"name": "channel", "in": "query", "required": False,
                "schema": {"type": "string"}, "description": "or utm_source"},
               {"name": "campaign", "in": "query", "required": False,
                "schema": {"type": "string"}, "description": "or utm_campaign"},
               {"name": "login_hint", "in": "query", "required": False,
                "schema": {"type": "string"}}])
async def start(request: web.Request) -> web.Response:
    query = request.query
    started = await container(request).sign_in().start(
        request.match_info["provider"],
        channel=query.get("channel") or query.get("utm_source", ""),
        campaign=query.get("campaign") or query.get("utm_campaign", ""),
        login_hint=(query.get("login_hint") or None), client=_client(request))
    response = web.HTTPFound(started.authorization_url)
    _bind_browser(request, response, started)
    raise response


def _bind_browser(request: web.Request, response: web.StreamResponse,
                  started: SignInStart) -> None:
    """The browser that goes to the provider keeps a secret the callback must bring back:
    a flow started by someone else (login or link CSRF) cannot be finished in it."""
    c = container(request)
    https = c.config.base_url().startswith("https://")
    form_post = c.identity_providers()[request.match_info["provider"]].response_mode == \
        "form_post"
    response.set_cookie(
        started.cookie_name, started.browser_secret, max_age=600, path="/v1/auth/",
        httponly=True, secure=https,
        # A provider that posts its answer (Apple) comes back cross-site: only a SameSite=None
        # cookie travels with it, and browsers accept those over https only.
        samesite="None" if form_post and https else "Lax")


def _result(result: SignInResult, language: str = "en") -> web.Response:
    body: dict[str, Any] = {"status": result.status, "message": result.message,
                            "customer_id": result.customer_id, "created": result.created,
                            "ways_in": result.ways_in}
    if result.tokens is not None:
        body.update(_pair(result.tokens))
    if result.link_token is not None:
        body["link_token"] = result.link_token
    if result.account is not None:
        body["account"] = {"provider": result.account.provider,
                           "subject": result.account.subject, "email": result.account.email,
                           "email_verified": result.account.email_verified,
                           "display": result.account.display}
    status = {"signed_in": 201 if result.created else 200, "linked": 200}.get(
        result.status, 409)
    if result.status == "link_pending" and result.customer_id is not None:
        status = 200  # the signed-in customer's own link, awaiting their confirmation
    if status == 409:  # a refusal: a problem document that carries the ways forward
        del body["status"]
        return problem(409, result.status.replace("_", "-"), result.message, retryable=False,
                       instance=f"urn:request:{REQUEST_ID.get()}", language=language,
                       outcome=result.status, **body)
    return json_response(body, status=status)


async def _callback(request: web.Request, params: dict[str, str]) -> web.Response:
    result = await container(request).sign_in().callback(
        request.match_info["provider"], params, dict(request.cookies))
    response = _result(result, preferred_language(request.headers.get("Accept-Language")))
    state = params.get("state", "")
    if state:
        response.del_cookie(browser_cookie_name(state), path="/v1/auth/")
    return response


@table.add("GET", "/v1/auth/{provider}/callback", "Where the provider sends the customer back "
           "(code, state, iss)", responses={200: s.SignInOut, 201: s.SignInOut, 401: None,
                                            409: s.SignInConflict, 503: None},
           auth=None, params=[PROVIDER])
async def callback(request: web.Request) -> web.Response:
    return await _callback(request, {k: v[:4096] for k, v in request.query.items()})


@table.add("POST", "/v1/auth/{provider}/callback", "The same, for providers that post the "
           "answer (form_post: Apple)", responses={200: s.SignInOut, 201: s.SignInOut,
                                                   401: None, 409: s.SignInConflict, 503: None},
           auth=None, params=[PROVIDER], form=s.FORM_POST_CALLBACK)
async def callback_form(request: web.Request) -> web.Response:
    form = await read_form(request)
    return await _callback(request, {k: v[:4096] for k, v in form.items()})


# --- the signed-in customer's identities ---------------------------------------------------


@table.add("GET", "/v1/me/identities", "Providers linked to the account, and the ways in",
           responses={200: s.IdentityList})
async def identities(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    linked = await container(request).sign_in().identities(customer.id)
    return json_response({
        "identities": [{"provider": i.provider, "email": i.email,
                        "email_verified": i.email_verified,
                        "linked_at": i.linked_at.isoformat()} for i in linked],
        "password": customer.has_password})


@table.add("POST", "/v1/me/identities/{provider}", "Link another provider: the URL to send "
           "the customer to", responses={200: s.LinkStartOut, 404: None, 429: None, 503: None},
           params=[PROVIDER])
async def link(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    claims = container(request).tokens().claims(_bearer(request))
    started = await container(request).sign_in().start(
        request.match_info["provider"], customer_id=customer.id,
        session_id=str(claims["sid"]) if claims.get("sid") else None,
        client=_client(request))
    response = json_response({"authorization_url": started.authorization_url})
    _bind_browser(request, response, started)
    return response


@table.add("DELETE", "/v1/me/identities/{provider}", "Unlink a provider (refused when it is "
           "the last way to sign in)", responses={204: None, 404: None, 409: None},
           params=[PROVIDER])
async def unlink(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    await container(request).sign_in().unlink(customer.id, request.match_info["provider"])
    return web.Response(status=204)


@table.add("POST", "/v1/me/identities/confirm", "Confirm linking a provider account: the "
           "link token from a link's callback (after checking the account it names) or from a "
           "sign-in whose verified email matched this account",
           request=s.LinkConfirmIn, responses={200: s.LinkConfirmedOut, 401: None, 409: None})
async def confirm_link(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    body = parse(s.LinkConfirmIn, await read_body(request))
    identity = await container(request).sign_in().confirm_link(customer.id, body.link_token)
    return json_response({"provider": identity.provider, "linked": True})


@table.add("POST", "/v1/me/merge", "Merge another account you own into this one (prove it with "
           "that account's access token)", request=s.MergeIn,
           responses={200: s.MergeOut, 401: None, 409: None})
async def merge(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    container(request).sessions().require_recent(_bearer(request))
    body = parse(s.MergeIn, await read_body(request))
    moved = await container(request).sign_in().merge(customer.id, body.access_token)
    return json_response({"merged": True, "moved": moved})


# --- privacy ----------------------------------------------------------------------------------


@table.add("POST", "/v1/me/real-name-verification", "Record a Korean identity verification "
           "(CI/DI): one account per person", request=s.TokenIn,
           responses={200: s.RealNameOut, 401: None, 409: None})
async def real_name(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    body = parse(s.TokenIn, await read_body(request))
    service = container(request).real_names()
    return json_response(await service.verify(customer.id, body.token))


@table.add("GET", "/v1/me/consents", "The customer's consents",
           responses={200: s.ConsentsOut})
async def consents(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    return json_response({"consents": await container(request).accounts().consents(
        customer.id)})


@table.add("PUT", "/v1/me/consents", "Grant or withdraw consents", request=s.ConsentsIn,
           responses={200: s.ConsentsOut, 422: None})
async def set_consents(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    body = parse(s.ConsentsIn, await read_body(request))
    accounts = container(request).accounts()
    changes: dict[str, bool] = dict(body.consents.items())  # the purposes, as plain names
    return json_response({"consents": await accounts.set_consents(
        customer.id, changes, source=body.source, wording=body.wording)})


@table.add("GET", "/v1/me/export", "Everything we hold about you, as JSON (GDPR art. 15, 20)",
           responses={200: s.ExportOut})
async def export(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    document = await container(request).privacy().export(customer.id)
    response = web.Response(text=dumps(document), content_type="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@table.add("POST", "/v1/me/erasure", "Erase your account: personal data is erased or "
           "pseudonymized, sessions and links end; what the law still requires is kept apart",
           request=s.ErasureIn, responses={200: s.ErasureOut, 422: None})
async def erase(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    container(request).sessions().require_recent(_bearer(request))
    body = parse(s.ErasureIn, await read_body(request))
    return json_response(await container(request).privacy().erase(customer.id, body.confirm))


# --- auth analytics ---------------------------------------------------------------------------


@table.add("GET", "/v1/admin/analytics/auth", "Sign-up conversion and attribution by provider "
           "and channel over a date range (counts only, no personal data)",
           responses={200: s.SignInReportOut, 400: None, 403: None}, auth="admin",
           params=DATE_RANGE_PARAMS)
async def auth_report(request: web.Request) -> web.Response:
    await current_admin(request)
    start, end = date_range(request)
    try:
        report = await container(request).sign_in().report(start, end)
    except DomainError as exc:
        raise BadRequest(exc.detail) from None
    return json_response(report)
