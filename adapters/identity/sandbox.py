"""The sandbox identity provider: an OpenID-Connect-shaped sign-in without a real provider.

Its authorization endpoint (`/sandbox/identity/authorize`) signs a test user in and redirects
back with a code and its issuer (RFC 9207). The code is a short-lived, single-use JWT (HS256)
bound to the redirect URI, the nonce and the PKCE challenge, which
`exchange_code` checks as a real provider's token endpoint and ID token checks would.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NoReturn
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from application.ports import AuthorizationRequest, CallbackParams, Clock, VerifiedIdentity
from domain.errors import SignInRefused
from domain.identity import pkce_challenge

CODE_LIFETIME_SECONDS = 60


class SandboxIdentityProvider:
    name = "sandbox"
    response_mode = "query"

    def __init__(self, signing_key: str, public_base_url: str, clock: Clock) -> None:
        self._key = OctKey.import_key(
            hashlib.sha256(f"sandbox-identity:{signing_key}".encode()).digest())
        # The sign-in page sends the configured base URL as `iss`; compared exactly.
        self._issuer = public_base_url
        self._base = public_base_url.rstrip("/")
        self._redeemed: dict[str, float] = {}
        self._clock = clock

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        params = {
            "response_type": "code", "client_id": "mall", "redirect_uri": request.redirect_uri,
            "scope": "openid email", "state": request.state, "nonce": request.nonce,
            "code_challenge": request.code_challenge, "code_challenge_method": "S256",
        }
        if request.login_hint:
            params["login_hint"] = request.login_hint
        if request.prompt:
            params["prompt"] = request.prompt  # its page signs in whoever login_hint names
        return f"{self._base}/sandbox/identity/authorize?{urlencode(params)}"

    async def available(self) -> bool:
        return True  # it runs inside this backend

    def fault(self) -> str | None:
        return None

    def issue_code(self, *, subject: str, nonce: str, code_challenge: str,
                   redirect_uri: str) -> str:
        """What the authorization endpoint does once the test user has signed in."""
        grant = {"sub": subject, "nonce": nonce, "cc": code_challenge, "ru": redirect_uri,
                 "exp": self._now() + CODE_LIFETIME_SECONDS, "jti": secrets.token_hex(8)}
        return jwt.encode({"alg": "HS256"}, grant, self._key)

    async def exchange_code(
        self, callback: CallbackParams, *, code_verifier: str, nonce: str, redirect_uri: str
    ) -> VerifiedIdentity:
        if callback.iss is not None and callback.iss != self._issuer:
            _refuse("issuer_mismatch",
                    "the sign-in response did not come from the sandbox identity provider")
        try:
            grant = jwt.decode(callback.code, self._key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            _refuse("invalid_grant", "the sign-in code is not one the sandbox issued")
        now = self._now()
        self._redeemed = {k: v for k, v in self._redeemed.items() if v > now}
        if (
            grant["exp"] < now
            or grant["jti"] in self._redeemed
            or grant["ru"] != redirect_uri
            or not hmac.compare_digest(grant["cc"], pkce_challenge(code_verifier))
        ):
            _refuse("invalid_grant", (
                "the sign-in code was already used, has expired, or belongs to another "
                "redirect or verifier; start the sign-in again"))
        if not hmac.compare_digest(grant["nonce"].encode(), nonce.encode()):
            _refuse("nonce_mismatch", "the sign-in code belongs to another sign-in")
        self._redeemed[grant["jti"]] = grant["exp"]
        subject = str(grant["sub"])
        return VerifiedIdentity(self.name, subject, f"{subject}@sandbox-id.example", True)

    def _now(self) -> float:
        return self._clock.now().timestamp()  # JWT times are epoch seconds


def _refuse(reason: str, detail: str) -> NoReturn:
    raise SignInRefused(detail, reason=reason)
