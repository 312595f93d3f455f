"""Bodies of the provider credential workflow (admin)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from entrypoints.http.schemas.fields import Answer, Strict


class CredentialProposalIn(Strict):
    kind: Literal["webhook_secret", "api_key", "endpoint"]
    value: str = Field(min_length=1, max_length=2000,
                       description="the new secret, key or base URL; kept sealed, never shown")


class CredentialActivationIn(Strict):
    overlap_minutes: int = Field(60, ge=0, le=60 * 24 * 30, description=(
        "how long the value it replaces is still accepted (webhook secrets: callbacks the "
        "provider already signed with it)"))


class CredentialStepOut(Answer):
    status: str
    at: str
    by: str
    note: str


class CredentialOut(Answer):
    id: str
    provider: str
    kind: Literal["webhook_secret", "api_key", "endpoint"]
    version: int
    fingerprint: str = Field(description="the first 12 hex digits of its SHA-256")
    status: Literal["proposed", "validated", "rejected", "active", "retiring", "retired"]
    proposed_at: str
    retire_at: str | None
    reason: str
    steps: list[CredentialStepOut]


class CredentialList(Answer):
    credentials: list[CredentialOut]
