"""The awaiting-deposit message names the account, the amount and the deadline."""

from __future__ import annotations

from adapters.messaging.rendering import JinjaTemplateRenderer
from tests.fakes import DEPOSIT
from tests.unit.application.harness import Mall


async def test_the_awaiting_deposit_message_names_the_account_and_the_deadline(
        mall: Mall) -> None:
    customer, order, _, payment = await mall.attempt(DEPOSIT)
    [notice] = [n for n in mall.notifier.sent
                if n.recipient == customer.email and n.template == "awaiting_deposit"]
    assert payment.deposit_account is not None
    assert notice.params["order_id"] == order.id
    assert notice.params["bank"] == payment.deposit_account["bank"]
    assert notice.params["deadline"] == payment.deposit_account["expires_at"]
    text = JinjaTemplateRenderer().render("awaiting_deposit", "email", "ko", notice.params).text
    assert "2026년 12월 4일 오후 6:00 KST" in text and order.id in text
