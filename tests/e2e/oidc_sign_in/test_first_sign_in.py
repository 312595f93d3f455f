"""A first sign-in and the next, what we send the customer to the provider with, and no
takeover of an account by its email address."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

from adapters.persistence.tables import Customer, IdentityLink
from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in import steps
from tests.oidc_provider import OidcProviderProcess

pytestmark = pytest.mark.timeout(60)


# --- 1. signing in and signing in again -----------------------------------------------------


async def test_a_real_provider_sign_in_creates_a_customer_and_finds_it_again(
        shop: Shop) -> None:
    """Acceptance: signing in through a real OpenID provider creates a customer and an
    identity link; signing in again finds the same customer."""
    before = await steps.stored()
    status, first = await steps.sign_in_with(shop, "ada@example.com")

    assert status == 201, first
    assert first["status"] == "signed_in" and first["created"] is True
    assert first["access_token"] and first["refresh_token"]
    assert first["token_type"] == "bearer" and first["expires_in"] > 0
    assert await steps.stored() == {**before, "customers": before["customers"] + 1,
                              "identities": before["identities"] + 1,
                              "sessions": before["sessions"] + 1}

    status, profile = await steps.me(shop, first["access_token"])
    assert status == 200, profile
    assert profile["id"] == first["customer_id"]
    assert profile["email"] == "ada@example.com" and profile["email_verified"] is True

    response = await shop.client.get("/v1/me/identities",
                                     headers=steps.bearer(first["access_token"]))
    assert response.status == 200
    linked = await response.json()
    assert linked["password"] is False
    assert [(i["provider"], i["email"], i["email_verified"]) for i in linked["identities"]] \
        == [("oidc", "ada@example.com", True)]

    customers = await Customer.count()
    status, again = await steps.sign_in_with(shop, "ada@example.com")
    assert status == 200, again
    assert again["status"] == "signed_in" and again["created"] is False
    assert again["customer_id"] == first["customer_id"]
    assert again["access_token"] != first["access_token"]
    assert await Customer.count() == customers
    assert await IdentityLink.count() == before["identities"] + 1


# --- 2. no takeover by email ----------------------------------------------------------------


async def test_an_unverified_email_at_the_provider_cannot_reach_the_victims_account(
        shop: Shop) -> None:
    """Acceptance: an attacker who registers the victim's email at a provider cannot reach
    the victim's account (the provider does not verify the address)."""
    await shop.sign_up("victim@example.com", steps.PASSWORD)
    before = await steps.stored()

    status, body = await steps.sign_in_with(shop, "unverified+victim@example.com")

    assert status == 409, body
    assert body["outcome"] == "email_in_use" and body["type"] == "/problems/email-in-use"
    assert "Oidc did not confirm that the address is yours" in body["message"]
    assert "access_token" not in body and "refresh_token" not in body
    assert "link_token" not in body
    assert body["customer_id"] is None
    assert "password" in body["ways_in"]
    assert await steps.stored() == before


async def test_a_verified_email_at_the_provider_links_only_when_the_owner_confirms(
        shop: Shop) -> None:
    """Acceptance, continued: even a provider that asserts the victim's email verified gets a
    pending link only; the attacker cannot confirm it, the victim can."""
    victim = await shop.sign_up("victim@example.com", steps.PASSWORD, verified=True)
    attacker = await shop.sign_up("attacker@example.com", steps.PASSWORD, verified=True)
    before = await steps.stored()

    status, pending = await steps.sign_in_with(shop, "victim@example.com")

    assert status == 409, pending
    assert pending["outcome"] == "link_pending" and pending["link_token"]
    assert "access_token" not in pending and "refresh_token" not in pending
    assert pending["customer_id"] is None
    assert await steps.stored() == {**before, "pending_links": before["pending_links"] + 1}

    # The attacker, signed in to their own account, cannot take the link.
    response = await shop.client.post("/v1/me/identities/confirm", headers=attacker,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 401, await response.text()
    assert response.content_type == "application/problem+json"
    assert await IdentityLink.count() == before["identities"]

    # Nor can a sign-in with the provider reach the victim's account meanwhile.
    status, again = await steps.sign_in_with(shop, "victim@example.com")
    assert status == 409 and again["outcome"] == "link_pending", again
    assert "access_token" not in again

    # The victim, signed in with the password, confirms: their own choice.
    response = await shop.client.post("/v1/me/identities/confirm", headers=victim,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 200, await response.text()
    assert await response.json() == {"provider": "oidc", "linked": True}
    victim_id = (await steps.me(shop, victim["Authorization"].split()[1]))[1]["id"]
    links = await IdentityLink.select().where(IdentityLink.provider == "oidc")
    assert [(link["customer_id"], link["subject"]) for link in links] == [
        (victim_id, "sub-victim@example.com")]

    # From now on the provider signs the victim in to their account.
    status, signed_in = await steps.sign_in_with(shop, "victim@example.com")
    assert status == 200, signed_in
    assert signed_in["status"] == "signed_in" and signed_in["customer_id"] == victim_id
    assert signed_in["created"] is False
    assert await Customer.count() == before["customers"]


async def test_start_carries_pkce_state_nonce_and_our_callback(
        shop: Shop, app_port: int, op: OidcProviderProcess) -> None:
    """What we send the customer to the provider with (a real provider accepts it above)."""
    url = await steps.start(shop)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == op.authorization_endpoint
    query = dict(parse_qsl(parts.query))
    assert query["client_id"] == steps.CLIENT_ID and query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code" and "openid" in query["scope"].split()
    assert query["redirect_uri"] == f"http://127.0.0.1:{app_port}/v1/auth/oidc/callback"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert "code_verifier" not in query
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as r:
        assert r.status in (302, 303), await r.text()  # on to the provider's interaction
