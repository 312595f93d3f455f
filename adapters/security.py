"""Password hashing (argon2id, memory-hard) and signed access tokens (JWT via joserfc)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from application.ports import Clock
from domain.customers import Customer
from domain.errors import Unauthorized
from domain.identity import binding_of


class Argon2PasswordHasher:
    """argon2id off the event loop: each hash or check (about 0.1 s of CPU, more on a busy
    machine) runs in a thread of a small pool, at most `concurrency` at a time, so a burst of
    password checks waits in the pool's queue while webhooks and payments keep the loop."""

    def __init__(self, concurrency: int = 2) -> None:
        if concurrency < 1:
            raise ValueError("password hashing needs at least one thread")
        self._hasher = Argon2Hasher()  # argon2id with the library's RFC 9106 defaults
        self._pool = ThreadPoolExecutor(max_workers=concurrency,
                                        thread_name_prefix="password-hashing",
                                        initializer=_yield_cpu_to_the_loop)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _yield_cpu_to_the_loop() -> None:
    """Hashing threads run at the lowest CPU priority (Linux sets it per thread, and the
    lane threads argon2 starts for each hash inherit it): the event loop and the database
    get the CPU first, and hashing takes what is left. The lowest, because one check runs
    four lanes: at a middling priority a few checks together still weigh as much as the
    loop."""
    if sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError:
        pass  # not permitted here: hashing still runs off the loop, at normal priority


class JwtTokenIssuer:
    """HS256 access tokens with issuer, audience, expiry and a unique id; issued and checked
    by the injected clock."""

    ISSUER = "mall-integrations"
    AUDIENCE = "storefront"

    def __init__(self, secret: str, lifetime_seconds: int, clock: Clock) -> None:
        self._key = OctKey.import_key(secret.encode())
        self._lifetime = lifetime_seconds
        self._clock = clock

    def issue(self, customer: Customer, session_id: str = "") -> tuple[str, int]:
        now = self._now()
        claims: dict[str, Any] = {
            "iss": self.ISSUER, "aud": self.AUDIENCE, "sub": customer.id,
            "iat": now, "exp": now + self._lifetime, "jti": uuid.uuid4().hex,
            "role": customer.role.value,
        }
        if session_id:
            claims["sid"] = session_id  # logout revokes the session, and with it this token
        return jwt.encode({"alg": "HS256"}, claims, self._key), self._lifetime

    def claims(self, token: str, audience: str = AUDIENCE) -> dict[str, Any]:
        refused = Unauthorized("the access token is missing, invalid or expired; sign in again")
        try:
            decoded = jwt.decode(token, self._key, algorithms=["HS256"])
            jwt.JWTClaimsRegistry(
                now=self._now, iss={"essential": True, "value": self.ISSUER},
                aud={"essential": True, "value": audience},
                exp={"essential": True}, sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise refused from exc
        return dict(decoded.claims)

    def _now(self) -> int:
        return int(self._clock.now().timestamp())  # JWT times are whole epoch seconds

    def subject(self, token: str) -> str:
        return str(self.claims(token)["sub"])

    def purpose_token(self, purpose: str, subject: str, binding: str, lifetime: int) -> str:
        now = self._now()
        claims = {"iss": self.ISSUER, "aud": f"purpose:{purpose}", "sub": subject,
                  "iat": now, "exp": now + lifetime, "bnd": binding_of(binding)}
        return jwt.encode({"alg": "HS256"}, claims, self._key)

    def read_purpose_token(self, token: str, purpose: str) -> tuple[str, str]:
        claims = self.claims(token, audience=f"purpose:{purpose}")
        return str(claims["sub"]), str(claims.get("bnd", ""))


