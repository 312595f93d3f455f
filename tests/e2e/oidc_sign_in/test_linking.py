"""Linking a provider while signed in, confirming the account it names, and unlinking."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

from adapters.persistence.tables import AuthSession, IdentityLink
from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in import steps
from tests.oidc_provider import OidcProviderProcess, sign_in

pytestmark = pytest.mark.timeout(60)


async def test_an_account_whose_email_is_unproven_cannot_be_linked_or_take_a_link(
        shop: Shop) -> None:
    """Someone who registered another person's address first plants no way in: no provider
    links to the account until its mailbox is proven, and a provider sign-in with that
    verified address gets no link offer for it."""
    squatter = await shop.sign_up("owner@example.com", steps.PASSWORD)  # never verified
    response = await shop.client.post("/v1/me/identities/oidc", headers=squatter)
    assert response.status == 409
    assert "confirm your email address first" in (await response.json())["detail"]
    before = await steps.stored()
    status, body = await steps.sign_in_with(shop, "owner@example.com")
    assert status == 409 and body["outcome"] == "email_in_use" and "link_token" not in body
    assert await steps.stored() == before
    # The provider did verify the address: the unproven side is the account here, and the
    # message says so instead of blaming the provider.
    assert "Oidc did not confirm" not in body["message"]
    assert "that account has not confirmed its address with us yet" in body["message"]


async def test_a_signed_in_customer_links_and_unlinks_the_provider(shop: Shop) -> None:
    auth = await shop.sign_up("linker@example.com", steps.PASSWORD, verified=True)
    customer_id = (await steps.me(shop, auth["Authorization"].split()[1]))[1]["id"]

    response = await shop.client.post("/v1/me/identities/oidc", headers=auth)
    assert response.status == 200, await response.text()
    url = (await response.json())["authorization_url"]
    assert urlsplit(url).netloc == urlsplit(shop.container.config.identity_provider_settings()
                                            ["oidc"]["issuer"]).netloc
    sessions = await AuthSession.count()
    status, pending = await steps.callback(
        shop, await sign_in(url, login="linker-at-op@example.com"))

    assert status == 200, pending
    assert pending["status"] == "link_pending" and pending["customer_id"] == customer_id
    assert pending["account"]["display"] == "linker-at-op@example.com"
    assert "access_token" not in pending
    assert await IdentityLink.count() == 0  # not before the customer confirms
    response = await shop.client.post("/v1/me/identities/confirm", headers=auth,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 200, await response.text()
    assert await AuthSession.count() == sessions  # linking opens no session
    response = await shop.client.get("/v1/me/identities", headers=auth)
    listed = await response.json()
    assert listed["password"] is True
    assert [i["provider"] for i in listed["identities"]] == ["oidc"]

    # Signing in with the provider now reaches the same account.
    status, signed_in = await steps.sign_in_with(shop, "linker-at-op@example.com")
    assert status == 200 and signed_in["customer_id"] == customer_id, signed_in

    # The password is still a way in, so the provider can go.
    response = await shop.client.delete("/v1/me/identities/oidc", headers=auth)
    assert response.status == 204, await response.text()
    assert await IdentityLink.count() == 0


async def test_a_link_makes_the_person_sign_in_at_the_provider_and_names_the_account_first(
        shop: Shop, op: OidcProviderProcess) -> None:
    """A browser still signed in at the provider as someone else (a shared computer) must not
    link that account silently: the provider is asked to sign the person in again, and the
    account it comes back with is shown for the customer to confirm, or not."""
    auth = await shop.sign_up("careful@example.com", steps.PASSWORD, verified=True)
    customer_id = (await steps.me(shop, auth["Authorization"].split()[1]))[1]["id"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        # Someone signed in to the provider in this browser earlier.
        await sign_in(await steps.start(shop), login="someone-else@example.com", session=browser)

        response = await shop.client.post("/v1/me/identities/oidc", headers=auth)
        url = (await response.json())["authorization_url"]
        assert dict(parse_qsl(urlsplit(url).query))["prompt"] == "login"
        # The provider does not answer for the session's account: it asks for a sign-in.
        async with browser.get(url, allow_redirects=False) as first:
            assert first.status in (302, 303), await first.text()
            assert urlsplit(first.headers["Location"]).path.startswith("/interaction/"), \
                first.headers["Location"]

        status, pending = await steps.callback(shop, await sign_in(
            url, login="someone-else@example.com", session=browser))
    assert status == 200 and pending["status"] == "link_pending", pending
    assert pending["account"] == {
        "provider": "oidc", "subject": "sub-someone-else@example.com",
        "email": "someone-else@example.com", "email_verified": True,
        "display": "someone-else@example.com"}
    assert "someone-else@example.com" in pending["message"]
    assert await IdentityLink.count() == 0
    # Not the customer's account: they do not confirm, and nothing is ever linked. Another
    # customer cannot confirm it for them either.
    other = await shop.sign_up("other@example.com", steps.PASSWORD, verified=True)
    response = await shop.client.post("/v1/me/identities/confirm", headers=other,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 401, await response.text()
    assert await IdentityLink.count() == 0

    # Linking again, as their own account this time, and confirming it.
    response = await shop.client.post("/v1/me/identities/oidc", headers=auth)
    url = (await response.json())["authorization_url"]
    status, pending = await steps.callback(shop, await sign_in(url, login="careful@example.com"))
    assert status == 200 and pending["account"]["email"] == "careful@example.com", pending
    response = await shop.client.post("/v1/me/identities/confirm", headers=auth,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 200, await response.text()
    links = await IdentityLink.select().where(IdentityLink.provider == "oidc")
    assert [(link["customer_id"], link["subject"]) for link in links] == [
        (customer_id, "sub-careful@example.com")]


async def test_the_last_way_in_cannot_be_unlinked(shop: Shop) -> None:
    status, signed_in = await steps.sign_in_with(shop, "solo@example.com")
    assert status == 201, signed_in
    auth = steps.bearer(signed_in["access_token"])

    response = await shop.client.delete("/v1/me/identities/oidc", headers=auth)

    assert response.status == 409, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "/problems/last-sign-in-method"
    assert "only way to sign in" in problem["detail"]
    assert await IdentityLink.count() == 1
    # Still signed in with it.
    status, again = await steps.sign_in_with(shop, "solo@example.com")
    assert status == 200 and again["customer_id"] == signed_in["customer_id"]
