"""Provider callbacks."""

from __future__ import annotations

from aiohttp import web

from entrypoints.http import schemas as s
from entrypoints.http.api import RouteTable, container, json_response, read_body

table = RouteTable("webhooks")
PROVIDER = {"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}}


@table.add("POST", "/v1/webhooks/{provider}",
           "Receive a provider's signed callback: verified, stored once, acknowledged",
           responses={200: s.WebhookAck, 400: None, 404: None}, auth=None, params=[PROVIDER])
async def receive(request: web.Request) -> web.Response:
    # Any media type: the signature covers the bytes, and a provider that changes its
    # Content-Type must not lose us its events.
    body = await read_body(request, any_type=True)
    outcome = await container(request).webhooks().receive(
        request.match_info["provider"], request.headers, body)
    return json_response({"status": outcome})
