"""The provider registry in and out of its table."""

from __future__ import annotations

import json
from typing import Any

from piccolo.query.functions.aggregate import Count

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump
from domain.provider_registry import (
    PAYMENTS_IN_FLIGHT,
    SHIPMENTS_IN_FLIGHT,
    Capability,
    ContractStatus,
    RegisteredContract,
)

R = t.ProviderContractRow


def _list(value: Any) -> list[Any]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


def _contract(row: dict[str, Any]) -> RegisteredContract:
    return RegisteredContract(
        id=row["id"], capability=Capability(row["capability"]), provider=row["provider"],
        countries=tuple(_list(row["countries"])), currencies=tuple(_list(row["currencies"])),
        methods=tuple(_list(row["methods"])), priority=row["priority"],
        status=ContractStatus(row["status"]),
        valid_from=_at(row["valid_from"]) if row["valid_from"] else None,
        valid_until=_at(row["valid_until"]) if row["valid_until"] else None,
        version=row["version"], changed_at=_at(row["changed_at"]) if row["changed_at"] else None,
        changed_by=row["changed_by"], note=row["note"], history=_list(row["history"]))


def _values(contract: RegisteredContract) -> dict[Any, Any]:
    return {R.countries: _dump(list(contract.countries)),
            R.currencies: _dump(list(contract.currencies)),
            R.methods: _dump(list(contract.methods)), R.priority: contract.priority,
            R.status: contract.status.value, R.valid_from: contract.valid_from,
            R.valid_until: contract.valid_until, R.version: contract.version,
            R.changed_at: contract.changed_at, R.changed_by: contract.changed_by,
            R.note: contract.note, R.history: _dump(contract.history)}


class ContractRepository:
    async def add(self, contract: RegisteredContract) -> None:
        row = R(id=contract.id, capability=contract.capability.value,
                provider=contract.provider)
        for column, value in _values(contract).items():
            setattr(row, column._meta.name, value)
        await R.insert(row)

    async def get(self, contract_id: str) -> RegisteredContract | None:
        row = await R.select().where(R.id == contract_id).first()
        return _contract(row) if row else None

    async def save(self, contract: RegisteredContract) -> bool:
        # Stored only over the version it was read at: two admins' changes never merge.
        changed = await R.update(_values(contract)).where(
            (R.id == contract.id) & (R.version == contract.version - 1)).returning(R.id)
        return bool(changed)

    async def all(self, capability: Capability | None = None) -> list[RegisteredContract]:
        query = R.select().order_by(R.capability).order_by(R.priority).order_by(R.provider)
        if capability is not None:
            query = query.where(R.capability == capability.value)
        return [_contract(row) for row in await query]

    async def in_flight(self, capability: Capability) -> dict[str, int]:
        if capability == Capability.PAYMENTS:
            query = t.Payment.select(t.Payment.provider.as_alias("owner"), Count(alias="n")).where(
                t.Payment.status.is_in(sorted(PAYMENTS_IN_FLIGHT))).group_by(t.Payment.provider)
        else:
            query = t.Shipment.select(t.Shipment.carrier.as_alias("owner"), Count(alias="n")).where(
                t.Shipment.status.is_in(sorted(SHIPMENTS_IN_FLIGHT))).group_by(t.Shipment.carrier)
        rows = await query
        return {row["owner"]: row["n"] for row in rows}
