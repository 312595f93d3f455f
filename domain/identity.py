"""Identities from sign-in providers, the sign-in flows that produce them, sessions with
rotating refresh tokens, and the rules that keep an account from being taken over."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import Conflict, Unauthorized

FLOW_LIFETIME = timedelta(minutes=10)
PENDING_LINK_LIFETIME = timedelta(minutes=30)


def digest(secret: str) -> str:
    """What we keep of a bearer secret (state, refresh token, link token): its hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def browser_cookie_name(state: str) -> str:
    """The cookie that ties a flow to the browser that started it, named after its state so
    that two sign-ins in two tabs do not overwrite each other."""
    return f"mall_signin_{digest(state)[:16]}"


def binding_of(value: str) -> str:
    """A short digest of the state a single-purpose token is bound to: the token stops
    working once that state changes (a reset token after the password changed)."""
    return digest(value)[:32]


class FlowPurpose(StrEnum):
    LOGIN = "login"  # sign in or sign up
    LINK = "link"  # a signed-in customer adds a provider


@dataclass
class AuthFlow:
    """One sign-in attempt at a provider: state, nonce and PKCE verifier, bound server-side
    and good for one callback within its lifetime."""

    state_hash: str
    provider: str
    purpose: FlowPurpose
    nonce: str
    code_verifier: str
    redirect_uri: str
    created_at: datetime
    customer_id: str | None = None  # the signed-in customer, for LINK
    channel: str = ""
    campaign: str = ""
    used: bool = False
    browser_hash: str = ""  # hash of a secret in a cookie of the browser that started it
    session_id: str | None = None  # for LINK: the session that asked; it must still be live

    def redeem(self, provider: str, now: datetime, browser_secret: str | None = None) -> None:
        """Use the flow for its callback; a replayed, expired or foreign state is refused, and
        so is a callback arriving in another browser than the one that started the flow (an
        attacker's flow completed by a victim: login or link CSRF)."""
        if self.used:
            raise FlowRefused("this sign-in link was used already; start again",
                              reason="state_replayed")
        if self.browser_hash and not hmac.compare_digest(
                digest(browser_secret or ""), self.browser_hash):
            raise FlowRefused("this sign-in was started in another browser; start again here",
                              reason="browser_mismatch")
        if self.provider != provider:
            raise FlowRefused("the answer came back for another provider; start again",
                              reason="state_mismatch")
        if now - self.created_at > FLOW_LIFETIME:
            raise FlowRefused("the sign-in took too long; start again", reason="flow_expired")
        self.used = True


class FlowRefused(Unauthorized):
    code = "sign-in-refused"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """A provider's account linked to one customer; unique on (provider, subject)."""

    customer_id: str
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    linked_at: datetime

    @property
    def key(self) -> str:
        return f"{self.provider}|{self.subject}"


@dataclass
class PendingLink:
    """A provider identity whose verified email matches an existing account: it waits for
    the account's owner to sign in another way and confirm, never links on its own."""

    token_hash: str
    customer_id: str
    provider: str
    subject: str
    email: str
    created_at: datetime
    used: bool = False

    def confirm(self, customer_id: str, now: datetime) -> None:
        if self.used or now - self.created_at > PENDING_LINK_LIFETIME:
            raise Unauthorized("this link request has expired; sign in with the provider again")
        if not hmac.compare_digest(self.customer_id, customer_id):
            raise Unauthorized("this link request is for another account")
        self.used = True


def ways_in(*, has_password: bool, providers: list[str], email_recovery: bool) -> list[str]:
    """The sign-in methods a customer still has, for messages and the last-method rule."""
    ways = [f"provider:{p}" for p in sorted(providers)]
    if has_password:
        ways.append("password")
    if email_recovery:
        ways.append("email_recovery_link")
    return ways


def check_unlink(identity: Identity, others: list[Identity], has_password: bool) -> None:
    """Refuse to remove the last way to sign in."""
    if not has_password and not [i for i in others if i.key != identity.key]:
        raise LastWayIn(
            f"{identity.provider} is your only way to sign in: set a password or link another "
            "provider first, then unlink it")


class LastWayIn(Conflict):
    code = "last-sign-in-method"
    retryable = False


# --- sessions -----------------------------------------------------------------------------


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ROTATED = "rotated"  # its refresh token was exchanged for a new one
    REVOKED = "revoked"


@dataclass
class Session:
    """A signed-in device: one refresh token at a time, rotated on every use. A family is the
    chain of sessions descended from one sign-in; presenting a rotated token again means it
    was stolen, and the whole family is revoked (refresh-token reuse detection)."""

    id: str
    customer_id: str
    family_id: str
    refresh_hash: str
    created_at: datetime
    expires_at: datetime
    status: SessionStatus = SessionStatus.ACTIVE
    replaced_by: str | None = None
    notes: list[str] = field(default_factory=list)

    def check_refresh(self, now: datetime) -> None:
        if self.status == SessionStatus.ROTATED:
            raise RefreshReused("this refresh token was used already: every session of this "
                                "sign-in is revoked; sign in again")
        if self.status == SessionStatus.REVOKED or now >= self.expires_at:
            raise Unauthorized("this session has ended; sign in again")


class RefreshReused(Unauthorized):
    code = "refresh-token-reused"


def pkce_challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636, section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
