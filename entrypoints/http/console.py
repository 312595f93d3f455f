"""The operations console: server-rendered pages for admins (/ops). Open incidents
(acknowledge, resolve), the fraud review queue (approve, reject with a note), an order's
timeline with its evidence and a chain verification, provider health over the last hour,
and the outbox and inbox backlogs.

Signing in sets the access token in an HttpOnly, SameSite=Strict cookie scoped to /ops; every
form carries a CSRF token derived from it (and checked in constant time), so a page from
elsewhere can neither read nor forge a change.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.customers import Customer
from domain.errors import DomainError, Forbidden, Unauthorized
from entrypoints.http.api import container

COOKIE = "mall_ops"
_PAGES = Environment(loader=FileSystemLoader(str(Path(__file__).with_name("templates"))),
                     autoescape=select_autoescape(["html"]))
POLICY = ("default-src 'self'; script-src 'none'; style-src 'unsafe-inline'; "
          "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")


def _csrf(request: web.Request, token: str) -> str:
    key = container(request).config.secret_key().encode()
    return hmac.new(key, f"ops-csrf:{token}".encode(), hashlib.sha256).hexdigest()[:32]


def _page(request: web.Request, template: str, status: int = 200,
          **values: Any) -> web.Response:
    token = request.cookies.get(COOKIE, "")
    html = _PAGES.get_template(template).render(
        csrf=_csrf(request, token) if token else "", notice=request.query.get("notice", ""),
        **values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": POLICY,
                                 "Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _back(to: str, notice: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{to}?notice={quote(notice)}" if notice else to)


async def _admin(request: web.Request) -> Customer | None:
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    try:
        customer = await container(request).accounts().authenticate(token)
    except (Unauthorized, Forbidden):
        return None
    return customer if customer.is_admin else None


async def _form(request: web.Request) -> tuple[Customer, dict[str, str]]:
    """A change posted by a signed-in admin, with the right CSRF token."""
    admin = await _admin(request)
    if admin is None:
        raise web.HTTPSeeOther("/ops/sign-in")
    form = {key: str(value) for key, value in (await request.post()).items()}
    expected = _csrf(request, request.cookies.get(COOKIE, ""))
    if not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        raise web.HTTPForbidden(text="this form is stale or was not sent from the console; "
                                     "reload the page and try again")
    return admin, form


async def sign_in_page(request: web.Request) -> web.Response:
    return _page(request, "ops_sign_in.html", error="")


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        pair = await container(request).accounts().login(
            str(form.get("email", "")), str(form.get("password", "")), client=request.remote)
        customer = await container(request).accounts().authenticate(pair.access_token)
    except DomainError as exc:
        return _page(request, "ops_sign_in.html", status=401, error=exc.detail)
    if not customer.is_admin:
        return _page(request, "ops_sign_in.html", status=403,
                     error="this account has no admin role")
    response = web.HTTPSeeOther("/ops")
    response.set_cookie(COOKIE, pair.access_token, path="/ops", httponly=True,
                        samesite="Strict",
                        secure=container(request).config.base_url().startswith("https://"))
    raise response


async def sign_out(request: web.Request) -> web.StreamResponse:
    await _form(request)
    response = web.HTTPSeeOther("/ops/sign-in")
    response.del_cookie(COOKIE, path="/ops")
    raise response


async def dashboard(request: web.Request) -> web.Response:
    admin = await _admin(request)
    if admin is None:
        raise web.HTTPSeeOther("/ops/sign-in")
    c = container(request)
    incidents = [i for i in await c.incident_alerts().listing(None, 100)
                 if i["status"] != "resolved"]
    figures = await c.metrics_page().figures()
    backlog = {name.removeprefix("mall_"): samples for name, samples in figures.items()
               if name.startswith(("mall_outbox", "mall_inbox", "mall_operations"))}
    return _page(request, "ops_dashboard.html", admin=admin, incidents=incidents,
                 reviews=await c.payments().pending_reviews(), backlog=backlog,
                 providers=c.metrics_page().provider_health())


async def decide_review(request: web.Request) -> web.StreamResponse:
    admin, form = await _form(request)
    order_id = request.match_info["order_id"]
    approve = form.get("decision") == "approve"
    try:
        await container(request).payments().decide_review(
            order_id, approve=approve, admin_id=admin.id, note=form.get("note", "")[:500])
    except DomainError as exc:
        raise _back("/ops", f"{order_id}: {exc.detail}") from None
    raise _back(f"/ops/orders/{order_id}", "approved: it ships once the capture is "
                "confirmed" if approve else "rejected: the order is cancelled")


async def incident_action(request: web.Request) -> web.StreamResponse:
    admin, form = await _form(request)
    incident_id, action = request.match_info["id"], request.match_info["action"]
    desk = container(request).incident_alerts()
    try:
        if action == "acknowledge":
            await desk.acknowledge(incident_id, admin.id)
        else:
            await desk.resolve(incident_id, admin.id, form.get("note", "")[:500])
    except DomainError as exc:
        raise _back("/ops", exc.detail) from None
    raise _back("/ops", f"incident {incident_id} {action}d")


async def order_page(request: web.Request) -> web.Response:
    if await _admin(request) is None:
        raise web.HTTPSeeOther("/ops/sign-in")
    order_id = request.match_info["order_id"]
    try:
        timeline = await container(request).evidence().order_timeline(order_id)
    except DomainError as exc:
        return _page(request, "ops_order.html", status=404, missing=exc.detail,
                     order_id=order_id, timeline=None)
    return _page(request, "ops_order.html", order_id=order_id, timeline=timeline, missing="")


async def verify_chain(request: web.Request) -> web.Response:
    await _form(request)
    report = (await container(request).evidence().verify()).as_dict()
    return _page(request, "ops_chain.html", report=report)


def add_console(app: web.Application) -> None:
    app.router.add_get("/ops", dashboard)
    app.router.add_get("/ops/sign-in", sign_in_page)
    app.router.add_post("/ops/sign-in", sign_in)
    app.router.add_post("/ops/sign-out", sign_out)
    app.router.add_post("/ops/reviews/{order_id}", decide_review)
    app.router.add_post("/ops/incidents/{id}/{action:acknowledge|resolve}", incident_action)
    app.router.add_get("/ops/orders/{order_id}", order_page)
    app.router.add_post("/ops/evidence/verify", verify_chain)
