"""The provider registry's store (domain/provider_registry.py)."""

from __future__ import annotations

from typing import Protocol

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
