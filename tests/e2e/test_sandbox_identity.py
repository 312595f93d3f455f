"""The sandbox identity provider's sign-in page redirects back with a code we can redeem."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from application.ports import AuthorizationRequest, CallbackParams
from domain.identity import pkce_challenge as s256

VERIFIER = "x" * 50


async def test_sign_in_page_redirects_with_a_redeemable_code(shop: Any) -> None:
    base = shop.container.config.base_url()
    redirect = f"{base}/v1/auth/sandbox/callback"
    url = await shop.container.sandbox_identity().authorization_url(AuthorizationRequest(
        state="st", nonce="nn", code_challenge=s256(VERIFIER), redirect_uri=redirect,
        login_hint="alice"))
    parts = urlsplit(url)
    response = await shop.client.get(f"{parts.path}?{parts.query}", allow_redirects=False)
    assert response.status == 302
    back = urlsplit(response.headers["Location"])
    query = parse_qs(back.query)
    assert f"{back.scheme}://{back.netloc}{back.path}" == redirect
    assert query["state"] == ["st"] and query["iss"] == [base]
    identity = await shop.container.sandbox_identity().exchange_code(
        CallbackParams(query["code"][0], query["iss"][0]), code_verifier=VERIFIER, nonce="nn",
        redirect_uri=redirect)
    assert identity.subject == "alice" and identity.email_verified


async def test_sign_in_page_refuses_foreign_redirects_and_missing_parameters(shop: Any) -> None:
    response = await shop.client.get(
        "/sandbox/identity/authorize?redirect_uri=http://evil.example/cb&state=s&nonce=n"
        "&code_challenge=c", allow_redirects=False)
    assert response.status == 400
    response = await shop.client.get("/sandbox/identity/authorize?state=s",
                                     allow_redirects=False)
    assert response.status == 400
    assert "redirect_uri" in (await response.json())["detail"]


async def test_a_flow_started_in_one_browser_cannot_be_finished_in_another(
    shop: Any, aiohttp_client: Any,
) -> None:
    from adapters.persistence.tables import IdentityLink

    # The attacker starts linking a provider to their own account and sends the link on.
    attacker = await shop.sign_up(verified=True)
    response = await shop.client.post("/v1/me/identities/sandbox", headers=attacker)
    assert response.status == 200
    assert any(name.startswith("mall_signin_") for name in response.cookies)
    url = urlsplit((await response.json())["authorization_url"])
    # The victim signs in at the provider in their own browser, which knows nothing of it.
    victim = await aiohttp_client(shop.client.server)
    page = await victim.get(f"{url.path}?{url.query}&login_hint=victim", allow_redirects=False)
    back = urlsplit(page.headers["Location"])
    answer = await victim.get(f"{back.path}?{back.query}")
    problem = await answer.json()
    assert answer.status == 401 and problem["reason"] == "browser_mismatch"
    assert "another browser" in problem["detail"]
    assert await IdentityLink.count() == 0  # the victim's identity joined no account

    # Sign-in alike: a flow started by the attacker cannot sign the victim in.
    start = await shop.client.get("/v1/auth/sandbox/start", allow_redirects=False)
    url = urlsplit(start.headers["Location"])
    page = await victim.get(f"{url.path}?{url.query}&login_hint=attacker",
                            allow_redirects=False)
    back = urlsplit(page.headers["Location"])
    assert (await victim.get(f"{back.path}?{back.query}")).status == 401


async def test_a_link_asked_for_by_a_session_since_signed_out_is_not_completed(
    shop: Any,
) -> None:
    from adapters.persistence.tables import IdentityLink

    auth = await shop.sign_up(verified=True)
    response = await shop.client.post("/v1/me/identities/sandbox", headers=auth)
    url = urlsplit((await response.json())["authorization_url"])
    # The owner notices a theft and signs out everywhere before the link comes back.
    assert (await shop.client.post("/v1/auth/logout", headers=auth,
                                   json={"everywhere": True})).status == 200
    page = await shop.client.get(f"{url.path}?{url.query}&login_hint=thief",
                                 allow_redirects=False)
    back = urlsplit(page.headers["Location"])
    answer = await shop.client.get(f"{back.path}?{back.query}")
    problem = await answer.json()
    assert answer.status == 401 and problem["reason"] == "session_ended"
    assert {"password", "email_recovery_link"} <= set(problem["ways_in"])  # where to now
    assert await IdentityLink.count() == 0
