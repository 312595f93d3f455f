"""The provider contracts new work is routed by, as the use cases read them: the registry's
(domain/provider_registry.py) for a capability that has any, else the settings'. Kept in
memory and read again when a few seconds old (adapters/refreshing.py), so a switch takes
effect in every process without a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.refreshing import LiveSequence, ReadAgainWhenOld
from application.ports import UnitOfWorkFactory
from domain.provider_registry import (
    TAKES_NEW_WORK,
    C,
    Capability,
    RegisteredContract,
)
from domain.routing import ProviderContract

# A standby contract comes after every active one.
STANDBY_AFTER = 1_000_000


class ContractsInForce(ReadAgainWhenOld):
    def __init__(self, uow: UnitOfWorkFactory, max_age: float = 5.0) -> None:
        super().__init__(max_age)
        self._uow = uow
        self._registered: dict[Capability, list[RegisteredContract]] = {}

    async def _read(self) -> None:
        async with self._uow(read_only=True) as uow:
            contracts = await uow.contracts.all()
        registered: dict[Capability, list[RegisteredContract]] = {}
        for contract in contracts:
            registered.setdefault(contract.capability, []).append(contract)
        self._registered = registered

    def registered(self, capability: Capability) -> list[RegisteredContract] | None:
        """The registry's contracts of `capability`, or None when it has none."""
        self._fresh_enough()
        return self._registered.get(capability)

    def open_to_new_work(self, capability: Capability, provider: str) -> bool:
        """False when the registry holds `provider`'s contracts and none takes new work."""
        mine = [c for c in self.registered(capability) or () if c.provider == provider]
        now = datetime.now(UTC)
        return not mine or any(c.status in TAKES_NEW_WORK and c.in_force(now) for c in mine)

    def routing(self, capability: Capability,
                configured: Sequence[ProviderContract]) -> list[ProviderContract]:
        registered = self.registered(capability)
        if registered is None:
            return list(configured)
        now = datetime.now(UTC)
        return [ProviderContract(
            provider=c.provider, countries=frozenset(c.countries),
            currencies=frozenset(c.currencies), methods=frozenset(c.methods),
            priority=c.priority + (STANDBY_AFTER if c.status == C.STANDBY else 0))
            for c in registered if c.status in TAKES_NEW_WORK and c.in_force(now)]


class LiveContracts(LiveSequence[ProviderContract]):
    """A capability's routing contracts in force, read as a list each time it is used."""

    def __init__(self, registry: ContractsInForce, capability: Capability,
                 configured: Sequence[ProviderContract]) -> None:
        self._registry, self._capability = registry, capability
        self._configured = list(configured)

    def _current(self) -> list[ProviderContract]:
        return self._registry.routing(self._capability, self._configured)
