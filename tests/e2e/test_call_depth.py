"""How many of the project's own calls lie between an entry point and the state change it
causes: the order route down to the order row, a webhook route down to the stored callback,
and the inbox actor down to the payment the callback changes (the actor is where the route's
work continues, behind the queue)."""

from __future__ import annotations

from typing import Any

from adapters.persistence.repositories.messaging import InboxRepository
from adapters.persistence.repositories.orders import OrderRepository
from adapters.persistence.repositories.payments import PaymentRepository
from adapters.persistence.tables import Payment
from tests.call_paths import call_paths
from tests.e2e.order_steps import customer_with_order
from tests.helpers import eventually

INBOX_ACTOR = "register.<locals>.process_inbox_message"


async def test_each_entry_point_reaches_its_state_change_in_a_few_calls(shop: Any) -> None:
    with call_paths(OrderRepository, "add", "place_order") as placed, \
            call_paths(InboxRepository, "add", "receive") as stored, \
            call_paths(PaymentRepository, "save", INBOX_ACTOR) as applied:
        auth, order = await customer_with_order(shop)
        status, _ = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
        assert status == 200
        row = await Payment.select(Payment.provider_reference).where(
            Payment.order_id == order["id"]).first()
        response = await shop.client.post(
            f"/sandbox/payments/{row['provider_reference']}/deposit")
        assert response.status == 200

        async def deposit_applied() -> bool:
            return bool(applied)

        await eventually(deposit_applied, what="the deposit callback applied by the actor")
    assert placed == [["answer_once", "place_order.<locals>.place", "Ordering.place", "add"]]
    assert stored and all(path == ["Webhooks.receive", "add"] for path in stored)
    assert applied[0] == ["MessageBus.handle", "apply_provider_event", "Webhooks.process",
                          "Webhooks._settle", "apply_payment_update", "save"]
    assert max(map(len, placed)) <= 5 and max(map(len, stored + applied)) <= 6
