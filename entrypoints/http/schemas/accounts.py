"""Bodies of accounts and sign-in: passwords, tokens, providers, linked identities, consents
and erasure."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from domain.customers import MAX_PASSWORD_LENGTH, Role
from entrypoints.http.schemas.fields import Answer, Country, Email, NewPassword, Strict


class Credentials(Strict):
    email: Email
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH,
                          examples=["correct horse battery"])


class Registration(Credentials):
    password: NewPassword
    country: Country | None = Field(
        None, description="ISO 3166-1 alpha-2; decides which privacy and retention rules apply")


class TokenOut(Answer):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class CustomerOut(Answer):
    id: str
    email: str
    role: Role
    created_at: str | None
    email_verified: bool
    identity_verified: bool
    jurisdiction: str


def customer_out(customer: Any) -> CustomerOut:
    return CustomerOut(
        id=customer.id, email=customer.email, role=customer.role.value,
        created_at=customer.created_at.isoformat() if customer.created_at else None,
        email_verified=customer.email_verified, identity_verified=customer.identity_verified,
        jurisdiction=customer.jurisdiction)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class LogoutIn(Strict):
    everywhere: bool = False


class TokenIn(Strict):
    token: str = Field(min_length=10, max_length=4096)


class EmailIn(Strict):
    email: Email


class PasswordResetIn(Strict):
    token: str = Field(min_length=10, max_length=4096)
    password: NewPassword


# What a provider posts back (form_post, OpenID Connect Core 1.0 and RFC 9207).
FORM_POST_CALLBACK: dict[str, Any] = {"type": "object", "properties": {
    name: {"type": "string", "maxLength": 4096}
    for name in ("code", "state", "iss", "error", "error_description", "id_token", "user")}}


class ProviderOut(Answer):
    name: str
    available: bool
    start: str
    reason: str | None = Field(None, description="why it is unavailable, when it is")


class ProviderList(Answer):
    providers: list[ProviderOut]
    password: bool


class ProviderAccountOut(Answer):
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    display: str = Field(description="how to show the account to its owner")


class SignInOut(Answer):
    status: Literal["signed_in", "linked", "link_pending", "email_in_use"]
    message: str
    customer_id: str | None
    created: bool
    ways_in: list[str]
    access_token: str | None = None
    token_type: Literal["bearer"] | None = None
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    link_token: str | None = None
    account: ProviderAccountOut | None = Field(
        None, description="the provider account a pending link would add: show it to the "
                          "customer before they confirm")


class IdentityOut(Answer):
    provider: str
    email: str | None
    email_verified: bool
    linked_at: str


class IdentityList(Answer):
    identities: list[IdentityOut]
    password: bool


class LinkStartOut(Answer):
    authorization_url: str


class LinkConfirmedOut(Answer):
    provider: str
    linked: bool


class MergeOut(Answer):
    merged: bool
    moved: dict[str, int] = Field(description="records moved into this account, per kind")


class SessionsRevokedOut(Answer):
    revoked_sessions: int


class VerificationSentOut(Answer):
    status: Literal["sent", "already verified"]


class ResetSentOut(Answer):
    status: Literal["sent if the address has an account"]


class NextStepOut(Answer):
    next: str = Field(description="what to do next, in words")


class LinkConfirmIn(Strict):
    link_token: str = Field(min_length=10, max_length=200)


class MergeIn(Strict):
    access_token: str = Field(min_length=10, max_length=4096,
                              description="an access token of the account to merge in")


CONSENT_PURPOSES = Literal["marketing_email", "marketing_sms", "marketing_push",
                           "marketing_night", "personalization", "analytics"]


class ConsentsIn(Strict):
    consents: dict[CONSENT_PURPOSES, bool]
    # Kept as evidence of an opt-in: where it was given and what the customer read.
    source: str = Field("storefront", min_length=1, max_length=64,
                        pattern=r"^[a-z0-9_.:-]+$", examples=["checkout_form"],
                        description="where the customer gave or withdrew it")
    wording: str = Field("", max_length=2000, description="the text the customer was shown "
                         "and agreed to, word for word")


class ErasureIn(Strict):
    confirm: str = Field(min_length=3, max_length=254, examples=["ada@example.com"],
                         description="the account's own email address, as GET /v1/me shows "
                                     "it: erasure cannot be undone")
