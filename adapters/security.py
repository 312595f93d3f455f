"""Password hashing (argon2id, memory-hard) and signed access tokens (JWT via joserfc)."""

from __future__ import annotations

import time
import uuid

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from domain.customers import Customer
from domain.errors import Unauthorized


class Argon2PasswordHasher:
    def __init__(self) -> None:
        self._hasher = Argon2Hasher()  # argon2id with the library's RFC 9106 defaults

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class JwtTokenIssuer:
    """HS256 access tokens with issuer, audience, expiry and a unique id."""

    ISSUER = "mall-integrations"
    AUDIENCE = "storefront"

    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._key = OctKey.import_key(secret.encode())
        self._lifetime = lifetime_seconds

    def issue(self, customer: Customer) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "iss": self.ISSUER, "aud": self.AUDIENCE, "sub": customer.id,
            "iat": now, "exp": now + self._lifetime, "jti": uuid.uuid4().hex,
            "role": customer.role.value,
        }
        return jwt.encode({"alg": "HS256"}, claims, self._key), self._lifetime

    def subject(self, token: str) -> str:
        refused = Unauthorized("the access token is missing, invalid or expired; sign in again")
        try:
            decoded = jwt.decode(token, self._key, algorithms=["HS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.ISSUER},
                aud={"essential": True, "value": self.AUDIENCE},
                exp={"essential": True}, sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise refused from exc
        return str(decoded.claims["sub"])
