"""A failed payment's explanation has one shape wherever it is read (the payment, the
operation, its event stream): `failure.message` in the language the request asks for."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.order_steps import customer_with_order

DECLINED = "pm_sandbox_decline_insufficient_funds"


async def test_the_failure_reads_the_same_on_the_operation_its_stream_and_the_payment(
        shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    status, operation = await shop.pay(auth, order["id"], DECLINED)
    assert status == 200 and operation["status"] == "failed"
    failure = operation["result"]["failure"]
    assert failure["reason"] == "insufficient_funds" and "another card" in failure["message"]

    korean = {**auth, "Accept-Language": "ko"}
    response = await shop.client.get(f"/v1/operations/{operation['id']}", headers=korean)
    in_korean = (await response.json())["result"]["failure"]
    assert {**in_korean, "message": ""} == {**failure, "message": ""}
    assert in_korean["message"] != failure["message"] and in_korean["message"].isascii() is False

    response = await shop.client.get(f"/v1/operations/{operation['id']}/events", headers=korean)
    events = [json.loads(line[6:]) async for line in response.content
              if line.startswith(b"data: ")]
    assert events[-1]["result"]["failure"] == in_korean

    response = await shop.client.get(f"/v1/orders/{order['id']}", headers=korean)
    [payment] = (await response.json())["payments"]
    assert payment["failure"] == in_korean
