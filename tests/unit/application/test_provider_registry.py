"""The provider registry through its use case, on fakes: contracts added and changed as
versions with evidence, a switch that routes new payments to the replacement at once while
the old provider's payments stay with it, and the retirement of a drained provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.provider_routing import ContractsInForce, LiveContracts
from application.provider_registry import ProviderRegistry
from domain.errors import Conflict, DomainError
from domain.payments import PaymentStatus
from domain.provider_registry import C, Capability
from domain.routing import ProviderContract, eligible_providers
from tests.fakes import DEPOSIT
from tests.unit.application.harness import Mall, build_mall

PAY = Capability.PAYMENTS
CONFIGURED = [ProviderContract("sandbox", frozenset("*"), frozenset("*"), frozenset("*"))]


@pytest.fixture
def mall(tmp_path: Path) -> Mall:
    return build_mall(tmp_path)


def registry_of(mall: Mall) -> tuple[ProviderRegistry, ContractsInForce]:
    in_force = ContractsInForce(mall.container.uow())
    registry = ProviderRegistry(mall.container.uow(), mall.clock,
                                lambda capability: ["sandbox", "stripe", "toss"],
                                in_force.refresh)
    return registry, in_force


def routed(in_force: ContractsInForce, currency: str = "USD") -> list[str]:
    return eligible_providers(LiveContracts(in_force, PAY, CONFIGURED), country="US",
                              currency=currency, method="card")


async def test_until_the_registry_has_contracts_the_settings_route(mall: Mall) -> None:
    registry, in_force = registry_of(mall)
    await in_force.refresh()
    assert routed(in_force) == ["sandbox"]
    await registry.add(PAY, "stripe", "adm_1", C.ACTIVE, currencies=["usd"], priority=5)
    assert routed(in_force) == ["stripe"]  # the registry's contracts replace the settings'
    with pytest.raises(DomainError, match="no payment provider accepts"):
        routed(in_force, "KRW")


async def test_a_switch_routes_new_payments_at_once_and_keeps_every_version(
        mall: Mall) -> None:
    registry, in_force = registry_of(mall)
    old = await registry.add(PAY, "sandbox", "adm_1", C.ACTIVE)
    await registry.add(PAY, "stripe", "adm_1")  # standby: after every active one
    assert routed(in_force) == ["sandbox", "stripe"]
    plan = await registry.switch(PAY, "sandbox", "stripe", "adm_2")
    assert routed(in_force) == ["stripe"]
    assert [(p.provider, p.takes_new_work) for p in plan] == [("sandbox", False),
                                                             ("stripe", True)]
    [stored] = [c for c in await registry.contracts(PAY) if c.id == old.id]
    assert [(h["version"], h["status"], h["by"]) for h in stored.history] == [
        ("1", "active", "adm_1"), ("2", "retiring", "adm_2")]
    records = [r for r in mall.db.evidence("provider.contract")
               if r.subject == f"provider-contract:{old.id}"]
    assert [(r.context["version"], r.payload["status"]) for r in records] == [
        (1, "active"), (2, "retiring")]


async def test_a_change_on_an_old_version_is_refused(mall: Mall) -> None:
    registry, _ = registry_of(mall)
    added = await registry.add(PAY, "toss", "adm_1", C.ACTIVE, currencies=["KRW"])
    await registry.change(added.id, "adm_1", 1, priority=10)
    with pytest.raises(Conflict, match="version 2 now"):
        await registry.change(added.id, "adm_2", 1, status=C.STANDBY)
    changed = await registry.change(added.id, "adm_2", 2, status=C.STANDBY, note="KRW pause")
    assert (changed.version, changed.status, changed.priority) == (3, C.STANDBY, 10)
    with pytest.raises(DomainError, match="no payments adapter named 'paypal'"):
        await registry.add(PAY, "paypal", "adm_1")
    with pytest.raises(DomainError, match="terms are"):
        await registry.add(PAY, "stripe", "adm_1", fee=3)


async def test_a_retiring_provider_is_retired_once_its_payments_are_settled(
        mall: Mall) -> None:
    registry, _ = registry_of(mall)
    await registry.add(PAY, "sandbox", "adm_1", C.ACTIVE)
    await registry.add(PAY, "stripe", "adm_1")
    attempt = await mall.attempt(DEPOSIT)  # the sandbox waits for a bank transfer
    await registry.switch(PAY, "sandbox", "stripe", "adm_1")
    assert [(p.provider, p.in_flight) for p in await registry.plan(PAY)] == [
        ("sandbox", 1), ("stripe", 0)]
    assert await registry.retire_drained() == 0
    # The switched-away gateway's webhook is still taken and settles its payment.
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=attempt.payment.provider_reference)
    assert await mall.container.webhooks().receive("sandbox", headers, body) == "accepted"
    await mall.run_inbox()
    [payment] = await mall.payments_of(attempt.order.id)
    assert payment.status == PaymentStatus.CAPTURED
    assert await registry.retire_drained() == 1
    assert {c.provider: c.status for c in await registry.contracts(PAY)} == {
        "sandbox": C.RETIRED, "stripe": C.ACTIVE}
