"""Providers' credentials in memory, as adapters/persistence/repositories/credentials.py
keeps them."""

from __future__ import annotations

import copy

from domain.provider_credentials import (
    IN_FORCE,
    CredentialKind,
    CredentialStatus,
    ProviderCredential,
)
from tests.fakes.storage import Repository


class FakeCredentials(Repository):
    name = "credentials"

    async def add(self, credential: ProviderCredential, sealed: str) -> None:
        self._put(credential.id, (copy.deepcopy(credential), sealed))

    async def get(self, credential_id: str) -> tuple[ProviderCredential, str] | None:
        found: tuple[ProviderCredential, str] | None = self._get(credential_id)
        return (copy.deepcopy(found[0]), found[1]) if found else None

    async def save(self, credential: ProviderCredential) -> None:
        _, sealed = self._get(credential.id)
        self._put(credential.id, (copy.deepcopy(credential), sealed))

    async def of_provider(self, provider: str) -> list[ProviderCredential]:
        return sorted((c for c, _ in self._all() if c.provider == provider),
                      key=lambda c: c.version, reverse=True)

    async def next_version(self, provider: str, kind: CredentialKind) -> int:
        return 1 + max((c.version for c, _ in self._all()
                        if c.provider == provider and c.kind == kind), default=0)

    async def in_force(self) -> list[tuple[ProviderCredential, str]]:
        return sorted(((c, s) for c, s in self._all() if c.status in IN_FORCE),
                      key=lambda pair: pair[0].version, reverse=True)

    async def retiring(self) -> list[ProviderCredential]:
        return [c for c, _ in self._all() if c.status == CredentialStatus.RETIRING]
