"""Toss Payments end to end: the storefront API, a real database, the embedded worker, and
the Toss stand-in (tests/cassettes/toss_mock.py) as Toss's servers."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord, InboxMessage, NotificationLog, Payment
from tests.cassettes.toss_mock import BOOKS, Books
from tests.cassettes.toss_mock import make_app as make_toss_app
from tests.e2e.payment_steps import CardNumbers, tables_holding_card_numbers, webhook_filed_under
from tests.helpers import ORDER, PAID_OR_LATER, eventually, work_done

pytestmark = pytest.mark.timeout(60)

SECRET_KEY = "test_sk_e2e_mall_toss"
CONTRACTS = [
    {"provider": "toss", "countries": ["KR"], "currencies": ["KRW"],
     "methods": ["virtual_account", "card"], "priority": 10},
]
PAID = PAID_OR_LATER


async def toss_shop(shop_factory: Any, aiohttp_server: Any,
                    **overrides: Any) -> tuple[Any, Books, str]:
    app = make_toss_app()
    server = await aiohttp_server(app)
    url = str(server.make_url("")).rstrip("/")
    settings: dict[str, Any] = {
        "payment_providers": ["toss"], "payment_contracts": CONTRACTS,
        "toss_secret_key": SECRET_KEY, "toss_base_url": url,
        "sandbox_tracking_step_seconds": 3600,
    }
    settings.update(overrides)
    return await shop_factory(**settings), app[BOOKS], url


async def pay(shop: Any, auth: dict[str, str], order_id: str,
              body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post(
        f"/v1/orders/{order_id}/payments", json=body,
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
    return response.status, dict(await response.json())


VIRTUAL_ACCOUNT = {"payment_method": "toss_virtual_account", "method": "virtual_account"}


async def virtual_account_payment(shop: Any) -> tuple[dict[str, str], dict[str, Any], int,
                                                      dict[str, Any]]:
    """A new customer orders and asks to pay into a virtual account: the customer's auth, the
    order, and the payment's answer (status and operation)."""
    auth = await shop.sign_up()
    order = await shop.place(auth, ORDER)
    status, operation = await pay(shop, auth, order["id"], VIRTUAL_ACCOUNT)
    return auth, order, status, operation


async def deposit(shop: Any, toss_url: str, payment_id: str) -> None:
    """The customer transfers the money into the virtual account (the stand-in's control)."""
    async with shop.client.session.post(f"{toss_url}/stand-in/deposit/{payment_id}") as done:
        assert done.status == 200


async def post_callback(shop: Any, body: bytes | str) -> Any:
    return await shop.client.post("/v1/webhooks/toss", data=body,
                                  headers={"Content-Type": "application/json"})


def deposit_callback(books: Books, payment_id: str, secret: str,
                     status: str = "DONE") -> bytes:
    """A DEPOSIT_CALLBACK as Toss posts it to the endpoint set for virtual accounts."""
    payment = books.payments[books.orders[payment_id]]
    return json.dumps({
        "createdAt": datetime.now().astimezone().isoformat(timespec="seconds"),
        "secret": secret, "status": status,
        "transactionKey": payment["lastTransactionKey"], "orderId": payment_id,
    }).encode()


async def test_a_virtual_account_order_is_paid_on_the_deposit_callback_and_the_customer_told(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, books, toss_url = await toss_shop(shop_factory, aiohttp_server)
    auth, order, status, operation = await virtual_account_payment(shop)
    assert status == 200, operation
    result = operation["result"]
    assert result["status"] == "awaiting_deposit", operation
    account = result["deposit_account"]
    assert account["bank"] and account["account_number"] and account["expires_at"]
    assert account["amount"] == order["total"] and account["currency"] == "KRW"
    assert datetime.fromisoformat(account["expires_at"]) > datetime.now().astimezone()
    payment_id = result["payment_id"]

    # The secret Toss issued authenticates its callbacks: the customer never sees it.
    issued = books.payments[books.orders[payment_id]]
    secret = issued["secret"]
    assert secret and issued["status"] == "WAITING_FOR_DEPOSIT"
    assert secret not in json.dumps(operation)
    assert not {"secret", "callback_secret"} & (set(result) | set(account))
    view = await shop.order(auth, order["id"])
    assert view["status"] == "awaiting_deposit"
    assert secret not in json.dumps(view)
    row = await Payment.select().where(Payment.id == payment_id).first()
    assert secret not in json.dumps(row, default=str)

    async def told(template: str) -> bool:
        count = await NotificationLog.count().where(
            (NotificationLog.template == template) & (NotificationLog.subject == order["id"]))
        return count > 0

    await eventually(lambda: told("awaiting_deposit"), what="the deposit instructions")

    # A callback with another secret is refused, and nothing is kept or changed: a made-up
    # one, a near miss, none, or the real secret of another customer's virtual account.
    _, _, status, other_operation = await virtual_account_payment(shop)
    assert status == 200 and other_operation["result"]["status"] == "awaiting_deposit"
    other_secret = books.payments[books.orders[other_operation["result"]["payment_id"]]][
        "secret"]
    assert other_secret != secret
    evidence_before = await EvidenceRecord.count().where(
        EvidenceRecord.kind == "webhook.received")
    for forged in ("not-the-secret", secret[:-1], "", other_secret):
        response = await post_callback(shop, deposit_callback(books, payment_id, forged))
        assert response.status == 400, forged
        assert response.content_type == "application/problem+json"
        assert (await response.json())["type"] == "/problems/invalid-signature"
    assert await InboxMessage.count() == 0
    assert await EvidenceRecord.count().where(
        EvidenceRecord.kind == "webhook.received") == evidence_before
    await eventually(work_done, what="the background work to finish")
    assert (await shop.order(auth, order["id"]))["status"] == "awaiting_deposit"

    # The customer transfers the money; Toss calls back with the payment's secret.
    await deposit(shop, toss_url, payment_id)
    response = await post_callback(shop, deposit_callback(books, payment_id, secret))
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "accepted"

    async def paid() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["status"] in PAID else None

    view = await eventually(paid, what="the deposit to pay the order")
    [payment] = view["payments"]
    assert payment["status"] == "captured" and payment["captured"] == order["total"]
    assert view["money"]["net"] == order["total"]
    await eventually(lambda: told("order_paid"), what="the order-paid notification")
    stored = await InboxMessage.select(InboxMessage.payload).first()
    assert stored is not None and secret not in stored["payload"]


async def test_a_toss_card_payment_confirmed_with_its_payment_key_is_captured(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, books, _ = await toss_shop(shop_factory, aiohttp_server)
    auth = await shop.sign_up()
    order = await shop.place(auth, ORDER)
    payment_key = f"tgen_success_{uuid.uuid4().hex[:12]}"
    status, operation = await pay(shop, auth, order["id"], {
        "payment_method": payment_key, "method": "card", "provider": "toss"})
    assert status == 200, operation
    assert operation["status"] == "succeeded", operation
    assert operation["result"]["status"] == "captured"

    view = await shop.order(auth, order["id"])
    assert view["status"] in PAID
    [payment] = view["payments"]
    assert payment["provider"] == "toss" and payment["method"] == "card"
    assert payment["captured"] == payment["net"] == order["total"]
    confirmed = books.payments[payment_key]
    assert confirmed["status"] == "DONE" and confirmed["totalAmount"] == order["total"]
    assert confirmed["orderId"] == order["id"]  # the widget was opened with the order's id


async def test_a_deposit_callback_is_filed_as_evidence_of_its_order(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, books, _ = await toss_shop(shop_factory, aiohttp_server)
    _, order, status, operation = await virtual_account_payment(shop)
    assert status == 200 and operation["result"]["status"] == "awaiting_deposit"
    payment_id = operation["result"]["payment_id"]
    secret = books.payments[books.orders[payment_id]]["secret"]
    response = await shop.client.post("/v1/webhooks/toss",
                                      data=deposit_callback(books, payment_id, secret))
    assert response.status == 200
    assert await webhook_filed_under() == f"order:{order['id']}"


async def test_card_numbers_in_any_toss_callback_are_never_kept(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    """A deposit callback and a status-change hint carrying card numbers in every form:
    acknowledged, acted on, and kept only redacted."""
    numbers = CardNumbers(11)
    shop, books, toss_url = await toss_shop(shop_factory, aiohttp_server)
    auth, order, status, operation = await virtual_account_payment(shop)
    assert status == 200, operation
    payment_id = operation["result"]["payment_id"]
    issued = books.payments[books.orders[payment_id]]
    await deposit(shop, toss_url, payment_id)
    callback = {**json.loads(deposit_callback(books, payment_id, issued["secret"])),
                "depositorName": numbers.typed(), "memo": numbers.typed(),
                "cardNumber": numbers.plain()}
    hint = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": issued["requestedAt"],
            "data": {**issued, "orderName": numbers.typed(), "card": {"number": numbers.plain()},
                     "receipt": {"url": f"https://toss.example/{numbers.typed()}"}}}
    for body in (callback, hint):
        response = await post_callback(shop, json.dumps(body))
        assert response.status == 200, await response.text()

    async def paid() -> bool:
        return (await shop.order(auth, order["id"]))["status"] in PAID

    await eventually(paid, what="the deposit to pay the order")
    assert await tables_holding_card_numbers() == {}
