"""What the OpenID sign-in tests do as the customer: start at our API, sign in at the provider,
come back to our callback; and what they check is stored."""

from __future__ import annotations

import re
import socket
from typing import Any
from urllib.parse import urlencode

from adapters.persistence.tables import AuthSession, Customer, IdentityLink, PendingLink
from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in.defective_provider import (
    FAKE_CLIENT_ID,
    FAKE_CLIENT_SECRET,
    DefectiveProvider,
)
from tests.oidc_provider import sign_in

CLIENT_ID, CLIENT_SECRET = "mall-e2e", "mall-e2e-secret"
PASSWORD = "correct horse battery"
PASSWORD_WAYS = {"password", "email_recovery_link"}


def oidc_client(app_port: int) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"http://127.0.0.1:{app_port}/v1/auth/oidc/callback"]}


def oidc_settings(issuer: str) -> dict[str, Any]:
    return {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "token_auth": "client_secret_post"}


def fake_settings(fake: DefectiveProvider) -> dict[str, Any]:
    return {"issuer": fake.issuer, "client_id": FAKE_CLIENT_ID,
            "client_secret": FAKE_CLIENT_SECRET}


async def oidc_shop(shop_factory: Any, app_port: int, providers: dict[str, dict[str, Any]],
                    **overrides: Any) -> Shop:
    shop: Shop = await shop_factory(port=app_port, identity_providers=list(providers),
                                    identity_provider_settings=providers, **overrides)
    return shop


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def start(shop: Shop, provider: str = "oidc") -> str:
    """Our start endpoint: the provider URL it sends the customer to."""
    response = await shop.client.get(f"/v1/auth/{provider}/start", allow_redirects=False)
    assert response.status == 302, await response.text()
    return response.headers["Location"]


async def callback(shop: Shop, params: dict[str, str],
                   provider: str = "oidc") -> tuple[int, dict[str, Any]]:
    """The customer's browser arriving at our callback with what the provider sent."""
    response = await shop.client.get(f"/v1/auth/{provider}/callback?{urlencode(params)}")
    return response.status, dict(await response.json())


async def at_provider(shop: Shop, login: str, provider: str = "oidc") -> dict[str, str]:
    """Start signing in, and sign in at the provider as `login`: its answer to our callback."""
    return await sign_in(await start(shop, provider), login=login)


async def sign_in_with(shop: Shop, login: str,
                       provider: str = "oidc") -> tuple[int, dict[str, Any]]:
    return await callback(shop, await at_provider(shop, login, provider), provider)


async def stored() -> dict[str, int]:
    return {"customers": await Customer.count(), "identities": await IdentityLink.count(),
            "sessions": await AuthSession.count(), "pending_links": await PendingLink.count()}


async def refused(shop: Shop, params: dict[str, str], reason: str,
                  provider: str = "oidc") -> dict[str, Any]:
    """The callback is refused with `reason`, and nothing about any account is stored."""
    before = await stored()
    response = await shop.client.get(f"/v1/auth/{provider}/callback?{urlencode(params)}")
    body = dict(await response.json())
    assert response.status == 401, body
    assert response.content_type == "application/problem+json"
    assert body["type"] == "/problems/sign-in-refused"
    assert body["reason"] == reason, body
    assert body["detail"]  # a sentence a person can act on
    # Each sentence ends before the next begins: no "... start again Nothing was changed".
    assert not re.search(r"[^.!?] Nothing was changed", body["detail"]), body["detail"]
    assert body["detail"][0].isupper(), body["detail"]
    assert PASSWORD_WAYS <= set(body["ways_in"]), body
    assert "access_token" not in body and "link_token" not in body
    assert await stored() == before
    return body


async def me(shop: Shop, token: str) -> tuple[int, dict[str, Any]]:
    response = await shop.client.get("/v1/me", headers=bearer(token))
    return response.status, dict(await response.json())


async def refresh(shop: Shop, token: str) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post("/v1/auth/refresh", json={"refresh_token": token})
    return response.status, dict(await response.json())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

