"""What a sign-in gives back: where to send the customer, and how the callback ended."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.identity.sessions import TokenPair
from application.ports import VerifiedIdentity
from domain.customers import normalize_email
from domain.errors import DomainError


@dataclass(frozen=True)
class SignInStart:
    authorization_url: str
    # Set as a cookie (named by domain.identity.browser_cookie_name(state)) in the browser
    # that goes to the provider; the callback must bring it back.
    cookie_name: str
    browser_secret: str


@dataclass(frozen=True)
class ProviderAccount:
    """The provider's account a sign-in came back with, as its owner recognises it."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool

    @property
    def display(self) -> str:
        if self.email:
            return self.email if self.email_verified else f"{self.email} (address not verified)"
        return f"the account with id {self.subject[:64]}"

    @classmethod
    def of(cls, identity: VerifiedIdentity) -> ProviderAccount:
        return cls(identity.provider, identity.subject, email_or_none(identity.email),
                   identity.email_verified)


@dataclass(frozen=True)
class SignInResult:
    status: str  # "signed_in" | "linked" | "link_pending" | "email_in_use"
    message: str
    customer_id: str | None = None  # set on a link: the signed-in customer's own
    created: bool = False
    tokens: TokenPair | None = None
    link_token: str | None = None
    ways_in: list[str] = field(default_factory=list)
    account: ProviderAccount | None = None  # what a pending link would add


def email_or_none(email: str | None) -> str | None:
    if not email:
        return None
    try:
        return normalize_email(email)
    except DomainError:
        return None
