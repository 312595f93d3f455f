"""A fake OpenID provider on a local port, the settings the adapter under test is given, and
the steps every sign-in adapter test takes.

The fake provider's tokens are dated by a fixed clock years away from the system time, so a
pass also proves the adapter judges token times by the injected clock.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

from adapters.http import OutboundHttp
from adapters.identity.oidc import OidcProvider
from application.ports import AuthorizationRequest, CallbackParams, VerifiedIdentity
from domain.errors import ProviderUnavailable, SignInRefused
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
START = AuthorizationRequest("s", "n", "c", REDIRECT)  # any start: only the provider varies


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def b64url(data: bytes) -> str:
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
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


async def serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@asynccontextmanager
async def outbound(ledger: RecordingLedger, **options: Any) -> AsyncIterator[OutboundHttp]:
    """An OutboundHttp (patient enough for a test, never retrying unless told), closed after."""
    settings: dict[str, Any] = {"timeout_seconds": 5, "retries": 0, "breaker_threshold": 1000,
                                "breaker_ttl_seconds": 30, **options}
    client = OutboundHttp(ledger, NoAlerts(), **settings)
    try:
        yield client
    finally:
        await client.close()


def provider_for(http: OutboundHttp, op: FakeOpenIdProvider, **options: Any) -> OidcProvider:
    return OidcProvider(http, FixedClock(), name="fakeop", issuer=op.issuer,
                        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)


def clocked_provider(http: OutboundHttp, op: FakeOpenIdProvider,
                     **options: Any) -> tuple[OidcProvider, FixedClock]:
    """A provider without a client secret whose clock the test moves."""
    clock = FixedClock()
    options = {"name": "fakeop", "issuer": op.issuer, "client_id": CLIENT_ID, **options}
    return OidcProvider(http, clock, **options), clock


async def sign_in(provider: OidcProvider, op: FakeOpenIdProvider, *, nonce: str = "nonce-1",
                  iss: str | None = None, expected_nonce: str | None = None,
                  ) -> VerifiedIdentity:
    verifier = generate_token(64)
    code = op.issue_code(nonce=nonce, verifier=verifier)
    return await provider.exchange_code(
        CallbackParams(code, iss), code_verifier=verifier,
        nonce=expected_nonce or nonce, redirect_uri=REDIRECT)


async def unavailable(attempt: Awaitable[Any]) -> None:
    with pytest.raises(ProviderUnavailable):
        await attempt


async def refused(attempt: Awaitable[Any]) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        await attempt
    assert caught.value.detail  # a sentence a person can act on
    return caught.value
