"""The sandbox Korean identity verification (a PASS/NICE-style service without the phone).

Its page (`/sandbox/real-name/verify?person=...`) plays the customer passing the check and
hands back a short-lived signed token; `verify` redeems it into CI and DI shaped like real ones
(CI: 88 characters of base64, DI: 64 hex), derived from the person so that the same person
gets the same CI/DI every time, as with a real service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from application.ports import RealNameVerification
from domain.errors import SignInRefused

TOKEN_LIFETIME_SECONDS = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SandboxRealNameVerifier:
    name = "sandbox-real-name"

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(f"sandbox-real-name:{secret}".encode()).digest()

    def issue_token(self, person: str, adult: bool = True) -> str:
        claims = {"person": person[:64], "adult": adult,
                  "exp": time.time() + TOKEN_LIFETIME_SECONDS}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    async def verify(self, token: str) -> RealNameVerification:
        refused = SignInRefused("the identity verification could not be confirmed; "
                                "verify again", reason="verification_invalid")
        body, _, signature = token.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not signature or not hmac.compare_digest(signature, expected):
            raise refused
        try:
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError as exc:
            raise refused from exc
        if claims["exp"] < time.time():
            raise refused
        person = str(claims["person"]).encode()
        ci = base64.b64encode(hmac.new(self._key, b"ci:" + person, hashlib.sha512).digest())
        di = hmac.new(self._key, b"di:" + person, hashlib.sha256).hexdigest()
        return RealNameVerification(ci.decode(), di, datetime.now(UTC), bool(claims["adult"]))
