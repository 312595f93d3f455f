"""The provider registry: which provider the mall sends new work to, and a switch from one
provider to another.

A contract says what a provider may be used for (countries, currencies, methods) and in
which state it is: `active` providers take new work, `standby` ones only when every active
one is down, a `retiring` one takes no new work while what it started drains (its webhooks
are still accepted and its payments still reconciled), and a `retired` one holds nothing
any more. Every change gives the contract a new version; the versions are evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, InvalidTransition
from domain.payments import UNSETTLED, PaymentStatus
from domain.shipments import FINAL as SHIPMENT_FINAL
from domain.shipments import ShipmentStatus


class Capability(StrEnum):
    PAYMENTS = "payments"
    SHIPPING = "shipping"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    STANDBY = "standby"
    RETIRING = "retiring"
    RETIRED = "retired"


C = ContractStatus

# Work a provider still holds: payments it may still change (waiting for it, authorized and
# not captured yet, disputed) and parcels not delivered or returned yet.
PAYMENTS_IN_FLIGHT = frozenset(
    {*UNSETTLED, PaymentStatus.AUTHORIZED, PaymentStatus.DISPUTED})
SHIPMENTS_IN_FLIGHT = frozenset(set(ShipmentStatus) - SHIPMENT_FINAL)
TAKES_NEW_WORK = (C.ACTIVE, C.STANDBY)

# The states a contract may be moved to by hand. Retiring ends in `retired` once nothing is
# in flight (`retire_drained`); it may also go back to active (a switch called off).
MOVES: dict[ContractStatus, tuple[ContractStatus, ...]] = {
    C.ACTIVE: (C.STANDBY, C.RETIRING),
    C.STANDBY: (C.ACTIVE, C.RETIRING),
    C.RETIRING: (C.ACTIVE, C.STANDBY, C.RETIRED),
    C.RETIRED: (),
}


class SwitchRefused(DomainError):
    code = "provider-switch-refused"


@dataclass
class RegisteredContract:
    id: str
    capability: Capability
    provider: str
    countries: tuple[str, ...] = ("*",)
    currencies: tuple[str, ...] = ("*",)
    methods: tuple[str, ...] = ("*",)
    priority: int = 100
    status: ContractStatus = C.ACTIVE
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    version: int = 1
    changed_at: datetime | None = None
    changed_by: str = ""
    note: str = ""
    history: list[dict[str, str]] = field(default_factory=list)

    def in_force(self, now: datetime) -> bool:
        """Within its validity dates (a contract outside them takes no new work)."""
        return ((self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now < self.valid_until))

    def moved(self, status: ContractStatus, now: datetime, by: str, note: str = "",
              in_flight: int = 0) -> None:
        if status == self.status:
            return
        if status not in MOVES[self.status]:
            raise InvalidTransition(
                f"a {self.status.value} contract cannot become {status.value}; it may become "
                + (", ".join(s.value for s in MOVES[self.status]) or "nothing else"))
        if status == C.RETIRED and in_flight:
            raise InvalidTransition(
                f"{self.provider} still has {in_flight} {self.capability.value} in flight; "
                "it is retired once they are settled (see the switch plan)")
        self.changed(now, by, note or f"{self.status.value} → {status.value}", status=status)

    def changed(self, now: datetime, by: str, note: str, **values: object) -> None:
        """A new version with these values (terms or state)."""
        for name, value in values.items():
            setattr(self, name, value)
        self.version += 1
        self.changed_at, self.changed_by, self.note = now, by, note[:200]
        self.history.append({"version": str(self.version), "status": self.status.value,
                             "at": now.isoformat(), "by": by, "note": self.note})


def switch(contracts: Iterable[RegisteredContract], capability: Capability, old: str,
           new: str, now: datetime, by: str) -> list[RegisteredContract]:
    """The contracts of `old` retire and those of `new` become active; the changed ones.
    New work goes to `new` from then on; what `old` started drains."""
    if old == new:
        raise SwitchRefused("a provider cannot replace itself")
    mine = [c for c in contracts if c.capability == capability]
    leaving = [c for c in mine if c.provider == old and c.status in TAKES_NEW_WORK]
    coming = [c for c in mine if c.provider == new and c.status != C.RETIRED]
    if not leaving:
        raise SwitchRefused(f"{old} has no active or standby {capability.value} contract "
                            "to switch from")
    if not coming:
        raise SwitchRefused(f"{new} has no {capability.value} contract: add one first "
                            "(it can be added in standby)")
    for contract in coming:
        contract.moved(C.ACTIVE, now, by, f"replaces {old}")
    for contract in leaving:
        contract.moved(C.RETIRING, now, by, f"replaced by {new}")
    return coming + leaving


@dataclass(frozen=True)
class PlanLine:
    provider: str
    statuses: tuple[str, ...]
    in_flight: int
    takes_new_work: bool


def switch_plan(contracts: Iterable[RegisteredContract], capability: Capability,
                in_flight: Mapping[str, int]) -> list[PlanLine]:
    """Where new work goes and what is still in flight where, per provider."""
    providers: dict[str, list[RegisteredContract]] = {}
    for contract in contracts:
        if contract.capability == capability:
            providers.setdefault(contract.provider, []).append(contract)
    for provider in in_flight:
        providers.setdefault(provider, [])
    return [PlanLine(provider, tuple(sorted({c.status.value for c in mine})),
                     in_flight.get(provider, 0),
                     any(c.status in TAKES_NEW_WORK for c in mine))
            for provider, mine in sorted(providers.items())]


def drained(contracts: Iterable[RegisteredContract],
            in_flight: Mapping[str, int]) -> list[RegisteredContract]:
    """Retiring contracts whose provider holds nothing in flight any more."""
    return [c for c in contracts
            if c.status == C.RETIRING and in_flight.get(c.provider, 0) == 0]
