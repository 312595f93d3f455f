"""The provider registry in memory, as adapters/persistence/repositories/provider_contracts.py
keeps it."""

from __future__ import annotations

import copy
from collections import Counter

from domain.provider_registry import (
    PAYMENTS_IN_FLIGHT,
    SHIPMENTS_IN_FLIGHT,
    Capability,
    RegisteredContract,
)
from tests.fakes.storage import Repository


class FakeContracts(Repository):
    name = "contracts"

    async def add(self, contract: RegisteredContract) -> None:
        assert contract.id not in self._rows, f"contract {contract.id} exists already"
        self._put(contract.id, copy.deepcopy(contract))

    async def get(self, contract_id: str) -> RegisteredContract | None:
        found: RegisteredContract | None = self._get(contract_id)
        return found

    async def save(self, contract: RegisteredContract) -> bool:
        stored: RegisteredContract | None = self._get(contract.id)
        if stored is None or stored.version != contract.version - 1:
            return False
        self._put(contract.id, copy.deepcopy(contract))
        return True

    async def all(self, capability: Capability | None = None) -> list[RegisteredContract]:
        return sorted((c for c in self._all() if capability in (None, c.capability)),
                      key=lambda c: (c.capability.value, c.priority, c.provider))

    async def in_flight(self, capability: Capability) -> dict[str, int]:
        if capability == Capability.PAYMENTS:
            owners = [p.provider for p in self._unit.table("payments").values()
                      if p.status in PAYMENTS_IN_FLIGHT]
        else:
            owners = [s.carrier for s in self._unit.table("shipments").values()
                      if s.status in SHIPMENTS_IN_FLIGHT]
        return dict(Counter(owners))
