"""A local stand-in for Segment's HTTP Tracking API, written from its public reference
(POST /v1/batch with HTTP basic auth, write key as user name; 200 {"success": true}; 400 on a
malformed batch; 401 without a write key). Used only to record cassettes."""

from __future__ import annotations

import base64
import json

from aiohttp import web


async def batch(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Basic ") or not base64.b64decode(auth[6:]).decode().rstrip(":"):
        return web.json_response({"error": "missing write key"}, status=401)
    try:
        body = json.loads(await request.read())
    except ValueError:
        return web.json_response({"error": "invalid JSON"}, status=400)
    calls = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(calls, list) or not calls or not all(
            isinstance(call, dict) and call.get("type") and call.get("messageId")
            and (call.get("userId") or call.get("anonymousId")) for call in calls):
        return web.json_response({"error": "a batch of calls, each with a type, a messageId "
                                  "and a userId or anonymousId"}, status=400)
    return web.json_response({"success": True})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/batch", batch)
    return app
