"""The provider registry's rules: which states a contract may move to, a switch, the plan of
what is in flight where, and routing by the contracts in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidTransition
from domain.provider_registry import (
    C,
    Capability,
    RegisteredContract,
    SwitchRefused,
    drained,
    switch,
    switch_plan,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
PAY = Capability.PAYMENTS


def contract(provider: str, status: C = C.ACTIVE, capability: Capability = PAY,
             **terms: object) -> RegisteredContract:
    return RegisteredContract(id=f"pct_{provider}_{capability.value}", capability=capability,
                              provider=provider, status=status, **terms)  # type: ignore[arg-type]


def test_a_switch_activates_the_new_provider_and_retires_the_old() -> None:
    old, new = contract("sandbox"), contract("stripe", C.STANDBY)
    changed = switch([old, new, contract("easypost", capability=Capability.SHIPPING)],
                     PAY, "sandbox", "stripe", NOW, "adm_1")
    assert changed == [new, old]
    assert (old.status, new.status) == (C.RETIRING, C.ACTIVE)
    assert (old.version, new.version) == (2, 2)
    assert old.history[-1] == {"version": "2", "status": "retiring", "at": NOW.isoformat(),
                               "by": "adm_1", "note": "replaced by stripe"}


@pytest.mark.parametrize(("contracts", "old", "new", "why"), [
    ([contract("sandbox")], "sandbox", "sandbox", "cannot replace itself"),
    ([contract("sandbox", C.RETIRING), contract("stripe")], "sandbox", "stripe",
     "no active or standby"),
    ([contract("sandbox")], "sandbox", "stripe", "add one first"),
    ([contract("sandbox"), contract("stripe", C.RETIRED)], "sandbox", "stripe", "add one first"),
])
def test_a_switch_that_cannot_be_made_is_refused_and_changes_nothing(
        contracts: list[RegisteredContract], old: str, new: str, why: str) -> None:
    before = [(c.status, c.version) for c in contracts]
    with pytest.raises(SwitchRefused, match=why):
        switch(contracts, PAY, old, new, NOW, "adm_1")
    assert [(c.status, c.version) for c in contracts] == before


def test_a_retiring_contract_retires_only_once_nothing_is_in_flight() -> None:
    old = contract("sandbox", C.RETIRING)
    with pytest.raises(InvalidTransition, match="3 payments in flight"):
        old.moved(C.RETIRED, NOW, "adm_1", in_flight=3)
    assert old.status == C.RETIRING
    assert drained([old], {"sandbox": 3}) == []
    assert drained([old, contract("stripe")], {"stripe": 5}) == [old]
    old.moved(C.RETIRED, NOW, "drained")
    with pytest.raises(InvalidTransition, match="may become nothing else"):
        old.moved(C.ACTIVE, NOW, "adm_1")


def test_the_plan_shows_where_new_work_goes_and_what_is_in_flight_where() -> None:
    plan = switch_plan([contract("sandbox", C.RETIRING), contract("stripe")], PAY,
                       {"sandbox": 4, "toss": 1})
    assert [(p.provider, p.statuses, p.takes_new_work, p.in_flight) for p in plan] == [
        ("sandbox", ("retiring",), False, 4), ("stripe", ("active",), True, 0),
        ("toss", (), False, 1)]


def test_a_contract_takes_new_work_only_within_its_dates() -> None:
    dated = contract("stripe", valid_from=NOW, valid_until=NOW + timedelta(days=1))
    assert not dated.in_force(NOW - timedelta(seconds=1))
    assert dated.in_force(NOW)
    assert not dated.in_force(NOW + timedelta(days=1))
