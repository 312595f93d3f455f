"""The application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from bootstrap import Container, install_log_scrubber, prepare
from entrypoints.http import (
    admin,
    analytics,
    auth,
    campaigns,
    contact,
    credentials,
    delivery_incidents,
    delivery_tracker_webhooks,
    devices,
    health,
    incidents,
    mailbox,
    metrics,
    openapi,
    providers,
    sandbox,
    sellers,
    storefront,
    twilio_status,
    unsubscribe,
    webhooks,
)
from entrypoints.http.api import CLOSING, CONTAINER, MAX_BODY, json_response
from entrypoints.http.console import add_console
from entrypoints.http.docs import add_docs
from entrypoints.http.problems import PARSER_LIMITS, problems_middleware
from entrypoints.worker import EmbeddedWorker

TABLES = [auth.table, contact.table, storefront.table, delivery_incidents.table,
          webhooks.table, delivery_tracker_webhooks.table, sellers.table, admin.table,
          campaigns.table, analytics.table, analytics.admin_table,
          unsubscribe.table,
          health.table,
          devices.table, twilio_status.table, credentials.table, incidents.table,
          providers.table, metrics.table]
OPENAPI = web.AppKey("openapi", dict)


def create_app(container: Container, *, start_worker: bool | None = None) -> web.Application:
    """The aiohttp app. In embedded mode it also runs the Dramatiq worker in-process."""
    install_log_scrubber()
    app = web.Application(middlewares=[metrics.observing_middleware, problems_middleware],
                          client_max_size=MAX_BODY,
                          handler_args=PARSER_LIMITS)
    app[CONTAINER] = container
    app[CLOSING] = asyncio.Event()

    async def closing(app: web.Application) -> None:
        app[CLOSING].set()

    app.on_shutdown.append(closing)
    tables = ([*TABLES, sandbox.table, mailbox.table]
              if container.config.sandbox_enabled() else TABLES)
    for table in tables:
        app.add_routes(table.routes)
    app[OPENAPI] = openapi.build([op for t in tables for op in t.operations], "0.1.0")

    async def openapi_json(request: web.Request) -> web.Response:
        return json_response(request.app[OPENAPI])

    app.router.add_get("/v1/openapi.json", openapi_json)
    add_docs(app)
    add_console(app)
    run_worker = (container.config.runs_worker_in_process()
                  if start_worker is None else start_worker)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await prepare(container)
        await container.open_database_pool()()
        worker = EmbeddedWorker(container) if run_worker else None
        if worker is not None:
            worker.start()
        # The sandbox carrier's tracking webhooks, sent from here when due (to this server).
        tracking = (container.sandbox_tracking()
                    if "sandbox-express" in container.config.carriers() else None)
        if tracking is not None:
            tracking.start()
        yield
        if tracking is not None:
            await tracking.stop()
        if worker is not None:
            worker.stop()
        await container.http().close()
        await container.operation_watch().close()
        await container.close_database_pool()()

    app.cleanup_ctx.append(lifecycle)
    return app
