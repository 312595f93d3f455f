"""The sandbox identity provider's sign-in page redirects back with a code we can redeem."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from adapters.identity.sandbox import s256
from application.ports import AuthorizationRequest, CallbackParams

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
