"""OpenID Connect, Apple and Naver sign-in adapters against fake providers on a local port.

Every refusal must be a SignInRefused with its stable reason, and an unreachable provider a
ProviderUnavailable: never any other exception. The fake provider's tokens are dated by a
fixed clock years away from the system time, so a pass also proves the adapter judges token
times by the injected clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

from adapters.http import OutboundHttp
from adapters.identity.apple import APPLE_AUDIENCE, apple_client_secret, apple_provider
from adapters.identity.naver import NaverProvider
from adapters.identity.oidc import FAULT_RECHECK_SECONDS, OidcProvider, preset
from application.ports import AuthorizationRequest, CallbackParams, VerifiedIdentity
from domain.errors import ProviderUnavailable, SignInRefused
from domain.redaction import redact
from tests.helpers import NoAlerts, RecordingLedger

CLIENT_ID = "mall-web"
CLIENT_SECRET = "s3cret-of-the-mall"
REDIRECT = "https://mall.example/v1/auth/fakeop/callback"
NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())

SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
IMPOSTOR_KEY = RSAKey.generate_key(2048, parameters={"kid": "key-1"})  # same kid, not theirs
ROTATED_KEY = RSAKey.generate_key(2048, parameters={"kid": "key-2"})
PS_KEY = RSAKey.generate_key(2048, parameters={"kid": "ps-1", "alg": "PS256"})
EC_KEY = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "alg": "ES256"})


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeOpenIdProvider:
    """Discovery, a key set and a token endpoint; each test shapes the ID token it mints."""

    def __init__(self) -> None:
        self.issuer = ""  # known once the server listens
        self.discovery_overrides: dict[str, Any] = {}
        self.published: list[Key] = [SIGNING_KEY]
        self.signing_key: Key = SIGNING_KEY
        self.header: dict[str, Any] = {"alg": "RS256", "kid": "key-1"}
        self.claims: dict[str, Any] = {}
        self.dropped: set[str] = set()
        self.raw_id_token: str | None = None
        self.send_id_token = True
        self.issued: list[str] = []  # access and refresh tokens handed out
        self.down = False
        self.discovery_delay = 0.0  # seconds the discovery answer takes
        self.client_secret: str | None = CLIENT_SECRET  # None: the test checks it itself
        self.jwks_status = 200
        self.token_status = 200
        self.discovery_fetches = 0
        self.jwks_fetches = 0
        self.grants: dict[str, dict[str, str]] = {}
        self.redeemed: set[str] = set()
        self.token_requests: list[dict[str, str]] = []

    def issue_code(self, *, nonce: str, verifier: str, redirect_uri: str = REDIRECT) -> str:
        """What the provider's sign-in page does once the user has signed in."""
        code = str(generate_token(32))
        self.grants[code] = {"nonce": nonce, "challenge": create_s256_code_challenge(verifier),
                             "redirect_uri": redirect_uri}
        return code

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_post("/token", self._token)
        return app

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        if self.discovery_delay:
            await asyncio.sleep(self.discovery_delay)
        if self.down:
            return web.Response(status=503)
        return web.json_response({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            **self.discovery_overrides,
        })

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if self.jwks_status != 200:
            return web.json_response({"error": "down"}, status=self.jwks_status)
        return web.json_response({"keys": [k.as_dict(private=False) for k in self.published]})

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append({**form, "authorization": request.headers.get(
            "Authorization", "")})
        if self.token_status != 200:
            return web.json_response({"error": "temporarily_unavailable"},
                                     status=self.token_status)
        if self.client_secret is not None and not self._client_authenticated(request, form):
            return web.json_response({"error": "invalid_client"}, status=401)
        code = form.get("code", "")
        grant = self.grants.get(code)
        if (grant is None or code in self.redeemed
                or form.get("redirect_uri") != grant["redirect_uri"]
                or create_s256_code_challenge(form.get("code_verifier", "")) != grant[
                    "challenge"]):
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.redeemed.add(code)
        answer = {"access_token": "at-" + generate_token(20), "token_type": "Bearer",
                  "expires_in": 3600, "refresh_token": "rt-" + generate_token(20)}
        self.issued.extend([answer["access_token"], answer["refresh_token"]])
        if self.send_id_token:
            answer["id_token"] = self.raw_id_token or self.mint(grant["nonce"])
        return web.json_response(answer)

    def _client_authenticated(self, request: web.Request, form: dict[str, str]) -> bool:
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            return (unquote(client_id), unquote(secret)) == (CLIENT_ID, self.client_secret)
        return (form.get("client_id"), form.get("client_secret")) == (CLIENT_ID,
                                                                      self.client_secret)

    def mint(self, nonce: str) -> str:
        claims = {"iss": self.issuer, "sub": "user-1", "aud": CLIENT_ID, "iat": NOW_TS,
                  "exp": NOW_TS + 600, "nonce": nonce, "email": "ada@example.com",
                  "email_verified": True, **self.claims}
        for name in self.dropped:
            claims.pop(name, None)
        return jwt.encode(self.header, claims, self.signing_key,
                          algorithms=[self.header["alg"]])

    def unsigned_token(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def op() -> AsyncIterator[FakeOpenIdProvider]:
    fake = FakeOpenIdProvider()
    server = await _serve(fake.app())
    fake.issuer = f"http://127.0.0.1:{server.port}"
    yield fake
    await server.close()


@pytest.fixture
def ledger() -> RecordingLedger:
    return RecordingLedger()


@pytest.fixture
async def http(ledger: RecordingLedger) -> AsyncIterator[OutboundHttp]:
    client = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=0,
                          breaker_threshold=1000, breaker_ttl_seconds=30)
    yield client
    await client.close()


@pytest.fixture
def provider(http: OutboundHttp, op: FakeOpenIdProvider) -> OidcProvider:
    return _provider(http, op)


def _provider(http: OutboundHttp, op: FakeOpenIdProvider, **options: Any) -> OidcProvider:
    return OidcProvider(http, FixedClock(), name="fakeop", issuer=op.issuer,
                        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)


async def sign_in(provider: OidcProvider, op: FakeOpenIdProvider, *, nonce: str = "nonce-1",
                  iss: str | None = None, expected_nonce: str | None = None,
                  ) -> VerifiedIdentity:
    verifier = generate_token(64)
    code = op.issue_code(nonce=nonce, verifier=verifier)
    return await provider.exchange_code(
        CallbackParams(code, iss), code_verifier=verifier,
        nonce=expected_nonce or nonce, redirect_uri=REDIRECT)


async def refused(attempt: Awaitable[Any]) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        await attempt
    assert caught.value.detail  # a sentence a person can act on
    return caught.value


# --- the good path ------------------------------------------------------------------------


async def test_a_good_sign_in_gives_the_verified_identity(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    identity = await sign_in(provider, op, iss=op.issuer)
    assert identity == VerifiedIdentity("fakeop", "user-1", "ada@example.com", True)
    sent = op.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and sent["redirect_uri"] == REDIRECT
    assert sent["client_id"] == CLIENT_ID and sent["client_secret"] == CLIENT_SECRET
    assert await provider.available()


async def test_discovery_and_keys_are_fetched_once_while_fresh(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))
    await sign_in(provider, op)
    await sign_in(provider, op)
    assert (op.discovery_fetches, op.jwks_fetches) == (1, 1)


async def test_discovery_is_fetched_again_once_its_ttl_has_passed(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    clock = FixedClock()
    provider = OidcProvider(http, clock, name="fakeop", issuer=op.issuer, client_id=CLIENT_ID,
                            discovery_ttl_seconds=60)
    request = AuthorizationRequest("s", "n", "c", REDIRECT)
    await provider.authorization_url(request)
    clock.current = NOW.replace(minute=2)
    await provider.authorization_url(request)
    assert op.discovery_fetches == 2


async def test_a_provider_gone_down_is_found_out_before_a_customer_is_sent_there(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    clock = FixedClock()
    provider = OidcProvider(http, clock, name="fakeop", issuer=op.issuer, client_id=CLIENT_ID,
                            liveness_seconds=30)
    request = AuthorizationRequest("s", "n", "c", REDIRECT)
    await provider.authorization_url(request)
    clock.current = NOW.replace(second=NOW.second + 10)
    await provider.authorization_url(request)  # still fresh: no request
    assert op.discovery_fetches == 1
    op.down = True
    clock.current = NOW.replace(minute=NOW.minute + 1)
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(request)


async def test_a_provider_gone_down_is_found_out_at_the_very_next_start(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    """By default the provider is asked at every start, so the customer right after it went
    down is not sent to a dead page (nor anyone for the next half minute)."""
    request = AuthorizationRequest("s", "n", "c", REDIRECT)
    await provider.authorization_url(request)
    op.down = True  # the same instant: no clock has moved
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(request)
    assert not await provider.available()
    op.down = False
    assert await provider.authorization_url(request)


async def test_a_hung_provider_is_given_up_on_within_the_liveness_timeout_without_retries(
    ledger: RecordingLedger, op: FakeOpenIdProvider
) -> None:
    patient = OutboundHttp(ledger, NoAlerts(), timeout_seconds=30, retries=3,
                           breaker_threshold=1000, breaker_ttl_seconds=30)
    try:
        provider = _provider(patient, op, liveness_timeout_seconds=0.3)
        op.discovery_delay = 5
        began = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))
        assert time.monotonic() - began < 2
        assert op.discovery_fetches == 1  # one quick try: the customer is waiting
    finally:
        await patient.close()


async def test_once_the_breaker_opens_no_one_waits_for_the_provider(
    ledger: RecordingLedger, op: FakeOpenIdProvider
) -> None:
    touchy = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=0,
                          breaker_threshold=1, breaker_ttl_seconds=30)
    try:
        provider = _provider(touchy, op)
        op.down = True
        with pytest.raises(ProviderUnavailable):
            await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))
        fetches = op.discovery_fetches
        assert not await provider.available()
        assert op.discovery_fetches == fetches  # the open circuit answers, not the provider
    finally:
        await touchy.close()


async def test_starts_at_the_same_moment_share_one_liveness_check(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_delay = 0.2
    request = AuthorizationRequest("s", "n", "c", REDIRECT)
    urls = await asyncio.gather(*[provider.authorization_url(request) for _ in range(5)])
    assert len(urls) == 5 and op.discovery_fetches == 1


async def test_a_link_asks_the_provider_to_make_the_person_sign_in_again(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    link = AuthorizationRequest("s", "n", "c", REDIRECT, prompt="login")
    query = parse_qs(urlsplit(await _provider(http, op).authorization_url(link)).query)
    assert query["prompt"] == ["login"]
    # Google refuses prompt=login: there the person at least chooses the account.
    google = OidcProvider(http, FixedClock(), **{**preset("google"), "issuer": op.issuer},
                          client_id=CLIENT_ID)
    op.discovery_overrides["issuer"] = op.issuer
    query = parse_qs(urlsplit(await google.authorization_url(link)).query)
    assert query["prompt"] == ["select_account"]
    with pytest.raises(ValueError, match="login_prompt"):
        _provider(http, op, login_prompt="none")


async def test_client_secret_basic_sends_the_secret_in_the_header_only(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = _provider(http, op, token_auth="client_secret_basic")
    assert (await sign_in(provider, op)).subject == "user-1"
    sent = op.token_requests[-1]
    assert sent["authorization"].startswith("Basic ") and "client_secret" not in sent


async def test_the_authorization_url_carries_pkce_state_nonce_and_hint(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    verifier = generate_token(64)
    url = await provider.authorization_url(AuthorizationRequest(
        state="state-1", nonce="nonce-1", code_challenge=create_s256_code_challenge(verifier),
        redirect_uri=REDIRECT, login_hint="ada@example.com"))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{op.issuer}/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
        "scope": "openid email profile", "state": "state-1", "nonce": "nonce-1",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256", "login_hint": "ada@example.com",
    }


async def test_form_post_is_asked_for_in_the_authorization_url(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = _provider(http, op, response_mode="form_post")
    url = await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))
    query = parse_qs(urlsplit(url).query)
    assert query["response_mode"] == ["form_post"] and "login_hint" not in query
    assert provider.response_mode == "form_post"


@pytest.mark.parametrize(("asserted", "verified"), [
    (True, True), ("true", True), (False, False), ("false", False), ("True", False),
    (1, False), (None, False),
])
async def test_email_verified_only_when_the_provider_asserts_it(
    provider: OidcProvider, op: FakeOpenIdProvider, asserted: Any, verified: bool
) -> None:
    if asserted is None:
        op.dropped.add("email_verified")
    else:
        op.claims["email_verified"] = asserted
    assert (await sign_in(provider, op)).email_verified is verified


async def test_a_token_within_the_leeway_is_accepted(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.claims.update(exp=NOW_TS - 30, iat=NOW_TS - 630)
    assert (await sign_in(provider, op)).subject == "user-1"


async def test_several_audiences_are_accepted_when_azp_names_us(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.claims.update(aud=[CLIENT_ID, "another-app"], azp=CLIENT_ID)
    assert (await sign_in(provider, op)).subject == "user-1"


# --- refusals -----------------------------------------------------------------------------


async def test_a_callback_from_another_issuer_is_refused_before_the_code_is_sent(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    error = await refused(sign_in(provider, op, iss="https://evil.example"))
    assert error.reason == "issuer_mismatch"
    assert op.token_requests == []  # the code never reached the token endpoint


async def test_a_missing_iss_is_refused_when_the_provider_advertises_it(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["authorization_response_iss_parameter_supported"] = True
    assert (await refused(sign_in(provider, op))).reason == "issuer_mismatch"
    assert (await sign_in(provider, op, iss=op.issuer)).subject == "user-1"


async def test_a_missing_iss_is_refused_when_configured_to_require_it(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    required = _provider(http, op, require_iss_parameter=True)
    assert (await refused(sign_in(required, op))).reason == "issuer_mismatch"
    assert (await sign_in(_provider(http, op), op)).subject == "user-1"


@pytest.mark.parametrize(("claims", "dropped", "reason"), [
    ({"iss": "https://evil.example"}, set(), "issuer_mismatch"),
    ({"aud": "another-app"}, set(), "wrong_audience"),
    ({"aud": ["another-app", "third-app"]}, set(), "wrong_audience"),
    ({"aud": [CLIENT_ID, "another-app"]}, set(), "wrong_audience"),  # no azp
    ({"aud": [CLIENT_ID, "another-app"], "azp": "another-app"}, set(), "wrong_audience"),
    ({"exp": NOW_TS - 61, "iat": NOW_TS - 700}, set(), "token_expired"),
    ({"iat": NOW_TS + 300}, set(), "token_not_yet_valid"),
    ({"nbf": NOW_TS + 300}, set(), "token_not_yet_valid"),
    ({"nonce": "nonce-of-another-sign-in"}, set(), "nonce_mismatch"),
    ({}, {"nonce"}, "nonce_mismatch"),
    ({}, {"sub"}, "invalid_token"),
    ({"sub": ""}, set(), "invalid_token"),
    ({"exp": "tomorrow"}, set(), "invalid_token"),
])
async def test_a_token_failing_a_claim_check_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider, claims: dict[str, Any],
    dropped: set[str], reason: str,
) -> None:
    op.claims.update(claims)
    op.dropped |= dropped
    assert (await refused(sign_in(provider, op))).reason == reason


async def test_the_clock_is_the_injected_one_not_the_system_time(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    today = datetime.now(UTC)
    op.claims.update(iat=int(today.timestamp()), exp=int(today.timestamp()) + 600)
    provider = OidcProvider(http, FixedClock(), name="fakeop", issuer=op.issuer,
                            client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert (await refused(sign_in(provider, op))).reason == "token_expired"


async def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.signing_key = IMPOSTOR_KEY
    error = await refused(sign_in(provider, op))
    assert error.reason == "invalid_token" and "signature" in error.detail


async def test_an_unsigned_token_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.raw_id_token = op.unsigned_token({"alg": "none", "kid": "key-1"}, {
        "iss": op.issuer, "sub": "user-1", "aud": CLIENT_ID, "iat": NOW_TS,
        "exp": NOW_TS + 600, "nonce": "nonce-1"}) + "."
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256", "HS256"]
    signing_input = op.unsigned_token({"alg": "HS256", "kid": "key-1"}, {
        "iss": op.issuer, "sub": "user-1", "aud": CLIENT_ID, "iat": NOW_TS,
        "exp": NOW_TS + 600, "nonce": "nonce-1"})
    public_pem = SIGNING_KEY.as_pem(private=False)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    op.raw_id_token = f"{signing_input}.{_b64(mac)}"
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_only_the_algorithm_the_client_is_registered_for_is_accepted(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    """The provider lists several algorithms; the client is registered for one of them, and
    a token signed with another (even one the provider lists) is refused."""
    op.discovery_overrides["id_token_signing_alg_values_supported"] = [
        "RS256", "PS256", "ES256"]
    op.published = [SIGNING_KEY, PS_KEY, EC_KEY]
    es256 = _provider(http, op, id_token_signed_response_alg="ES256")
    op.signing_key, op.header = PS_KEY, {"alg": "PS256", "kid": "ps-1"}
    error = await refused(sign_in(es256, op))
    assert error.reason == "invalid_token"
    assert "'PS256'" in error.detail and "ES256" in error.detail
    # Nor does a client left at the default (RS256) take the PS256 token.
    assert (await refused(sign_in(_provider(http, op), op))).reason == "invalid_token"
    op.signing_key, op.header = EC_KEY, {"alg": "ES256", "kid": "ec-1"}
    assert (await sign_in(es256, op)).subject == "user-1"


def test_only_a_public_key_algorithm_can_be_registered(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    for algorithm in ("HS256", "none", "es256"):
        with pytest.raises(ValueError, match="id_token_signed_response_alg"):
            _provider(http, op, id_token_signed_response_alg=algorithm)


async def test_a_client_registered_for_an_algorithm_the_provider_lacks_is_unavailable(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256"]
    provider = _provider(http, op, id_token_signed_response_alg="ES256")
    assert not await provider.available()
    fault = provider.fault()
    assert fault is not None and "ES256" in fault and "RS256" in fault
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))


async def test_a_malformed_token_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.raw_id_token = "not.a-token"
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_a_replayed_code_is_refused_as_invalid_grant(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    verifier = generate_token(64)
    code = op.issue_code(nonce="nonce-1", verifier=verifier)
    callback = CallbackParams(code)
    await provider.exchange_code(callback, code_verifier=verifier, nonce="nonce-1",
                                 redirect_uri=REDIRECT)
    error = await refused(provider.exchange_code(
        callback, code_verifier=verifier, nonce="nonce-1", redirect_uri=REDIRECT))
    assert error.reason == "invalid_grant"


async def test_a_wrong_code_verifier_is_refused_as_invalid_grant(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    code = op.issue_code(nonce="nonce-1", verifier=generate_token(64))
    error = await refused(provider.exchange_code(
        CallbackParams(code), code_verifier=generate_token(64), nonce="nonce-1",
        redirect_uri=REDIRECT))
    assert error.reason == "invalid_grant"


async def test_a_refused_client_is_not_called_invalid_grant(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = OidcProvider(http, FixedClock(), name="fakeop", issuer=op.issuer,
                            client_id=CLIENT_ID, client_secret="a stale secret")
    assert (await refused(sign_in(provider, op))).reason == "token_request_refused"


async def test_an_unknown_kid_fetches_the_keys_again_once_after_a_rotation(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    await sign_in(provider, op)
    assert op.jwks_fetches == 1
    op.published = [SIGNING_KEY, ROTATED_KEY]
    op.signing_key, op.header = ROTATED_KEY, {"alg": "RS256", "kid": "key-2"}
    assert (await sign_in(provider, op)).subject == "user-1"
    assert op.jwks_fetches == 2
    assert (await sign_in(provider, op)).subject == "user-1"
    assert op.jwks_fetches == 2  # the new key set is cached


async def test_a_kid_still_unknown_after_one_fetch_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    await sign_in(provider, op)
    op.header = {"alg": "RS256", "kid": "ghost"}
    assert (await refused(sign_in(provider, op))).reason == "unknown_key"
    assert op.jwks_fetches == 2  # exactly one fetch more


async def test_a_token_naming_no_key_is_checked_with_the_only_key(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.header = {"alg": "RS256"}
    assert (await sign_in(provider, op)).subject == "user-1"


async def test_a_token_naming_no_key_among_several_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.header = {"alg": "RS256"}
    op.published = [SIGNING_KEY, ROTATED_KEY]
    assert (await refused(sign_in(provider, op))).reason == "unknown_key"


async def test_a_kid_naming_a_key_of_another_type_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.published = [ECKey.generate_key("P-256", parameters={"kid": "key-1"})]
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_a_token_answer_without_an_id_token_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.send_id_token = False
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_a_discovery_document_of_another_issuer_makes_the_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["issuer"] = "https://evil.example"
    request = AuthorizationRequest("s", "n", "c", REDIRECT)
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(request)
    with pytest.raises(ProviderUnavailable):
        await sign_in(provider, op)
    assert op.token_requests == []  # no code goes to a provider we could not identify
    assert "'https://evil.example'" in (provider.fault() or "")


async def test_an_issuer_differing_by_a_trailing_slash_is_shown_unavailable_with_the_reason(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    """The provider names itself without the slash: no sign-in could pass the exact issuer
    check, so the provider is shown unavailable, with what to change, before anyone tries."""
    clock = FixedClock()
    provider = OidcProvider(http, clock, name="fakeop", issuer=f"{op.issuer}/",
                            client_id=CLIENT_ID)
    assert await provider.available() is False
    fault = provider.fault()
    assert fault is not None and "trailing slash" in fault
    assert f"set the issuer to exactly {op.issuer!r}" in fault
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))
    assert caught.value.detail == fault
    # Asked again only after a while; a provider that fixed its side is then available.
    fetches = op.discovery_fetches
    assert await provider.available() is False and op.discovery_fetches == fetches
    op.discovery_overrides["issuer"] = f"{op.issuer}/"
    clock.current = NOW.replace(second=NOW.second + FAULT_RECHECK_SECONDS % 60,
                                minute=NOW.minute + FAULT_RECHECK_SECONDS // 60)
    assert await provider.available() is True and provider.fault() is None


# --- the provider down --------------------------------------------------------------------


async def test_a_key_set_endpoint_down_is_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.jwks_status = 503
    with pytest.raises(ProviderUnavailable):
        await sign_in(provider, op)


async def test_an_unreachable_key_set_is_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["jwks_uri"] = "http://127.0.0.1:9/jwks"  # the discard port
    with pytest.raises(ProviderUnavailable):
        await sign_in(provider, op)


async def test_a_token_endpoint_answering_503_is_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.token_status = 503
    with pytest.raises(ProviderUnavailable):
        await sign_in(provider, op)
    assert len(op.token_requests) == 1  # a code redeems once: never retried


async def test_a_discovery_document_without_an_endpoint_is_a_fault_the_provider_must_fix(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["token_endpoint"] = None
    assert not await provider.available()
    assert "token_endpoint" in (provider.fault() or "")


async def test_a_missing_discovery_document_is_provider_unavailable(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = OidcProvider(http, FixedClock(), name="fakeop", issuer=f"{op.issuer}/nowhere",
                            client_id=CLIENT_ID)
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))


# --- what the evidence keeps ----------------------------------------------------------------


def _stored(ledger: RecordingLedger) -> str:
    return json.dumps([redact(draft.payload) for draft in ledger.drafts])


async def test_the_evidence_keeps_no_token_or_secret_in_clear(
    provider: OidcProvider, op: FakeOpenIdProvider, ledger: RecordingLedger
) -> None:
    await sign_in(provider, op)
    assert {d.subject for d in ledger.drafts} == {"identity:fakeop"}
    stored = _stored(ledger)
    assert op.issued and CLIENT_SECRET not in stored
    assert not [token for token in op.issued if token in stored]
    assert "eyJ" not in stored  # no JWT: neither the ID token nor its header


async def test_the_evidence_keeps_no_code_or_verifier_in_clear(
    provider: OidcProvider, op: FakeOpenIdProvider, ledger: RecordingLedger
) -> None:
    verifier = generate_token(64)
    code = op.issue_code(nonce="nonce-1", verifier=verifier)
    await provider.exchange_code(CallbackParams(code), code_verifier=verifier,
                                 nonce="nonce-1", redirect_uri=REDIRECT)
    stored = _stored(ledger)
    assert code not in stored and verifier not in stored


# --- presets and Apple ----------------------------------------------------------------------


def test_presets_name_the_issuers() -> None:
    assert preset("google")["issuer"] == "https://accounts.google.com"
    assert preset("kakao")["issuer"] == "https://kauth.kakao.com"
    assert preset("apple")["issuer"] == "https://appleid.apple.com"
    assert preset("apple")["response_mode"] == "form_post"
    with pytest.raises(ValueError, match="known: apple, google, kakao"):
        preset("myspace")


APPLE_KEY = ECKey.generate_key("P-256", parameters={"kid": "APPLEKEY01"})
APPLE_PEM = APPLE_KEY.as_pem(private=True)


def test_the_apple_client_secret_is_an_es256_jwt_with_apples_claims() -> None:
    secret = apple_client_secret("TEAM123456", "APPLEKEY01", "com.mall.web", APPLE_PEM,
                                 FixedClock())
    public = ECKey.import_key(APPLE_KEY.as_pem(private=False))
    token = jwt.decode(secret, public, algorithms=["ES256"])
    assert token.header["alg"] == "ES256" and token.header["kid"] == "APPLEKEY01"
    assert token.claims == {"iss": "TEAM123456", "iat": NOW_TS, "exp": NOW_TS + 300,
                            "aud": APPLE_AUDIENCE, "sub": "com.mall.web"}


def test_the_apple_client_secret_needs_a_p256_private_key() -> None:
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", ECKey.generate_key("P-384").as_pem(private=True),
                            FixedClock())
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", APPLE_KEY.as_pem(private=False), FixedClock())
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", SIGNING_KEY.as_pem(private=True), FixedClock())
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", "not a key", FixedClock())


async def test_apple_uses_form_post_and_a_fresh_signed_secret(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    apple = apple_provider(http, FixedClock(), client_id=CLIENT_ID, team_id="TEAM123456",
                           key_id="APPLEKEY01", private_key_pem=APPLE_PEM, issuer=op.issuer)
    assert apple.name == "apple" and apple.response_mode == "form_post"
    url = await apple.authorization_url(AuthorizationRequest("s", "n", "c", REDIRECT))
    query = parse_qs(urlsplit(url).query)
    assert query["response_mode"] == ["form_post"] and query["scope"] == ["openid email name"]
    op.client_secret = None
    op.claims["email_verified"] = "true"  # Apple's way of saying it
    identity = await sign_in(apple, op, iss=op.issuer)
    assert identity.email_verified
    sent = op.token_requests[-1]["client_secret"]
    token = jwt.decode(sent, ECKey.import_key(APPLE_KEY.as_pem(private=False)),
                       algorithms=["ES256"])
    assert token.claims["sub"] == CLIENT_ID and token.claims["iss"] == "TEAM123456"


# --- Naver ----------------------------------------------------------------------------------


class FakeNaver:
    """Naver's token and profile endpoints, as its API documentation describes them."""

    def __init__(self) -> None:
        self.codes = {"code-1"}
        self.tokens: set[str] = set()
        self.profile: dict[str, Any] = {"id": "naver-member-7", "email": "ada@naver.com",
                                        "name": "Ada", "mobile": "010-0000-0000"}
        self.resultcode = "00"
        self.token_requests: list[dict[str, str]] = []
        self.profile_headers: list[str] = []
        self.login_page_status = 200
        self.login_page_visits = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("HEAD", "/oauth2.0/authorize", self._login_page)
        app.router.add_post("/oauth2.0/token", self._token)
        app.router.add_get("/v1/nid/me", self._me)
        return app

    async def _login_page(self, request: web.Request) -> web.Response:
        self.login_page_visits += 1
        return web.Response(status=self.login_page_status, text="<html>login</html>",
                            content_type="text/html")

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if (form.get("client_secret") != CLIENT_SECRET
                or form.get("code") not in self.codes):
            # Naver answers errors with HTTP 200 and an `error` field.
            return web.json_response({"error": "invalid_request",
                                      "error_description": "no valid data in session"})
        self.codes.discard(form["code"])
        token = "AAAA" + generate_token(20)
        self.tokens.add(token)
        return web.json_response({"access_token": token, "refresh_token": "r",
                                  "token_type": "bearer", "expires_in": "3600"})

    async def _me(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        self.profile_headers.append(header)
        if header.removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"resultcode": "024", "message": "Authentication failed"},
                                     status=401)
        return web.json_response({"resultcode": self.resultcode, "message": "success",
                                  "response": self.profile})


@pytest.fixture
async def naver_site() -> AsyncIterator[tuple[FakeNaver, str]]:
    fake = FakeNaver()
    server = await _serve(fake.app())
    yield fake, f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
def naver(http: OutboundHttp, naver_site: tuple[FakeNaver, str]) -> NaverProvider:
    _, base = naver_site
    return NaverProvider(http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         authorize_url=f"{base}/oauth2.0/authorize",
                         token_url=f"{base}/oauth2.0/token", profile_url=f"{base}/v1/nid/me")


def _naver_exchange(naver: NaverProvider, code: str = "code-1",
                    ) -> Callable[[], Awaitable[VerifiedIdentity]]:
    return lambda: naver.exchange_code(CallbackParams(code), code_verifier="unused",
                                       nonce="nonce-1", redirect_uri=REDIRECT)


async def test_naver_signs_in_with_an_email_never_verified(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    identity = await _naver_exchange(naver)()
    assert identity == VerifiedIdentity("naver", "naver-member-7", "ada@naver.com", False)
    sent = fake.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and sent["client_id"] == CLIENT_ID
    assert sent["state"]
    assert fake.profile_headers[-1].startswith("Bearer AAAA")
    assert naver.response_mode == "query" and await naver.available()


async def test_naver_authorization_url_carries_the_state(naver: NaverProvider) -> None:
    url = await naver.authorization_url(AuthorizationRequest(
        "state-1", "nonce-1", "challenge", REDIRECT, login_hint="ada"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query == {"response_type": "code", "client_id": CLIENT_ID,
                     "redirect_uri": REDIRECT, "state": "state-1"}


async def test_naver_is_asked_whether_its_login_page_answers_before_a_start(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    request = AuthorizationRequest("state-1", "nonce-1", "challenge", REDIRECT)
    await naver.authorization_url(request)
    assert fake.login_page_visits == 1
    fake.login_page_status = 503
    with pytest.raises(ProviderUnavailable):
        await naver.authorization_url(request)


async def test_naver_makes_the_person_sign_in_again_for_a_link(naver: NaverProvider) -> None:
    url = await naver.authorization_url(AuthorizationRequest(
        "state-1", "nonce-1", "challenge", REDIRECT, prompt="login"))
    assert parse_qs(urlsplit(url).query)["auth_type"] == ["reauthenticate"]


async def test_naver_refuses_a_replayed_code(naver: NaverProvider) -> None:
    await _naver_exchange(naver)()
    assert (await refused(_naver_exchange(naver)())).reason == "invalid_grant"


async def test_naver_refuses_a_profile_whose_resultcode_is_not_00(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    fake.resultcode = "403"
    assert (await refused(_naver_exchange(naver)())).reason == "invalid_token"


async def test_naver_refuses_a_profile_without_a_member_id(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    del fake.profile["id"]
    assert (await refused(_naver_exchange(naver)())).reason == "invalid_token"


async def test_naver_down_is_provider_unavailable(http: OutboundHttp) -> None:
    naver = NaverProvider(http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          token_url="http://127.0.0.1:9/oauth2.0/token")
    with pytest.raises(ProviderUnavailable):
        await _naver_exchange(naver)()
