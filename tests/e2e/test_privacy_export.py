"""The export of everything we hold about a customer, and nobody else's: never a CI or DI."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest

from adapters.persistence import tables as t
from tests.e2e import privacy_steps as privacy
from tests.e2e.identity_steps import link_sandbox
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(90)


async def test_export_holds_everything_about_the_customer_but_no_ci_or_di(shop: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"export.{tag}@example.com"
    auth = await privacy.register(shop, email, country="DE")
    customer_id = (await privacy.me(shop, auth))["id"]
    await shop.client.put("/v1/me/consents", headers=auth,
                          json={"consents": {"marketing_email": True}})
    await link_sandbox(shop, auth, f"export-{tag}")
    token = await privacy.real_name_token(shop, f"export-person-{tag}")
    ci, di = await privacy.ci_di(shop, token)
    assert (await privacy.verify_real_name(shop, auth, token)).status == 200
    placed = await shop.place(auth, {**ORDER, "lines": ORDER["lines"][:1]})
    status, _ = await shop.pay(auth, placed["id"], "pm_sandbox_success")
    assert status == 200

    async def shipped() -> dict[str, Any] | None:
        view = await shop.order(auth, placed["id"])
        return view if view["shipments"] else None

    await eventually(shipped, what="a shipment")
    wrong = {"email": email, "password": "not the password"}
    assert (await shop.client.post("/v1/auth/login", json=wrong)).status == 401

    response = await shop.client.get("/v1/me/export", headers=auth)
    assert response.status == 200, await response.text()
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    document = json.loads(text)
    assert document["format"] == "mall-export/1"
    assert document["customer"]["id"] == customer_id
    assert document["customer"]["email"] == email
    assert document["customer"]["jurisdiction"] == "EU"
    assert document["customer"]["identity_verified"] is True
    assert "password_hash" not in document["customer"]
    [failed] = document["failed_sign_ins_at"]  # RFC 3339, as every time the API answers
    assert datetime.fromisoformat(failed).tzinfo is not None
    [identity] = document["identities"]
    assert identity["provider"] == "sandbox" and identity["subject"] == f"export-{tag}"
    assert {c["purpose"]: c["granted"] for c in document["consents"]} == {
        "marketing_email": True}
    [order] = document["orders"]
    assert order["id"] == placed["id"]
    assert order["shipping_address"]["recipient"] == ORDER["shipping_address"]["recipient"]
    assert order["payments"] and order["payments"][0]["status"] == "captured"
    assert order["shipments"] and order["shipments"][0]["seller_id"] == "seller-a"
    assert document["sessions"] and all(
        set(s) == {"id", "created_at", "expires_at", "status"} for s in document["sessions"])
    # That a verification happened, never the CI or DI.
    verification = document["real_name_verification"]
    assert verification["adult"] is True and verification["verified_at"]
    assert ci not in text and di not in text
    assert "ci_ciphertext" not in text and "di_index" not in text
    sealed = await t.RealNameIdentity.select().where(
        t.RealNameIdentity.customer_id == customer_id).first()
    assert sealed["ci_ciphertext"] not in text and sealed["di_index"] not in text
    assert "refresh_hash" not in text
    # Only the customer's own data.
    other = await shop.sign_up()
    theirs = json.loads(await (await shop.client.get("/v1/me/export", headers=other)).text())
    assert theirs["orders"] == [] and theirs["identities"] == []
    assert (await shop.client.get("/v1/me/export")).status == 401
