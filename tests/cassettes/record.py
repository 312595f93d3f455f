"""Re-record the cassettes: `python -m tests.cassettes.record`.

Against the local Segment stand-in by default; set SEGMENT_URL and SEGMENT_WRITE_KEY to record
against Segment itself with a test source's write key (the key is filtered out of the file).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from tests.cassettes.segment_mock import make_app
from tests.integration.test_cassettes import CASSETTE, CASSETTES, batch_once, segment_vcr


async def main() -> None:
    url, key = os.environ.get("SEGMENT_URL"), os.environ.get("SEGMENT_WRITE_KEY", "wk_local")
    runner = None
    if not url:
        runner = web.AppRunner(make_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 18765).start()
        url = "http://127.0.0.1:18765"
    cassette = Path(CASSETTES) / CASSETTE
    cassette.unlink(missing_ok=True)
    with segment_vcr("once").use_cassette(cassette.name):
        await batch_once(url, key, datetime(2026, 11, 26, tzinfo=UTC))
    if runner is not None:
        await runner.cleanup()
    print(f"recorded {cassette}")


if __name__ == "__main__":
    asyncio.run(main())
