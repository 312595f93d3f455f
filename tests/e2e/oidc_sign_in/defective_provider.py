"""An OpenID provider with the defects a real one will not produce: its token endpoint mints
the flawed ID token a test chose."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import RSAKey

from domain.identity import pkce_challenge

FAKE_CLIENT_ID, FAKE_CLIENT_SECRET = "mall-e2e-fake", "mall-e2e-fake-secret"

# The defective provider's keys: one it publishes, and one with the same kid that is not its.
FAKE_KEY = RSAKey.generate_key(2048, parameters={"kid": "fake-key-1", "use": "sig",
                                                 "alg": "RS256"})
IMPOSTOR_KEY = RSAKey.generate_key(2048, parameters={"kid": "fake-key-1"})


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
