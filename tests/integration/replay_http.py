"""The outbound HTTP client a real gateway or sign-in adapter runs over while a cassette is
replayed or recorded: every exchange kept as evidence, never retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.http import OutboundHttp
from tests.helpers import NoAlerts, RecordingLedger


def replay_http(ledger: RecordingLedger, timeout_seconds: float = 10) -> OutboundHttp:
    return OutboundHttp(ledger, NoAlerts(), timeout_seconds=timeout_seconds, retries=0,
                        breaker_threshold=5, breaker_ttl_seconds=30)


@asynccontextmanager
async def replaying_http(ledger: RecordingLedger,
                         timeout_seconds: float = 10) -> AsyncIterator[OutboundHttp]:
    """replay_http, closed when the exchanges are done."""
    http = replay_http(ledger, timeout_seconds)
    try:
        yield http
    finally:
        await http.close()
