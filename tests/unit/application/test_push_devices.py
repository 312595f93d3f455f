"""Registering push devices, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from application.devices import PushDevices
from domain.devices import MAX_DEVICES_PER_CUSTOMER
from domain.errors import NotFound
from tests.fakes import FakeClock, FakeDatabase, FakeUnitOfWorkFactory


@pytest.fixture
def setup() -> tuple[PushDevices, FakeClock]:
    clock = FakeClock()
    return PushDevices(FakeUnitOfWorkFactory(FakeDatabase(), clock), clock), clock


async def test_only_the_most_recent_registrations_are_kept(
        setup: tuple[PushDevices, FakeClock]) -> None:
    devices, clock = setup
    for n in range(MAX_DEVICES_PER_CUSTOMER + 3):
        await devices.register("cus_1", f"token-{n}", "ios")
        clock.advance(minutes=1)
    await devices.register("cus_2", "token-other", "web")
    kept = [d.token for d in await devices.of_customer("cus_1")]
    assert kept == [f"token-{n}" for n in range(MAX_DEVICES_PER_CUSTOMER + 2, 2, -1)]
    # Registering an old token again refreshes it: it is the newest now.
    await devices.register("cus_1", "token-5", "ios")
    assert next(d.token for d in await devices.of_customer("cus_1")) == "token-5"
    assert [d.token for d in await devices.of_customer("cus_2")] == ["token-other"]


async def test_only_its_owner_unregisters_a_device(
        setup: tuple[PushDevices, FakeClock]) -> None:
    devices, _ = setup
    await devices.register("cus_1", "token-a", "android")
    with pytest.raises(NotFound, match="POST /v1/me/devices"):
        await devices.unregister("cus_2", "token-a")
    await devices.unregister("cus_1", "token-a")
    assert await devices.of_customer("cus_1") == []
