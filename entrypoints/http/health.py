"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bootstrap import unbuildable_providers
from entrypoints.http import schemas as s
from entrypoints.http.api import RouteTable, container, json_response

table = RouteTable("health")


@table.add("GET", "/healthz", "Liveness: the process answers", responses={200: s.Health},
           auth=None)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "checks": {}})


@table.add("GET", "/readyz",
           "Readiness: 503 without the database or while a configured provider cannot be "
           "built (the reason is in checks.providers); 200 'degraded' when only the broker is away "
           "(orders and payments are still taken, their background work waits for it)",
           responses={200: s.Health, 503: s.Health}, auth=None)
async def readyz(request: web.Request) -> web.Response:
    c = container(request)
    checks: dict[str, str] = {}
    # Settings are checked at start; a provider that still cannot be built fails its requests.
    unbuildable = unbuildable_providers(c)
    checks["providers"] = "ok" if not unbuildable else "cannot be built: " + "; ".join(
        f"{variable}: {reason}" for variable, reason in unbuildable.items())
    try:
        await asyncio.wait_for(c.engine().run_ddl("SELECT 1"), timeout=3)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        broker = c.broker()
        client = getattr(broker, "client", None)
        if client is not None:
            await asyncio.wait_for(asyncio.to_thread(client.ping), timeout=3)
        checks["broker"] = "ok"
    except Exception as exc:
        # Committed work waits in the outbox and the sweep sends it when the broker is back.
        checks["broker"] = f"degraded: {type(exc).__name__}"
    failing = [v for v in checks.values() if v != "ok"]
    status = ("ready" if not failing
              else "degraded" if all(v.startswith("degraded") for v in failing)
              else "not ready")
    return json_response({"status": status, "checks": checks},
                         status=503 if status == "not ready" else 200)
