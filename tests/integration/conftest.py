"""Integration fixtures: one real OpenID provider (oidc-provider on Node) for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc_provider import OidcProviderProcess, provide_oidc_provider


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProviderProcess]:
    """A running OP with the client `mall-test` / `mall-test-secret`.

    Its redirect_uris: http://127.0.0.1:18790/v1/auth/oidc/callback plus any listed in
    MALL_TEST_OIDC_REDIRECT_URIS. Skips the test when Node.js is not available.
    """
    yield from provide_oidc_provider()
