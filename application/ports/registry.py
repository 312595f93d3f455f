"""The provider registry's stores: contracts (domain/provider_registry.py) and the
versions of providers' credentials (domain/provider_credentials.py)."""

from __future__ import annotations

from typing import Protocol

from domain.provider_credentials import CredentialKind, ProviderCredential
from domain.provider_registry import Capability, RegisteredContract


class ProviderContracts(Protocol):
    async def add(self, contract: RegisteredContract) -> None: ...
    async def get(self, contract_id: str) -> RegisteredContract | None: ...

    async def save(self, contract: RegisteredContract) -> bool:
        """Store the contract's new version; False (nothing stored) when another change
        stored that version first."""
        ...

    async def all(self, capability: Capability | None = None) -> list[RegisteredContract]:
        """Every contract (of one capability), by capability, priority and provider."""
        ...

    async def in_flight(self, capability: Capability) -> dict[str, int]:
        """Per provider, its work not settled yet: payments the provider may still change
        (not authorized or captured for good, disputed), shipments not delivered or
        returned."""
        ...


class ProviderCredentials(Protocol):
    """Versions of providers' secrets and endpoints (domain/provider_credentials.py), each
    value sealed (`Cipher.seal`, context `credential:<provider>:<kind>`)."""

    async def add(self, credential: ProviderCredential, sealed: str) -> None: ...
    async def get(self, credential_id: str) -> tuple[ProviderCredential, str] | None: ...
    async def save(self, credential: ProviderCredential) -> None: ...

    async def of_provider(self, provider: str) -> list[ProviderCredential]:
        """Every version, the newest first."""
        ...

    async def next_version(self, provider: str, kind: CredentialKind) -> int: ...

    async def in_force(self) -> list[tuple[ProviderCredential, str]]:
        """Those active or retiring, with their sealed values, the newest first."""
        ...

    async def retiring(self) -> list[ProviderCredential]: ...
