"""The provider down, stopping mid-way, set up wrong, or the customer saying no: the customer
is told so, with the other ways in."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in import steps
from tests.e2e.oidc_sign_in.defective_provider import DefectiveProvider
from tests.oidc_provider import OidcProviderProcess, require_node, start_oidc_provider

pytestmark = pytest.mark.timeout(60)


async def test_with_the_provider_down_the_customer_is_offered_the_other_ways_in(
        shop_factory: Any, app_port: int, fake: DefectiveProvider) -> None:
    """Acceptance: with the provider down, the customer is told so and offered the other
    ways in."""
    shop = await steps.oidc_shop(shop_factory, app_port, {
        "oidc": steps.oidc_settings(f"http://127.0.0.1:{steps.closed_port()}"),
        "fakeop": steps.fake_settings(fake)}, breaker_threshold=1)
    before = await steps.stored()

    response = await shop.client.get("/v1/auth/oidc/start", allow_redirects=False)

    assert response.status == 503, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["detail"] == (
        "Oidc is not answering right now, so we did not send you there. You can still sign "
        "in with Fakeop, your password or a recovery link sent to your email.")
    assert problem["retryable"] is True
    assert problem["alternatives"] == ["provider:fakeop", "password", "email_recovery_link"]
    assert await steps.stored() == before

    # The circuit is open now: the list of providers says so, and a second try is answered
    # at once, without calling the provider.
    response = await shop.client.get("/v1/auth/providers")
    assert response.status == 200
    listed = await response.json()
    assert {p["name"]: p["available"] for p in listed["providers"]} == {
        "oidc": False, "fakeop": True}
    assert listed["password"] is True
    response = await shop.client.get("/v1/auth/oidc/start", allow_redirects=False)
    assert response.status == 503
    assert (await response.json())["alternatives"] == problem["alternatives"]


async def test_a_provider_that_stops_during_the_sign_in_is_reported_with_the_ways_in(
        shop_factory: Any, app_port: int, fake: DefectiveProvider) -> None:
    """The real provider stops while the customer is there: our callback cannot redeem the
    code, says so with the other ways in, and from then on no one is sent to it."""
    require_node()
    with start_oidc_provider([steps.oidc_client(app_port)]) as doomed:
        shop = await steps.oidc_shop(shop_factory, app_port, {
            "oidc": steps.oidc_settings(doomed.issuer), "fakeop": steps.fake_settings(fake)},
            breaker_threshold=1)
        params = await steps.at_provider(shop, "ada@example.com")
        doomed.stop()
        before = await steps.stored()

        status, problem = await steps.callback(shop, params)

    assert status == 503, problem
    # The customer was there: the message must not say we did not send them.
    assert problem["detail"].startswith(
        "Oidc stopped answering before we could finish signing you in. Nothing was changed "
        "in your account. You can still sign in with Fakeop"), problem["detail"]
    assert "did not send you there" not in problem["detail"]
    assert problem["alternatives"] == ["provider:fakeop", "password", "email_recovery_link"]
    assert await steps.stored() == before
    # Its discovery document is still cached, but the failed exchange opened the circuit:
    # the next customer is told at the start instead of being sent to a provider that is down.
    response = await shop.client.get("/v1/auth/oidc/start", allow_redirects=False)
    assert response.status == 503, response.headers.get("Location")
    assert (await response.json())["alternatives"] == problem["alternatives"]
    response = await shop.client.get("/v1/auth/providers")
    assert {p["name"]: p["available"] for p in (await response.json())["providers"]} == {
        "oidc": False, "fakeop": True}


async def test_a_provider_gone_down_since_the_last_sign_in_gets_no_more_customers(
        shop_factory: Any, app_port: int, fake: DefectiveProvider) -> None:
    """The provider stops between two sign-ins, with its discovery document still cached and
    its circuit closed: the next customer gets the other ways in at once instead of being
    sent to a dead page."""
    require_node()
    with start_oidc_provider([steps.oidc_client(app_port)]) as doomed:
        shop = await steps.oidc_shop(shop_factory, app_port, {
            "oidc": steps.oidc_settings(doomed.issuer), "fakeop": steps.fake_settings(fake)})
        status, body = await steps.sign_in_with(shop, "ada@example.com")
        assert status == 201, body
        doomed.stop()

        began = time.monotonic()
        response = await shop.client.get("/v1/auth/oidc/start", allow_redirects=False)

    assert response.status == 503, response.headers.get("Location")
    assert time.monotonic() - began < 3
    problem = await response.json()
    assert "did not send you there" in problem["detail"]
    assert problem["alternatives"] == ["provider:fakeop", "password", "email_recovery_link"]


async def test_an_issuer_set_with_a_trailing_slash_is_listed_unavailable_with_the_reason(
        shop_factory: Any, app_port: int, op: OidcProviderProcess) -> None:
    """oidc-provider names itself without the slash, so no login could pass the exact issuer
    check: the provider list says so (and why) instead of showing it available, and a start
    keeps the customer here with the other ways in instead of a 401 later."""
    shop = await steps.oidc_shop(shop_factory, app_port, {
        "oidc": steps.oidc_settings(f"{op.issuer}/")})
    response = await shop.client.get("/v1/auth/providers")
    [listed] = (await response.json())["providers"]
    assert listed["name"] == "oidc" and listed["available"] is False
    assert "trailing slash" in listed["reason"]
    assert f"set the issuer to exactly '{op.issuer}'" in listed["reason"]

    response = await shop.client.get("/v1/auth/oidc/start", allow_redirects=False)
    assert response.status == 503, await response.text()
    problem = await response.json()
    assert "trailing slash" in problem["detail"] and "did not send you there" in problem[
        "detail"]
    assert problem["retryable"] is False  # a setting must change first
    assert problem["alternatives"] == ["password", "email_recovery_link"]


async def test_an_id_token_signed_with_another_algorithm_than_registered_is_refused(
        shop_factory: Any, app_port: int) -> None:
    """The provider offers RS256, PS256 and ES256. We are registered for ES256; a client
    of ours registered there for PS256 gets PS256 tokens, which we refuse although the
    provider's discovery lists PS256; with matching registrations ES256 signs in."""
    require_node()
    clients = [{"client_id": f"mall-{alg.lower()}", "client_secret": steps.CLIENT_SECRET,
                "id_token_signed_response_alg": alg,
                "redirect_uris": [f"http://127.0.0.1:{app_port}/v1/auth/{name}/callback"]}
               for name, alg in (("es", "ES256"), ("ps", "PS256"))]
    with start_oidc_provider(clients, id_token_algs=["RS256", "PS256", "ES256"]) as multi:
        shop = await steps.oidc_shop(shop_factory, app_port, {
            name: {**steps.oidc_settings(multi.issuer), "client_id": client_id,
                   "id_token_signed_response_alg": "ES256"}
            for name, client_id in (("es", "mall-es256"), ("ps", "mall-ps256"))})

        body = await steps.refused(shop, await steps.at_provider(shop, "ada@example.com", "ps"),
                             "invalid_token", "ps")
        assert "'PS256'" in body["detail"] and "ES256" in body["detail"]

        status, signed_in = await steps.sign_in_with(shop, "ada@example.com", "es")
        assert status == 201, signed_in


async def test_a_customer_who_refuses_at_the_provider_is_told_the_ways_in(shop: Shop) -> None:
    params = await steps.at_provider(shop, "deny")
    assert params["error"] == "access_denied" and params["state"], params

    body = await steps.refused(shop, params, "access_denied")

    assert "cancelled" in body["detail"]
