"""The sandbox identity provider: an OpenID-Connect-shaped sign-in without a real provider.

Its authorization endpoint (`/sandbox/identity/authorize`) signs a test user in and redirects
back with a code. The code is an HMAC-signed, short-lived, single-use grant bound to the
redirect URI, the nonce and the PKCE challenge, which `exchange_code` checks as a real
provider's token endpoint would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlencode

from application.ports import VerifiedIdentity
from domain.errors import Unauthorized

CODE_LIFETIME_SECONDS = 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636)."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


class SandboxIdentityProvider:
    name = "sandbox"

    def __init__(self, signing_key: str, public_base_url: str) -> None:
        self._key = hashlib.sha256(f"sandbox-identity:{signing_key}".encode()).digest()
        self._base = public_base_url.rstrip("/")
        self._redeemed: dict[str, float] = {}

    def authorization_url(
        self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str
    ) -> str:
        query = urlencode({
            "response_type": "code", "client_id": "mall", "redirect_uri": redirect_uri,
            "scope": "openid email", "state": state, "nonce": nonce,
            "code_challenge": code_challenge, "code_challenge_method": "S256",
        })
        return f"{self._base}/sandbox/identity/authorize?{query}"

    def issue_code(self, *, subject: str, nonce: str, code_challenge: str,
                   redirect_uri: str) -> str:
        """What the authorization endpoint does once the test user has signed in."""
        grant = {"sub": subject, "nonce": nonce, "cc": code_challenge, "ru": redirect_uri,
                 "exp": time.time() + CODE_LIFETIME_SECONDS, "jti": secrets.token_hex(8)}
        body = _b64(json.dumps(grant, separators=(",", ":")).encode())
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    async def exchange_code(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str
    ) -> VerifiedIdentity:
        refused = Unauthorized("the sign-in could not be completed; start again")
        body, _, signature = code.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not signature or not hmac.compare_digest(signature, expected):
            raise refused
        try:
            grant = json.loads(_unb64(body))
        except ValueError as exc:
            raise refused from exc
        now = time.time()
        self._redeemed = {k: v for k, v in self._redeemed.items() if v > now}
        if (
            grant["exp"] < now
            or grant["jti"] in self._redeemed
            or grant["ru"] != redirect_uri
            or not hmac.compare_digest(grant["nonce"], nonce)
            or not hmac.compare_digest(grant["cc"], s256(code_verifier))
        ):
            raise refused
        self._redeemed[grant["jti"]] = grant["exp"]
        subject = str(grant["sub"])
        return VerifiedIdentity(self.name, subject, f"{subject}@sandbox-id.example", True)
