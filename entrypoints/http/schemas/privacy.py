"""Answers about the customer's own data: consents, real-name verification, the export and
the erasure certificate."""

from __future__ import annotations

from pydantic import Field

from entrypoints.http.schemas.accounts import CustomerOut, IdentityOut
from entrypoints.http.schemas.fields import Answer
from entrypoints.http.schemas.orders import OrderOut


class ConsentsOut(Answer):
    consents: dict[str, bool] = Field(description="purpose: granted")


class RealNameOut(Answer):
    verified: bool
    adult: bool
    verified_at: str


class ExportedIdentity(IdentityOut):
    subject: str = Field(description="the account's id at the provider")


class ExportedRealName(Answer):
    verified_at: str
    adult: bool


class ExportedConsent(Answer):
    purpose: str
    granted: bool
    updated_at: str


class ExportedContact(Answer):
    phone: str = Field(description="E.164; \"\" when not given")
    language: str
    time_zone: str


class ExportedSession(Answer):
    id: str
    created_at: str
    expires_at: str
    status: str


class ExportedNotification(Answer):
    channel: str
    template: str
    subject: str
    sent_at: str


class ExportOut(Answer):
    """Everything held about the customer (GDPR art. 15 and 20)."""

    format: str = Field(examples=["mall-export/1"])
    generated_at: str
    customer: CustomerOut
    contact: ExportedContact | None = Field(
        None, description="how messages reach the customer besides email (PATCH /v1/me/contact)")
    identities: list[ExportedIdentity]
    real_name_verification: ExportedRealName | None
    consents: list[ExportedConsent]
    sessions: list[ExportedSession]
    failed_sign_ins_at: list[str] = Field(description="when a sign-in to the account failed")
    notifications: list[ExportedNotification]
    orders: list[OrderOut]


class RetainedOut(Answer):
    record_class: str
    count: int
    retain_until: str


class EvidenceRefOut(Answer):
    seq: int
    hash: str


class ErasureOut(Answer):
    """The erasure certificate: what was erased, what the law still requires us to keep (and
    until when), and the evidence record that certifies it."""

    subject: str = Field(description="the pseudonym the kept records are filed under")
    jurisdiction: str
    requested_at: str
    erased: dict[str, int] = Field(description="rows erased per kind of record")
    retained: list[RetainedOut]
    statement: str
    evidence: EvidenceRefOut
