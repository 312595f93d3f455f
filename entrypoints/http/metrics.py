"""/metrics for operators, and the counting of every request the web edge answers."""

from __future__ import annotations

import hmac
import ipaddress
import time

from aiohttp import web

from bootstrap import request_answered, server_span
from domain.errors import Forbidden
from entrypoints.http.api import Handler, RouteTable, container

table = RouteTable("operations")


@web.middleware
async def observing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Each request counted and traced by its route template (never the raw path: ids would
    make a series each, and some paths carry tokens). A caller's `traceparent` is continued
    (the storefront's, or ours coming back through a sandbox's webhook)."""
    started = time.perf_counter()
    status = 500
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    with server_span(f"{request.method} {route}", request.headers,
                      {"http.request.method": request.method, "http.route": route}) as span:
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            span.set_attribute("http.response.status_code", status)
            request_answered(request.method, route, status, time.perf_counter() - started)


def _operator(request: web.Request) -> None:
    token = container(request).config.metrics_token()
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(offered.encode(), token.encode()):
            return
        raise Forbidden("send the metrics token (MALL_METRICS_TOKEN) as a bearer token")
    try:
        if ipaddress.ip_address(request.remote or "").is_loopback:
            return
    except ValueError:
        pass
    raise Forbidden("metrics are answered on this machine only; set MALL_METRICS_TOKEN to "
                    "scrape them from elsewhere")


@table.add("GET", "/metrics",
           "Operators' figures in the Prometheus text format: requests, provider calls and "
           "circuits, backlogs, slow operations, open incidents, the evidence chain. With "
           "MALL_METRICS_TOKEN, for that bearer token; without, for this machine only",
           responses={200: None, 403: None}, auth=None, content_type="text/plain")
async def metrics_page(request: web.Request) -> web.Response:
    _operator(request)
    page = container(request).metrics_page()
    return web.Response(body=await page.render(), headers={"Content-Type": page.content_type})
