"""Sign-in providers and real-name verification, and the messages that cross."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the provider says signed in, after every check on its answer passed."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool  # only a provider's explicit `email_verified: true` counts


@dataclass(frozen=True)
class AuthorizationRequest:
    state: str  # random, bound server-side to this sign-in, used once
    nonce: str  # random, must come back inside the ID token
    code_challenge: str  # PKCE S256 of a verifier kept server-side
    redirect_uri: str
    login_hint: str | None = None
    # "login": the person must sign in at the provider again, whatever session it has (a
    # link must name the account its owner chose, not whichever one is signed in there).
    prompt: str | None = None


@dataclass(frozen=True)
class CallbackParams:
    """What the provider sent back to our callback (query string or form_post body)."""

    code: str
    iss: str | None = None  # RFC 9207: the issuer that sent the response


@dataclass(frozen=True)
class RealNameVerification:
    """A Korean identity verification result (PASS, NICE...): CI and DI never leave the
    identity module; analytics and third parties never see them."""

    ci: str  # connecting information: the same person across services
    di: str  # duplication information: the same person within this service
    verified_at: datetime
    adult: bool = False


class IdentityProvider(Protocol):
    """An external sign-in provider (OpenID Connect, or OAuth2 with a profile endpoint).

    Failures raise SignInRefused (the provider's answer failed a check: state, issuer, token
    signature, audience, expiry, nonce...; nothing is stored) or ProviderUnavailable (the
    provider could not be reached: discovery, token or JWKS endpoint down).
    """

    name: str
    response_mode: str  # "query" or "form_post" (Apple): how the callback arrives

    async def authorization_url(self, request: AuthorizationRequest) -> str: ...

    async def exchange_code(
        self, callback: CallbackParams, *, code_verifier: str, nonce: str, redirect_uri: str
    ) -> VerifiedIdentity:
        """Redeem the code and return the identity whose token passed every check."""
        ...

    async def available(self) -> bool:
        """False while no one can sign in with it: its circuit is open, it does not answer a
        quick check, or a fault (see `fault`) is known."""
        ...

    def fault(self) -> str | None:
        """Why every sign-in with it would fail until someone fixes a setting (ours or the
        provider's), as found when it was last checked; None when none is known."""
        ...


class RealNameVerifier(Protocol):
    """Korean identity verification (a PASS/NICE-style service) behind one port."""

    name: str

    async def verify(self, token: str) -> RealNameVerification:
        """Redeem the verification token the customer brought back; SignInRefused if bad."""
        ...
