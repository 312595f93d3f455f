"""Signing in with OpenID Connect, end to end: the app on a real port, a real OpenID provider
(oidc-provider on Node, `tests/oidc_provider.py`) and, for the defects a real provider will
not produce, a provider served by aiohttp in the test whose token endpoint mints a flawed ID
token. Every refusal is a problem+json 401 with a stable `reason` and the ways still open,
and leaves nothing behind: no customer, no identity link, no session, no pending link.

Without Node these tests are skipped; under CI=true or MALL_REQUIRE_SERVICES=1 they fail.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt
from joserfc.jwk import RSAKey

from adapters.persistence.tables import AuthSession, Customer, IdentityLink, PendingLink
from domain.identity import pkce_challenge
from tests.e2e.conftest import Shop
from tests.oidc_provider import (
    OidcProviderProcess,
    require_node,
    sign_in,
    start_oidc_provider,
)

pytestmark = pytest.mark.timeout(60)

CLIENT_ID, CLIENT_SECRET = "mall-e2e", "mall-e2e-secret"
FAKE_CLIENT_ID, FAKE_CLIENT_SECRET = "mall-e2e-fake", "mall-e2e-fake-secret"
PASSWORD = "correct horse battery"
PASSWORD_WAYS = {"password", "email_recovery_link"}

# The defective provider's keys: one it publishes, and one with the same kid that is not its.
FAKE_KEY = RSAKey.generate_key(2048, parameters={"kid": "fake-key-1", "use": "sig",
                                                 "alg": "RS256"})
IMPOSTOR_KEY = RSAKey.generate_key(2048, parameters={"kid": "fake-key-1"})


# --- providers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_port(unused_tcp_port_factory: Callable[[], int]) -> int:
    """The port every app of this module listens on: the provider must list our callback URL
    before the app starts."""
    return unused_tcp_port_factory()


def oidc_client(app_port: int) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"http://127.0.0.1:{app_port}/v1/auth/oidc/callback"]}


@pytest.fixture(scope="module")
def op(app_port: int) -> Iterator[OidcProviderProcess]:
    require_node()
    with start_oidc_provider([oidc_client(app_port)]) as provider:
        yield provider


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DefectiveProvider:
    """Discovery, keys, an authorization endpoint that signs in whoever `login_hint` names at
    once, and a token endpoint that checks the client, the code and PKCE like a real provider
    but mints the ID token with the defect a test chose (None: a sound token)."""

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        self.issuer = ""  # known once it listens
        self.defect: str | None = None
        self.grants: dict[str, dict[str, str]] = {}
        self.redeemed: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        return app

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        })

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [FAKE_KEY.as_dict(private=False)]})

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if (query.get("client_id") != FAKE_CLIENT_ID
                or query.get("redirect_uri") != self.redirect_uri
                or query.get("code_challenge_method") != "S256"):
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_urlsafe(24)
        self.grants[code] = {"nonce": query["nonce"], "challenge": query["code_challenge"],
                             "login": query.get("login_hint", "someone@example.com")}
        back = urlencode({"code": code, "state": query["state"], "iss": self.issuer})
        raise web.HTTPFound(f"{self.redirect_uri}?{back}")

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (FAKE_CLIENT_ID,
                                                                  FAKE_CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        code = form.get("code", "")
        grant = self.grants.get(code)
        if (grant is None or code in self.redeemed
                or form.get("redirect_uri") != self.redirect_uri
                or pkce_challenge(form.get("code_verifier", "")) != grant["challenge"]):
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.redeemed.add(code)
        return web.json_response({"access_token": secrets.token_urlsafe(20),
                                  "token_type": "Bearer", "expires_in": 300,
                                  "id_token": self.id_token(grant)})

    def id_token(self, grant: dict[str, str]) -> str:
        now = int(time.time())  # the app judges tokens by the system clock
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": f"fake-{grant['login']}", "aud": FAKE_CLIENT_ID,
            "iat": now, "exp": now + 300, "nonce": grant["nonce"], "email": grant["login"],
            "email_verified": True}
        header: dict[str, Any] = {"alg": "RS256", "kid": "fake-key-1"}
        key = FAKE_KEY
        if self.defect == "nonce":
            claims["nonce"] = "the-nonce-of-another-sign-in"
        elif self.defect == "audience":
            claims["aud"] = "another-application"
        elif self.defect == "expired":
            claims.update(iat=now - 3600, exp=now - 900)  # well past the 60 s leeway
        elif self.defect == "signature":
            key = IMPOSTOR_KEY
        elif self.defect == "alg_none":
            unsigned = {"alg": "none", "typ": "JWT"}
            return (f"{_b64(json.dumps(unsigned).encode())}."
                    f"{_b64(json.dumps(claims).encode())}.")
        return jwt.encode(header, claims, key, algorithms=["RS256"])


@pytest.fixture
async def fake(app_port: int) -> AsyncIterator[DefectiveProvider]:
    provider = DefectiveProvider(f"http://127.0.0.1:{app_port}/v1/auth/fakeop/callback")
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


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


@pytest.fixture
async def shop(shop_factory: Any, app_port: int, op: OidcProviderProcess) -> Shop:
    """The app with the real provider as `oidc`."""
    return await oidc_shop(shop_factory, app_port, {"oidc": oidc_settings(op.issuer)})


# --- steps ----------------------------------------------------------------------------------


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


# --- 1. signing in and signing in again -----------------------------------------------------


async def test_a_real_provider_sign_in_creates_a_customer_and_finds_it_again(
        shop: Shop) -> None:
    """Acceptance: signing in through a real OpenID provider creates a customer and an
    identity link; signing in again finds the same customer."""
    before = await stored()
    status, first = await sign_in_with(shop, "ada@example.com")

    assert status == 201, first
    assert first["status"] == "signed_in" and first["created"] is True
    assert first["access_token"] and first["refresh_token"]
    assert first["token_type"] == "bearer" and first["expires_in"] > 0
    assert await stored() == {**before, "customers": before["customers"] + 1,
                              "identities": before["identities"] + 1,
                              "sessions": before["sessions"] + 1}

    status, profile = await me(shop, first["access_token"])
    assert status == 200, profile
    assert profile["id"] == first["customer_id"]
    assert profile["email"] == "ada@example.com" and profile["email_verified"] is True

    response = await shop.client.get("/v1/me/identities",
                                     headers=bearer(first["access_token"]))
    assert response.status == 200
    linked = await response.json()
    assert linked["password"] is False
    assert [(i["provider"], i["email"], i["email_verified"]) for i in linked["identities"]] \
        == [("oidc", "ada@example.com", True)]

    customers = await Customer.count()
    status, again = await sign_in_with(shop, "ada@example.com")
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
    await shop.sign_up("victim@example.com", PASSWORD)
    before = await stored()

    status, body = await sign_in_with(shop, "unverified+victim@example.com")

    assert status == 409, body
    assert body["outcome"] == "email_in_use" and body["type"] == "/problems/email-in-use"
    assert "Oidc did not confirm that the address is yours" in body["message"]
    assert "access_token" not in body and "refresh_token" not in body
    assert "link_token" not in body
    assert body["customer_id"] is None
    assert "password" in body["ways_in"]
    assert await stored() == before


async def test_a_verified_email_at_the_provider_links_only_when_the_owner_confirms(
        shop: Shop) -> None:
    """Acceptance, continued: even a provider that asserts the victim's email verified gets a
    pending link only; the attacker cannot confirm it, the victim can."""
    victim = await shop.sign_up("victim@example.com", PASSWORD, verified=True)
    attacker = await shop.sign_up("attacker@example.com", PASSWORD, verified=True)
    before = await stored()

    status, pending = await sign_in_with(shop, "victim@example.com")

    assert status == 409, pending
    assert pending["outcome"] == "link_pending" and pending["link_token"]
    assert "access_token" not in pending and "refresh_token" not in pending
    assert pending["customer_id"] is None
    assert await stored() == {**before, "pending_links": before["pending_links"] + 1}

    # The attacker, signed in to their own account, cannot take the link.
    response = await shop.client.post("/v1/me/identities/confirm", headers=attacker,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 401, await response.text()
    assert response.content_type == "application/problem+json"
    assert await IdentityLink.count() == before["identities"]

    # Nor can a sign-in with the provider reach the victim's account meanwhile.
    status, again = await sign_in_with(shop, "victim@example.com")
    assert status == 409 and again["outcome"] == "link_pending", again
    assert "access_token" not in again

    # The victim, signed in with the password, confirms: their own choice.
    response = await shop.client.post("/v1/me/identities/confirm", headers=victim,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 200, await response.text()
    assert await response.json() == {"provider": "oidc", "linked": True}
    victim_id = (await me(shop, victim["Authorization"].split()[1]))[1]["id"]
    links = await IdentityLink.select().where(IdentityLink.provider == "oidc")
    assert [(link["customer_id"], link["subject"]) for link in links] == [
        (victim_id, "sub-victim@example.com")]

    # From now on the provider signs the victim in to their account.
    status, signed_in = await sign_in_with(shop, "victim@example.com")
    assert status == 200, signed_in
    assert signed_in["status"] == "signed_in" and signed_in["customer_id"] == victim_id
    assert signed_in["created"] is False
    assert await Customer.count() == before["customers"]


# --- 3. forged, replayed and defective answers ------------------------------------------------


async def test_a_state_we_never_issued_is_refused(shop: Shop) -> None:
    params = await at_provider(shop, "ada@example.com")
    body = await refused(shop, {**params, "state": secrets.token_urlsafe(32)},
                         "state_mismatch")
    assert "not started here" in body["detail"]
    await refused(shop, {"code": params["code"], "iss": params["iss"]}, "state_mismatch")

    # Our own state, but the answer names another issuer (an RFC 9207 mix-up): refused too,
    # and the state is spent.
    await refused(shop, {**params, "iss": "http://127.0.0.1:1"}, "issuer_mismatch")
    await refused(shop, params, "state_replayed")


async def test_a_replayed_callback_is_refused(shop: Shop) -> None:
    params = await at_provider(shop, "ada@example.com")
    status, body = await callback(shop, params)
    assert status == 201, body

    replay = await refused(shop, params, "state_replayed")
    assert "used already" in replay["detail"]

    # The same answer delivered twice at once (a double-clicked link): one sign-in only.
    params = await at_provider(shop, "grace@example.com")
    customers = await Customer.count()
    answers = await asyncio.gather(callback(shop, params), callback(shop, params))
    assert sorted(status for status, _ in answers) == [201, 401], answers
    [(_, refusal)] = [answer for answer in answers if answer[0] == 401]
    assert refusal["reason"] == "state_replayed"
    assert await Customer.count() == customers + 1


async def test_a_code_redeemed_once_is_refused_by_the_provider_the_second_time(
        shop: Shop) -> None:
    first = await at_provider(shop, "ada@example.com")
    status, body = await callback(shop, first)
    assert status == 201, body

    # A second sign-in (its own state, nonce and verifier) whose callback carries the first
    # one's code: the provider refuses to redeem it again.
    second = await at_provider(shop, "ada@example.com")
    body = await refused(shop, {**second, "code": first["code"]}, "invalid_grant")
    assert "already used" in body["detail"]


DEFECTS = {
    "nonce": ("nonce_mismatch", "nonce mismatch"),
    "audience": ("wrong_audience", "another application"),
    "expired": ("token_expired", "expired"),
    "signature": ("invalid_token", "forged or altered"),
    "alg_none": ("invalid_token", "'none'"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
async def test_a_defective_id_token_is_refused_and_nothing_is_stored(
        shop_factory: Any, app_port: int, op: OidcProviderProcess, fake: DefectiveProvider,
        defect: str) -> None:
    shop = await oidc_shop(shop_factory, app_port, {
        "oidc": oidc_settings(op.issuer), "fakeop": fake_settings(fake)})
    reason, phrase = DEFECTS[defect]
    fake.defect = defect

    body = await refused(shop, await at_provider(shop, "ada@example.com", "fakeop"), reason,
                         "fakeop")

    assert phrase in body["detail"], body["detail"]
    assert "provider:oidc" in body["ways_in"]
    # The same provider with a sound token signs in: the defect alone was refused.
    fake.defect = None
    status, signed_in = await sign_in_with(shop, "ada@example.com", "fakeop")
    assert status == 201, signed_in


# --- 4. the provider down, or the customer saying no ------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_with_the_provider_down_the_customer_is_offered_the_other_ways_in(
        shop_factory: Any, app_port: int, fake: DefectiveProvider) -> None:
    """Acceptance: with the provider down, the customer is told so and offered the other
    ways in."""
    shop = await oidc_shop(shop_factory, app_port, {
        "oidc": oidc_settings(f"http://127.0.0.1:{closed_port()}"),
        "fakeop": fake_settings(fake)}, breaker_threshold=1)
    before = await stored()

    response = await shop.client.get("/v1/auth/oidc/start", allow_redirects=False)

    assert response.status == 503, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["detail"] == (
        "Oidc is not answering right now, so we did not send you there. You can still sign "
        "in with Fakeop, your password or a recovery link sent to your email.")
    assert problem["retryable"] is True
    assert problem["alternatives"] == ["provider:fakeop", "password", "email_recovery_link"]
    assert await stored() == before

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
    with start_oidc_provider([oidc_client(app_port)]) as doomed:
        shop = await oidc_shop(shop_factory, app_port, {
            "oidc": oidc_settings(doomed.issuer), "fakeop": fake_settings(fake)},
            breaker_threshold=1)
        params = await at_provider(shop, "ada@example.com")
        doomed.stop()
        before = await stored()

        status, problem = await callback(shop, params)

    assert status == 503, problem
    # The customer was there: the message must not say we did not send them.
    assert problem["detail"].startswith(
        "Oidc stopped answering before we could finish signing you in. Nothing was changed "
        "in your account. You can still sign in with Fakeop"), problem["detail"]
    assert "did not send you there" not in problem["detail"]
    assert problem["alternatives"] == ["provider:fakeop", "password", "email_recovery_link"]
    assert await stored() == before
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
    with start_oidc_provider([oidc_client(app_port)]) as doomed:
        shop = await oidc_shop(shop_factory, app_port, {
            "oidc": oidc_settings(doomed.issuer), "fakeop": fake_settings(fake)})
        status, body = await sign_in_with(shop, "ada@example.com")
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
    shop = await oidc_shop(shop_factory, app_port, {
        "oidc": oidc_settings(f"{op.issuer}/")})
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
    clients = [{"client_id": f"mall-{alg.lower()}", "client_secret": CLIENT_SECRET,
                "id_token_signed_response_alg": alg,
                "redirect_uris": [f"http://127.0.0.1:{app_port}/v1/auth/{name}/callback"]}
               for name, alg in (("es", "ES256"), ("ps", "PS256"))]
    with start_oidc_provider(clients, id_token_algs=["RS256", "PS256", "ES256"]) as multi:
        shop = await oidc_shop(shop_factory, app_port, {
            name: {**oidc_settings(multi.issuer), "client_id": client_id,
                   "id_token_signed_response_alg": "ES256"}
            for name, client_id in (("es", "mall-es256"), ("ps", "mall-ps256"))})

        body = await refused(shop, await at_provider(shop, "ada@example.com", "ps"),
                             "invalid_token", "ps")
        assert "'PS256'" in body["detail"] and "ES256" in body["detail"]

        status, signed_in = await sign_in_with(shop, "ada@example.com", "es")
        assert status == 201, signed_in


async def test_a_customer_who_refuses_at_the_provider_is_told_the_ways_in(shop: Shop) -> None:
    params = await at_provider(shop, "deny")
    assert params["error"] == "access_denied" and params["state"], params

    body = await refused(shop, params, "access_denied")

    assert "cancelled" in body["detail"]


# --- 5. sessions ----------------------------------------------------------------------------


async def refresh(shop: Shop, token: str) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post("/v1/auth/refresh", json={"refresh_token": token})
    return response.status, dict(await response.json())


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_whole_sign_in(
        shop: Shop) -> None:
    status, signed_in = await sign_in_with(shop, "ada@example.com")
    assert status == 201, signed_in

    status, rotated = await refresh(shop, signed_in["refresh_token"])
    assert status == 200, rotated
    assert rotated["refresh_token"] != signed_in["refresh_token"]
    assert rotated["access_token"] != signed_in["access_token"]
    assert (await me(shop, rotated["access_token"]))[0] == 200

    # The old refresh token comes back: someone kept a copy.
    status, problem = await refresh(shop, signed_in["refresh_token"])
    assert status == 401, problem
    assert problem["type"] == "/problems/refresh-token-reused"

    # Every session of that sign-in ended: its newest refresh token and its access tokens.
    status, problem = await refresh(shop, rotated["refresh_token"])
    assert status == 401, problem
    for token in (rotated["access_token"], signed_in["access_token"]):
        status, problem = await me(shop, token)
        assert status == 401, problem

    # Another sign-in is not affected.
    status, fresh = await sign_in_with(shop, "ada@example.com")
    assert status == 200, fresh
    assert (await me(shop, fresh["access_token"]))[0] == 200


async def test_logout_revokes_the_session(shop: Shop) -> None:
    status, signed_in = await sign_in_with(shop, "ada@example.com")
    assert status == 201, signed_in
    assert (await me(shop, signed_in["access_token"]))[0] == 200

    response = await shop.client.post("/v1/auth/logout",
                                      headers=bearer(signed_in["access_token"]))
    assert response.status == 200, await response.text()
    assert (await response.json())["revoked_sessions"] == 1

    assert (await me(shop, signed_in["access_token"]))[0] == 401
    status, problem = await refresh(shop, signed_in["refresh_token"])
    assert status == 401, problem


# --- 6. linking while signed in -------------------------------------------------------------


async def test_an_account_whose_email_is_unproven_cannot_be_linked_or_take_a_link(
        shop: Shop) -> None:
    """Someone who registered another person's address first plants no way in: no provider
    links to the account until its mailbox is proven, and a provider sign-in with that
    verified address gets no link offer for it."""
    squatter = await shop.sign_up("owner@example.com", PASSWORD)  # never verified
    response = await shop.client.post("/v1/me/identities/oidc", headers=squatter)
    assert response.status == 409
    assert "confirm your email address first" in (await response.json())["detail"]
    before = await stored()
    status, body = await sign_in_with(shop, "owner@example.com")
    assert status == 409 and body["outcome"] == "email_in_use" and "link_token" not in body
    assert await stored() == before
    # The provider did verify the address: the unproven side is the account here, and the
    # message says so instead of blaming the provider.
    assert "Oidc did not confirm" not in body["message"]
    assert "that account has not confirmed its address with us yet" in body["message"]


async def test_a_signed_in_customer_links_and_unlinks_the_provider(shop: Shop) -> None:
    auth = await shop.sign_up("linker@example.com", PASSWORD, verified=True)
    customer_id = (await me(shop, auth["Authorization"].split()[1]))[1]["id"]

    response = await shop.client.post("/v1/me/identities/oidc", headers=auth)
    assert response.status == 200, await response.text()
    url = (await response.json())["authorization_url"]
    assert urlsplit(url).netloc == urlsplit(shop.container.config.identity_provider_settings()
                                            ["oidc"]["issuer"]).netloc
    sessions = await AuthSession.count()
    status, pending = await callback(shop, await sign_in(url, login="linker-at-op@example.com"))

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
    status, signed_in = await sign_in_with(shop, "linker-at-op@example.com")
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
    auth = await shop.sign_up("careful@example.com", PASSWORD, verified=True)
    customer_id = (await me(shop, auth["Authorization"].split()[1]))[1]["id"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        # Someone signed in to the provider in this browser earlier.
        await sign_in(await start(shop), login="someone-else@example.com", session=browser)

        response = await shop.client.post("/v1/me/identities/oidc", headers=auth)
        url = (await response.json())["authorization_url"]
        assert dict(parse_qsl(urlsplit(url).query))["prompt"] == "login"
        # The provider does not answer for the session's account: it asks for a sign-in.
        async with browser.get(url, allow_redirects=False) as first:
            assert first.status in (302, 303), await first.text()
            assert urlsplit(first.headers["Location"]).path.startswith("/interaction/"), \
                first.headers["Location"]

        status, pending = await callback(shop, await sign_in(
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
    other = await shop.sign_up("other@example.com", PASSWORD, verified=True)
    response = await shop.client.post("/v1/me/identities/confirm", headers=other,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 401, await response.text()
    assert await IdentityLink.count() == 0

    # Linking again, as their own account this time, and confirming it.
    response = await shop.client.post("/v1/me/identities/oidc", headers=auth)
    url = (await response.json())["authorization_url"]
    status, pending = await callback(shop, await sign_in(url, login="careful@example.com"))
    assert status == 200 and pending["account"]["email"] == "careful@example.com", pending
    response = await shop.client.post("/v1/me/identities/confirm", headers=auth,
                                      json={"link_token": pending["link_token"]})
    assert response.status == 200, await response.text()
    links = await IdentityLink.select().where(IdentityLink.provider == "oidc")
    assert [(link["customer_id"], link["subject"]) for link in links] == [
        (customer_id, "sub-careful@example.com")]


async def test_the_last_way_in_cannot_be_unlinked(shop: Shop) -> None:
    status, signed_in = await sign_in_with(shop, "solo@example.com")
    assert status == 201, signed_in
    auth = bearer(signed_in["access_token"])

    response = await shop.client.delete("/v1/me/identities/oidc", headers=auth)

    assert response.status == 409, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "/problems/last-sign-in-method"
    assert "only way to sign in" in problem["detail"]
    assert await IdentityLink.count() == 1
    # Still signed in with it.
    status, again = await sign_in_with(shop, "solo@example.com")
    assert status == 200 and again["customer_id"] == signed_in["customer_id"]


async def test_start_carries_pkce_state_nonce_and_our_callback(
        shop: Shop, app_port: int, op: OidcProviderProcess) -> None:
    """What we send the customer to the provider with (a real provider accepts it above)."""
    url = await start(shop)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == op.authorization_endpoint
    query = dict(parse_qsl(parts.query))
    assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code" and "openid" in query["scope"].split()
    assert query["redirect_uri"] == f"http://127.0.0.1:{app_port}/v1/auth/oidc/callback"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert "code_verifier" not in query
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as r:
        assert r.status in (302, 303), await r.text()  # on to the provider's interaction
