"""Re-record the Delivery Tracker cassettes: `python -m tests.cassettes.record_delivery_tracker`.

Starts the stand-in (tests/integration/delivery_tracker_standin.py, written from Delivery
Tracker's published schema, NOT the real API) on 127.0.0.1:18768 with the two parcels of
tests/integration/delivery_tracker_journeys.py, runs both journeys through the backend (a
scratch SQLite database, the test clock) and keeps the client's exchanges:

- `delivery_tracker_polling.yaml`: no webhook; looks on the re-check schedule until delivered.
- `delivery_tracker_webhook.yaml`: `registerTrackWebhook`, a look per callback, the
  registration extended, delivered.

The credentials (`Authorization: TRACKQL-API-KEY [filtered]`) and the callback URL, whose
token authenticates callbacks, are filtered out of every request before it is written; the
recorder reads each cassette back and deletes it if either is still in it.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.integration.delivery_tracker_journeys import (
    CARRIER,
    CASSETTES,
    CLIENT_SECRET,
    HOOKED,
    HOOKED_PARCEL,
    POLLED,
    POLLED_PARCEL,
    RECORDED_URL,
    STAND_IN_PORT,
    T0,
    TOKEN,
    delivery_tracker_vcr,
    polling_journey,
    shop_settings,
    webhook_journey,
)
from tests.integration.delivery_tracker_standin import StandIn, application

Journey = Callable[[Any], Awaitable[dict[str, Any]]]


async def record(name: str, journey: Journey, webhooks: bool) -> None:
    """Record into a scratch file and put it in place only when the journey went through."""
    scratch = CASSETTES / f".partial-{name}"
    scratch.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        settings = shop_settings(Path(folder), RECORDED_URL, webhooks=webhooks)
        try:
            with delivery_tracker_vcr("all").use_cassette(scratch.name):
                outcome = await journey(settings)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
    text = scratch.read_text()
    if TOKEN in text or CLIENT_SECRET in text:
        scratch.unlink()
        raise SystemExit(f"{name}: a secret reached the cassette; nothing was kept")
    scratch.replace(CASSETTES / name)
    print(f"recorded {name}: {outcome.get('statuses') or outcome.get('steps')}")


async def main() -> None:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    stand_in = StandIn(parcels={f"{CARRIER}/{POLLED}": POLLED_PARCEL,
                                f"{CARRIER}/{HOOKED}": HOOKED_PARCEL},
                       now=lambda: T0)
    runner = web.AppRunner(application(stand_in))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", STAND_IN_PORT).start()
    try:
        await record("delivery_tracker_polling.yaml", polling_journey, webhooks=False)
        await record("delivery_tracker_webhook.yaml", webhook_journey, webhooks=True)
    finally:
        await runner.cleanup()
    if stand_in.invalid:
        raise SystemExit(f"the client sent what the schema does not allow: {stand_in.invalid}")


if __name__ == "__main__":
    asyncio.run(main())
