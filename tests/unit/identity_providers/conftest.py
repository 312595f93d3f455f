"""The fake OpenID provider, the outbound HTTP client and the adapter each test gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.http import OutboundHttp
from adapters.identity.oidc import OidcProvider
from tests.helpers import RecordingLedger
from tests.unit.identity_providers.fake_openid import (
    FakeOpenIdProvider,
    outbound,
    provider_for,
    serve,
)


@pytest.fixture
async def op() -> AsyncIterator[FakeOpenIdProvider]:
    fake = FakeOpenIdProvider()
    server = await serve(fake.app())
    fake.issuer = f"http://127.0.0.1:{server.port}"
    yield fake
    await server.close()


@pytest.fixture
def ledger() -> RecordingLedger:
    return RecordingLedger()


@pytest.fixture
async def http(ledger: RecordingLedger) -> AsyncIterator[OutboundHttp]:
    async with outbound(ledger) as client:
        yield client


@pytest.fixture
def provider(http: OutboundHttp, op: FakeOpenIdProvider) -> OidcProvider:
    return provider_for(http, op)
