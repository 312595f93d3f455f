"""Ports that vouch for a person: OpenID providers, real-name verification, password hashing."""

from __future__ import annotations

import hashlib

from application.ports import (
    AuthorizationRequest,
    CallbackParams,
    RealNameVerification,
    VerifiedIdentity,
)
from domain.errors import SignInRefused
from tests.fakes.clock import START


class FakeIdentityProvider:
    """An IdentityProvider that signs in whoever `next_identity` names."""

    response_mode = "query"

    def __init__(self, name: str = "fakeid") -> None:
        self.name = name
        self.next_identity: VerifiedIdentity | None = None
        self.requests: list[AuthorizationRequest] = []
        self.up = True

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        self.requests.append(request)
        return f"https://id.test/authorize?state={request.state}"

    async def exchange_code(self, callback: CallbackParams, *, code_verifier: str, nonce: str,
                            redirect_uri: str) -> VerifiedIdentity:
        if self.next_identity is None:
            raise SignInRefused("no identity scripted", reason="invalid_token")
        return self.next_identity

    async def available(self) -> bool:
        return self.up

    def fault(self) -> str | None:
        return None


class FakeRealNameVerifier:
    """A RealNameVerifier that knows the people `people` names, by verification token."""

    name = "fake-pass"

    def __init__(self) -> None:
        self.people: dict[str, RealNameVerification] = {}

    def person(self, token: str, ci: str, di: str, adult: bool = True) -> None:
        self.people[token] = RealNameVerification(ci, di, START, adult)

    async def verify(self, token: str) -> RealNameVerification:
        if token not in self.people:
            raise SignInRefused("the verification did not go through", reason="invalid_token")
        return self.people[token]


class FakePasswordHasher:
    """Fast and deterministic: the real one (argon2) is slow on purpose."""

    def __init__(self) -> None:
        self.verified = 0

    async def hash(self, password: str) -> str:
        return "fake$" + hashlib.sha256(password.encode()).hexdigest()

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return password_hash == await self.hash(password)
