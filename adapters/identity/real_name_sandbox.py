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

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from application.ports import Clock, RealNameVerification
from domain.errors import SignInRefused

TOKEN_LIFETIME_SECONDS = 600


class SandboxRealNameVerifier:
    name = "sandbox-real-name"

    def __init__(self, secret: str, clock: Clock) -> None:
        self._key = hashlib.sha256(f"sandbox-real-name:{secret}".encode()).digest()
        self._token_key = OctKey.import_key(self._key)
        self._clock = clock

    def issue_token(self, person: str, adult: bool = True) -> str:
        expires = self._clock.now().timestamp() + TOKEN_LIFETIME_SECONDS
        return jwt.encode({"alg": "HS256"}, {"person": person[:64], "adult": adult,
                                              "exp": expires}, self._token_key)

    async def verify(self, token: str) -> RealNameVerification:
        refused = SignInRefused("the identity verification could not be confirmed; "
                                "verify again", reason="verification_invalid")
        try:
            claims = jwt.decode(token, self._token_key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            raise refused from None
        now = self._clock.now()
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now.timestamp():
            raise refused
        person = str(claims["person"]).encode()
        ci = base64.b64encode(hmac.new(self._key, b"ci:" + person, hashlib.sha512).digest())
        di = hmac.new(self._key, b"di:" + person, hashlib.sha256).hexdigest()
        return RealNameVerification(ci.decode(), di, now, bool(claims["adult"]))
