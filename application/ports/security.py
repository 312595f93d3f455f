"""Passwords, tokens and encryption of the most sensitive identifiers."""

from __future__ import annotations

from typing import Any, Protocol

from domain.customers import Customer


class PasswordHasher(Protocol):
    """Slow on purpose (memory-hard): implementations keep that work off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


class TokenIssuer(Protocol):
    def issue(self, customer: Customer, session_id: str = "") -> tuple[str, int]:
        """A signed access token (bound to a session when given) and its lifetime."""
        ...

    def subject(self, token: str) -> str:
        """The customer id inside a valid token; Unauthorized otherwise."""
        ...

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token (sub, sid...); Unauthorized otherwise."""
        ...

    def purpose_token(self, purpose: str, subject: str, binding: str, lifetime: int) -> str:
        """A signed single-purpose token (email verification, password reset); `binding`
        ties it to state that changes once it is used (the password hash, the email)."""
        ...

    def read_purpose_token(self, token: str, purpose: str) -> tuple[str, str]:
        """(subject, binding) of a valid token of this purpose; Unauthorized otherwise."""
        ...


class DataCipher(Protocol):
    """Envelope encryption and blind indexes for the most sensitive identifiers."""

    @property
    def current_key_id(self) -> str: ...

    def seal(self, plaintext: str, context: str) -> str: ...
    def open(self, sealed: str, context: str) -> str: ...
    def key_id_of(self, sealed: str) -> str: ...
    def rewrap(self, sealed: str, context: str) -> str: ...
    def blind_index(self, value: str, purpose: str) -> str: ...
