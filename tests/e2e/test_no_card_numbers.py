"""A card number typed into every free-text field ends up in no table, log line or evidence."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import pytest

from adapters.persistence.tables import ALL_TABLES, Payment
from adapters.signing import sign
from domain.customers import Role
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)

PANS = ["4242424242424242", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _leaks(text: str) -> list[str]:
    flat = re.sub(r"[\s-]", "", text)
    return [pan for pan in PANS if _digits(pan) in flat]


async def test_card_numbers_typed_anywhere_are_never_kept(
    shop_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop = await shop_factory(sandbox_deposit_delay_seconds=3600)
    pan = PANS[0]
    auth = await shop.sign_up(password=f"my card is {pan}")
    order = {
        "currency": "KRW",
        "lines": [{"sku": f"SKU {PANS[1]}", "title": f"gift for card {PANS[2]}",
                   "seller_id": _digits(PANS[3]), "quantity": 1, "unit_price": 1000}],
        "shipping_address": {"recipient": f"Ada {pan}", "line1": f"{PANS[1]} Main St",
                             "line2": f"apt 5 {pan}", "city": f"Seoul {PANS[2]}",
                             "postal_code": "04524", "country": "KR"},
        "carrier": "sandbox-express",
        "note": f"my card is {pan} exp 12/34 cvc 123",
    }
    placed = await shop.place(auth, order)
    assert not _leaks(json.dumps(placed))

    # The card typed where a token belongs is refused without echoing it back.
    response = await shop.client.post(
        f"/v1/orders/{placed['id']}/payments", json={"payment_method": f"pm_{_digits(pan)}"},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex, "X-Request-Id": pan})
    assert response.status == 422
    assert not _leaks(await response.text())

    # The card typed as an idempotency key and a carrier name.
    status, _ = await shop.pay(auth, placed["id"], "pm_sandbox_virtual_account", key=pan)
    assert status == 200
    response = await shop.client.post("/v1/orders", json={**order, "carrier": pan},
                                      headers=auth)
    assert response.status == 422 and not _leaks(await response.text())

    # A provider that sends card data in a webhook: only a redacted copy is kept.
    row = await Payment.select(Payment.provider_reference).where(
        Payment.order_id == placed["id"]).first()
    body = json.dumps({
        "id": f"evt_{uuid.uuid4().hex}", "type": "virtual_account.deposited",
        "created": int(time.time()),
        "data": {"reference": row["provider_reference"], "order_id": placed["id"],
                 "status": "succeeded", "payer_note": f"paid with {pan}",
                 "card": {"number": _digits(pan), "cvc": "123"}},
    }).encode()
    response = await shop.client.post("/v1/webhooks/sandbox", data=body, headers={
        "Sandbox-Signature": sign("whsec_sandbox_payments_dev", body)})
    assert response.status == 200

    async def paid() -> bool:
        return (await shop.order(auth, placed["id"]))["status"] != "awaiting_deposit"

    await eventually(paid, what="the webhook to be applied")

    # An admin looks the card up in a query string: the access log keeps only the path.
    await shop.container.accounts().register("audit@example.com", "audit password 1",
                                             role=Role.ADMIN)
    login = await shop.client.post("/v1/auth/login", json={"email": "audit@example.com",
                                                            "password": "audit password 1"})
    admin = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    response = await shop.client.get(f"/v1/admin/evidence?subject={_digits(pan)}",
                                     headers=admin)
    assert response.status == 200

    leaks: dict[str, list[str]] = {}
    for table in ALL_TABLES:
        rows = await table.select()
        found = _leaks(json.dumps(rows, default=str))
        if found:
            leaks[table._meta.tablename] = found
    assert leaks == {}, f"card numbers stored in {leaks}"
    log_lines = [record.getMessage() for record in caplog.records]
    leaked_lines = [line for line in log_lines if _leaks(line)]
    assert leaked_lines == []
    # The access log was captured: it names the path and leaves the query string out.
    assert any('"GET /v1/admin/evidence"' in line for line in log_lines)
    assert not any("subject=" in line for line in log_lines)
    evidence = await (await shop.client.post("/v1/admin/evidence/verify",
                                             headers=admin)).json()
    assert evidence["ok"] is True
