"""The sandbox carrier's scenarios through the whole backend: a customer picks one by typing
`scenario:<name>` in the second address line; the operator sets the default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence.tables import Incident, SandboxParcelEvent, Shipment
from adapters.shipping.sandbox_scenarios import SCENARIOS
from tests.e2e.test_bad_settings import _mall, _one_line
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(60)


async def _order_shipped_to(shop: Any, **address: str) -> tuple[dict[str, str], str]:
    auth = await shop.sign_up()
    body = {**ORDER, "lines": ORDER["lines"][:1],
            "shipping_address": {**ORDER["shipping_address"], **address}}
    order = await shop.place(auth, body)
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200
    return auth, order["id"]


async def _shipment_reaches(order_id: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any]:
        row = await Shipment.select().where(Shipment.order_id == order_id).first()
        return row if row is not None and row["status"] == status else {}

    return await eventually(reached, timeout=30, what=f"the shipment to be {status}")


async def test_a_failed_attempt_opens_an_incident_and_the_second_attempt_delivers(
    shop: Any,
) -> None:
    auth, order_id = await _order_shipped_to(shop, line2="Apt 3 scenario:failed_attempt")

    async def incident() -> list[dict[str, Any]]:
        return await Incident.select().where(Incident.subject == f"order:{order_id}")

    [opened] = await eventually(incident, what="a delivery incident")
    assert opened["kind"] == "delivery_exception"
    assert "no one was at the address" in str(opened["detail"])
    await _shipment_reaches(order_id, "delivered")
    assert (await shop.order(auth, order_id))["status"] == "delivered"

    async def all_marked() -> bool:
        planned = await SandboxParcelEvent.select(SandboxParcelEvent.sent_at)
        return len(planned) == 6 and all(row["sent_at"] for row in planned)

    await eventually(all_marked, what="every planned event marked sent")


async def test_the_configured_default_scenario_plays_without_a_marker(
    shop_factory: Callable[..., Any],
) -> None:
    shop = await shop_factory(sandbox_carrier_scenario="return")
    _, order_id = await _order_shipped_to(shop)
    await _shipment_reaches(order_id, "returned")


async def test_postal_code_00000_still_plays_an_address_error(shop: Any) -> None:
    _, order_id = await _order_shipped_to(shop, postal_code="00000")
    await _shipment_reaches(order_id, "exception")


def test_an_unknown_default_scenario_stops_the_start_naming_the_choices(tmp_path: Path) -> None:
    line = _one_line(_mall(tmp_path, "serve", MALL_SANDBOX_CARRIER_SCENARIO="chaos"))
    assert "MALL_SANDBOX_CARRIER_SCENARIO" in line and "chaos" in line
    assert all(name in line for name in SCENARIOS), line
