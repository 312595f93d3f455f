"""The provider registry: an admin adds and changes provider contracts, and switches new
work from one provider to another while what the first started drains
(domain/provider_registry.py). Every version of a contract is evidence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from application.ports import Clock, UnitOfWork, UnitOfWorkFactory
from application.transactions import new_id
from domain.errors import Conflict, DomainError, NotFound
from domain.evidence import EvidenceDraft
from domain.provider_registry import (
    C,
    Capability,
    ContractStatus,
    PlanLine,
    RegisteredContract,
    drained,
    switch,
    switch_plan,
)

# What an admin may change on a contract besides its state.
TERMS = ("countries", "currencies", "methods", "priority", "valid_from", "valid_until")


class ProviderRegistry:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, known: Callable[[str], list[str]],
                 changed: Callable[[], Awaitable[None]]) -> None:
        """`known(capability)`: the providers the mall has adapters for, by capability;
        `changed`: told after every change (the routing in force reads it again)."""
        self._uow, self._clock, self._known, self._changed = uow, clock, known, changed

    async def contracts(self, capability: Capability | None = None) -> list[RegisteredContract]:
        async with self._uow(read_only=True) as uow:
            return await uow.contracts.all(capability)

    async def add(self, capability: Capability, provider: str, admin_id: str,
                  status: ContractStatus = C.STANDBY, **terms: Any) -> RegisteredContract:
        if provider not in self._known(capability.value):
            raise DomainError(
                f"the mall has no {capability.value} adapter named {provider!r}; known: "
                f"{', '.join(self._known(capability.value)) or 'none'}")
        if status == C.RETIRED:
            raise DomainError("a new contract starts active, standby or retiring")
        now = self._clock.now()
        contract = RegisteredContract(id=new_id("pct"), capability=capability,
                                      provider=provider, status=status, changed_at=now,
                                      changed_by=admin_id, note="added", **_terms(terms))
        contract.history.append({"version": "1", "status": status.value,
                                 "at": now.isoformat(), "by": admin_id, "note": "added"})
        async with self._uow() as uow:
            await uow.contracts.add(contract)
            await self._evidence(uow, contract)
            await uow.commit()
        await self._changed()
        return contract

    async def change(self, contract_id: str, admin_id: str, version: int,
                     status: ContractStatus | None = None, note: str = "",
                     **terms: Any) -> RegisteredContract:
        """A new version of the contract; `version` is the one the admin saw (a change
        made since by someone else is not overwritten)."""
        async with self._uow() as uow:
            contract = await uow.contracts.get(contract_id)
            if contract is None:
                raise NotFound(f"provider contract {contract_id} not found")
            if contract.version != version:
                raise Conflict(f"provider contract {contract_id} is at version "
                               f"{contract.version} now; read it again and redo the change")
            now = self._clock.now()
            if terms:
                contract.changed(now, admin_id, note or "terms changed", **_terms(terms))
            if status is not None and status != contract.status:
                in_flight = (await uow.contracts.in_flight(contract.capability)).get(
                    contract.provider, 0) if status == C.RETIRED else 0
                contract.moved(status, now, admin_id, note, in_flight=in_flight)
            await self._store(uow, [contract])
            await uow.commit()
        await self._changed()
        return contract

    async def switch(self, capability: Capability, old: str, new: str,
                     admin_id: str) -> list[PlanLine]:
        """New work goes to `new`; `old` retires once what it holds is settled."""
        async with self._uow() as uow:
            changed = switch(await uow.contracts.all(capability), capability, old, new,
                             self._clock.now(), admin_id)
            await self._store(uow, changed)
            await uow.commit()
        await self._changed()
        return await self.plan(capability)

    async def plan(self, capability: Capability) -> list[PlanLine]:
        async with self._uow(snapshot=True) as uow:
            return switch_plan(await uow.contracts.all(capability), capability,
                               await uow.contracts.in_flight(capability))

    async def retire_drained(self) -> int:
        """Retire the retiring contracts whose provider holds nothing in flight any more
        (a periodic job)."""
        retired: list[RegisteredContract] = []
        async with self._uow() as uow:
            for capability in Capability:
                mine = [c for c in await uow.contracts.all(capability)
                        if c.status == C.RETIRING]
                if not mine:
                    continue
                for contract in drained(mine, await uow.contracts.in_flight(capability)):
                    contract.moved(C.RETIRED, self._clock.now(), "drained",
                                   "nothing left in flight")
                    retired.append(contract)
            await self._store(uow, retired)
            await uow.commit()
        if retired:
            await self._changed()
        return len(retired)

    async def _store(self, uow: UnitOfWork, contracts: Sequence[RegisteredContract]) -> None:
        for contract in contracts:
            if not await uow.contracts.save(contract):
                raise Conflict(f"provider contract {contract.id} changed meanwhile; "
                               "try again")
            await self._evidence(uow, contract)

    @staticmethod
    async def _evidence(uow: UnitOfWork, contract: RegisteredContract) -> None:
        state = {k: v for k, v in asdict(contract).items() if k != "history"}
        await uow.evidence.append(EvidenceDraft(
            source="admin", kind="provider.contract", subject=f"provider-contract:{contract.id}",
            context={"provider": contract.provider, "capability": contract.capability.value,
                     "version": contract.version, "by": contract.changed_by},
            payload={k: v.isoformat() if isinstance(v, datetime) else
                     list(v) if isinstance(v, tuple) else v for k, v in state.items()}))


def _terms(terms: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(terms) - set(TERMS))
    if unknown:
        raise DomainError(f"a contract has no {', '.join(unknown)}; its terms are "
                          f"{', '.join(TERMS)}")
    shaped = dict(terms)
    for name in ("countries", "currencies", "methods"):
        if name in shaped:  # codes in capitals ("*" stays "*"); methods as given
            shaped[name] = tuple(str(v) if name == "methods" else str(v).upper()
                                 for v in shaped[name] or ("*",))
    return shaped
