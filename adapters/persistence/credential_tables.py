"""The table of providers' credentials and endpoints, each version sealed."""

from __future__ import annotations

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from adapters.persistence.columns import Json


class ProviderCredentialRow(Table, tablename="provider_credential"):
    """One version of a provider's webhook secret, API key or endpoint: sealed by envelope
    encryption (adapters/crypto.py), only its fingerprint in the clear; the workflow's steps
    with who took them (domain/provider_credentials.py)."""

    id = Varchar(length=40, primary_key=True)
    provider = Varchar(length=40, index=True)
    kind = Varchar(length=16)
    version = Integer()
    sealed = Text()
    fingerprint = Varchar(length=16)
    status = Varchar(length=12, index=True)
    proposed_at = Timestamptz()
    proposed_by = Varchar(length=40, default="")
    validated_at = Timestamptz(null=True, default=None)
    activated_at = Timestamptz(null=True, default=None)
    retire_at = Timestamptz(null=True, default=None)
    retired_at = Timestamptz(null=True, default=None)
    settings_until = Timestamptz(null=True, default=None)
    reason = Varchar(length=300, default="")
    steps = Json(default="[]")
