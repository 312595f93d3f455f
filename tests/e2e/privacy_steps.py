"""Steps the privacy tests share: registering with a country, real-name verification in the
sandbox, and an order whose delivery went wrong (a complaint the law says to keep)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.tables import ALL_TABLES
from tests.e2e.identity_steps import bearer, outbox_drained
from tests.helpers import eventually

PASSWORD = "correct horse battery"
DAY = 86400


async def register(shop: Any, email: str, country: str | None = None) -> dict[str, str]:
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if country:
        body["country"] = country
    response = await shop.client.post("/v1/auth/register", json=body)
    assert response.status == 201, await response.text()
    await shop.verify_email(email)  # the mailbox is proven: providers may be linked
    return await bearer(shop, email, PASSWORD)


async def me(shop: Any, auth: dict[str, str]) -> dict[str, Any]:
    response = await shop.client.get("/v1/me", headers=auth)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def real_name_token(shop: Any, person: str) -> str:
    response = await shop.client.get("/sandbox/real-name/verify", params={"person": person})
    assert response.status == 200, await response.text()
    return str((await response.json())["token"])


async def ci_di(shop: Any, token: str) -> tuple[str, str]:
    """The CI and DI the sandbox gives for this token's person (it is a pure function)."""
    result = await shop.container.real_name_verifier().verify(token)
    return result.ci, result.di


async def verify_real_name(shop: Any, auth: dict[str, str], token: str) -> Any:
    return await shop.client.post("/v1/me/real-name-verification", json={"token": token},
                                  headers=auth)


def customer_keyed(tables: list[Any] = ALL_TABLES) -> list[Any]:
    """Tables whose rows belong to one customer (by a customer_id or owner column)."""
    return [table for table in tables
            if {"customer_id", "owner"} & {c._meta.name for c in table._meta.columns}
            or table is t.Customer]


async def paid_order_with_a_delivery_problem(shop: Any, auth: dict[str, str],
                                             order: dict[str, Any]) -> dict[str, Any]:
    placed = await shop.place(auth, order)
    status, operation = await shop.pay(auth, placed["id"], "pm_sandbox_success")
    assert status == 200 and operation["result"]["status"] == "captured", operation

    async def incident() -> list[dict[str, Any]]:
        return await t.Incident.select().where(
            (t.Incident.subject == f"order:{placed['id']}")
            & (t.Incident.kind == "delivery_exception"))

    await eventually(incident, what="the delivery exception's incident")

    async def settled() -> bool:
        view = await shop.order(auth, placed["id"])
        return bool(view["shipments"]) and all(
            s["status"] == "exception" for s in view["shipments"])

    await eventually(settled, what="the shipment in exception")
    await outbox_drained()
    return placed


def close_to(value: datetime, expected: datetime, slack: float = DAY) -> bool:
    return abs((value - expected).total_seconds()) <= slack

