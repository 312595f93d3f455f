"""Re-record the Stripe cassettes: `python -m tests.cassettes.record_stripe`.

Against the local Stripe stand-in (`stripe_mock.py`, on 127.0.0.1:18766 or STRIPE_MOCK_PORT)
by default. To record against Stripe's test mode instead:

    STRIPE_API_KEY=sk_test_... STRIPE_URL=https://api.stripe.com \
        python -m tests.cassettes.record_stripe

Only test-mode keys are accepted. The `Authorization` header is written as
`Bearer [filtered]`, client secrets are filtered from the answers, and every cassette is read
back to make sure the key is not in it (the cassette is deleted if it is).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from aiohttp import web

from tests.cassettes.stripe_mock import make_app
from tests.integration.test_stripe_gateway import (
    CASSETTES,
    LOCAL_API_KEY,
    SCENARIOS,
    cassette_name,
    play,
    stripe_vcr,
)


async def record(url: str, key: str, pause: float) -> list[Path]:
    written = []
    for scenario in SCENARIOS:
        cassette = CASSETTES / cassette_name(scenario)
        cassette.unlink(missing_ok=True)
        with stripe_vcr("once").use_cassette(cassette.name):
            await play(scenario, url, key, pause)
        if key in cassette.read_text():
            cassette.unlink()
            raise SystemExit(f"{cassette.name} held the API key; deleted it")
        written.append(cassette)
    return written


async def main() -> None:
    url = os.environ.get("STRIPE_URL", "").rstrip("/")
    key = os.environ.get("STRIPE_API_KEY", LOCAL_API_KEY if not url else "")
    if not key.startswith(("sk_test_", "rk_test_")):
        sys.exit("set STRIPE_API_KEY to a test-mode key (sk_test_... or rk_test_...)")
    runner = None
    if not url:
        port = int(os.environ.get("STRIPE_MOCK_PORT", "18766"))
        runner = web.AppRunner(make_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}"
    try:
        # Stripe opens test disputes and settles test refunds a moment after the charge.
        written = await record(url, key, pause=0.0 if runner is not None else 10.0)
    finally:
        if runner is not None:
            await runner.cleanup()
    for cassette in written:
        print(f"recorded {cassette}")


if __name__ == "__main__":
    asyncio.run(main())
