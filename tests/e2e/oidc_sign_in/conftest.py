"""The providers and the app each OpenID sign-in test gets: the real provider is started once
per module and lists our callback URL, so every app of a module listens on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in.defective_provider import DefectiveProvider
from tests.e2e.oidc_sign_in.steps import oidc_client, oidc_settings, oidc_shop
from tests.oidc_provider import OidcProviderProcess, require_node, start_oidc_provider


@pytest.fixture(scope="module")
def app_port(unused_tcp_port_factory: Callable[[], int]) -> int:
    """The port every app of this module listens on: the provider must list our callback URL
    before the app starts."""
    return unused_tcp_port_factory()


@pytest.fixture(scope="module")
def op(app_port: int) -> Iterator[OidcProviderProcess]:
    require_node()
    with start_oidc_provider([oidc_client(app_port)]) as provider:
        yield provider


@pytest.fixture
async def fake(app_port: int) -> AsyncIterator[DefectiveProvider]:
    provider = DefectiveProvider(f"http://127.0.0.1:{app_port}/v1/auth/fakeop/callback")
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


@pytest.fixture
async def shop(shop_factory: Any, app_port: int, op: OidcProviderProcess) -> Shop:
    """The app with the real provider as `oidc`."""
    return await oidc_shop(shop_factory, app_port, {"oidc": oidc_settings(op.issuer)})

