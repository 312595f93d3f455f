"""Signing in with external providers, linking them to one customer without ever letting an
unverified email take an account over, sessions with rotating refresh tokens, and the
sign-in funnel kept for attribution without personal data.

One module per part; the names the rest of the mall uses are importable from here."""

from __future__ import annotations

from application.identity.outcomes import ProviderAccount, SignInResult, SignInStart
from application.identity.sessions import SessionService, TokenPair
from application.identity.sign_in import SignIn

__all__ = [
    "ProviderAccount", "SessionService", "SignIn", "SignInResult", "SignInStart", "TokenPair",
]
