"""Providers' credentials in and out of their table; the values stay sealed here."""

from __future__ import annotations

import json
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump
from domain.provider_credentials import (
    IN_FORCE,
    CredentialKind,
    CredentialStatus,
    ProviderCredential,
)

C = t.ProviderCredentialRow


def _when(value: Any) -> Any:
    return _at(value) if value else None


def _credential(row: dict[str, Any]) -> ProviderCredential:
    steps = row["steps"]
    return ProviderCredential(
        id=row["id"], provider=row["provider"], kind=CredentialKind(row["kind"]),
        version=row["version"], fingerprint=row["fingerprint"],
        status=CredentialStatus(row["status"]), proposed_at=_at(row["proposed_at"]),
        proposed_by=row["proposed_by"], validated_at=_when(row["validated_at"]),
        activated_at=_when(row["activated_at"]), retire_at=_when(row["retire_at"]),
        retired_at=_when(row["retired_at"]), reason=row["reason"],
        settings_until=_when(row["settings_until"]),
        steps=json.loads(steps) if isinstance(steps, str) else list(steps or []))


class CredentialRepository:
    async def add(self, credential: ProviderCredential, sealed: str) -> None:
        await C.insert(C(
            id=credential.id, provider=credential.provider, kind=credential.kind.value,
            version=credential.version, sealed=sealed, fingerprint=credential.fingerprint,
            status=credential.status.value, proposed_at=credential.proposed_at,
            proposed_by=credential.proposed_by, steps=_dump(credential.steps)))

    async def get(self, credential_id: str) -> tuple[ProviderCredential, str] | None:
        row = await C.select().where(C.id == credential_id).first()
        return (_credential(row), row["sealed"]) if row else None

    async def save(self, credential: ProviderCredential) -> None:
        await C.update({
            C.status: credential.status.value, C.validated_at: credential.validated_at,
            C.activated_at: credential.activated_at, C.retire_at: credential.retire_at,
            C.retired_at: credential.retired_at, C.reason: credential.reason,
            C.settings_until: credential.settings_until,
            C.steps: _dump(credential.steps)}).where(C.id == credential.id)

    async def of_provider(self, provider: str) -> list[ProviderCredential]:
        rows = await C.select().where(C.provider == provider).order_by(C.version,
                                                                        ascending=False)
        return [_credential(row) for row in rows]

    async def next_version(self, provider: str, kind: CredentialKind) -> int:
        row = await C.select(C.version).where(
            (C.provider == provider) & (C.kind == kind.value)).order_by(
            C.version, ascending=False).first()
        return (row["version"] if row else 0) + 1

    async def in_force(self) -> list[tuple[ProviderCredential, str]]:
        rows = await C.select().where(C.status.is_in([s.value for s in IN_FORCE])).order_by(
            C.version, ascending=False)
        return [(_credential(row), row["sealed"]) for row in rows]

    async def retiring(self) -> list[ProviderCredential]:
        rows = await C.select().where(C.status == CredentialStatus.RETIRING.value)
        return [_credential(row) for row in rows]
