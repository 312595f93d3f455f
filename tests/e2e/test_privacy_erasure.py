"""Erasure end to end: no personal data left anywhere, while the records the law requires
stay, pseudonymized."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.persistence import tables as t
from tests.e2e import privacy_steps as privacy
from tests.e2e.identity_steps import (
    analytics_lines,
    link_sandbox,
    outbox_drained,
    sandbox_sign_in,
    scan_logs,
    scan_tables,
)
from tests.helpers import ORDER

pytestmark = pytest.mark.timeout(90)


async def test_after_erasure_no_personal_data_remains_and_the_legal_records_stay(
    shop: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    tag = uuid.uuid4().hex[:10]
    email = f"kr.erasure.{tag}@example.com"
    recipient, line1 = f"Jang Yeongsil {tag}", f"77 Jagyeongnu-ro {tag}"
    note = f"leave it with the guard {tag}"
    hint, person = f"erasure-{tag}", f"person-{tag}"

    # A Korean customer who used everything that keeps personal data.
    auth = await privacy.register(shop, email, country="KR")
    customer = await privacy.me(shop, auth)
    customer_id = customer["id"]
    refused = await shop.client.post("/v1/auth/login",
                                     json={"email": email, "password": "not my password!"})
    assert refused.status == 401
    response = await shop.client.put("/v1/me/consents", headers=auth, json={
        "consents": {"marketing_email": True, "personalization": False, "analytics": True}})
    assert response.status == 200, await response.text()
    await link_sandbox(shop, auth, hint)
    token = await privacy.real_name_token(shop, person)
    ci, di = await privacy.ci_di(shop, token)
    response = await privacy.verify_real_name(shop, auth, token)
    assert response.status == 200, await response.text()
    order = await privacy.paid_order_with_a_delivery_problem(shop, auth, {
        **ORDER, "lines": ORDER["lines"][:1], "note": note,
        "shipping_address": {**ORDER["shipping_address"], "recipient": recipient,
                             "line1": line1, "postal_code": "00000"}})
    # An order still on its way holds erasure back (409); the carrier delivers it after all.
    waiting = await shop.client.post("/v1/me/erasure", headers=auth,
                                     json={"confirm": email})
    assert waiting.status == 409 and "in progress" in (await waiting.json())["detail"]
    await t.Order.update({t.Order.status: "delivered"}).where(t.Order.id == order["id"])
    login = await shop.client.post("/v1/auth/login", json={"email": email,
                                                           "password": privacy.PASSWORD})
    refresh_token = (await login.json())["refresh_token"]

    personal = {"email": email, "recipient": recipient, "address line": line1, "note": note,
                "CI": ci, "DI": di, "provider email": f"{hint}@sandbox-id.example"}
    # The scan finds what is there: before the erasure, all but the CI/DI (never in clear).
    before = {f.needle for f in await scan_tables(personal)}
    assert before == set(personal) - {"CI", "DI"}, before
    assert {f.needle for f in await scan_tables({"id": customer_id},
                                                privacy.customer_keyed())} == {"id"}

    response = await shop.client.post("/v1/me/erasure", headers=auth,
                                      json={"confirm": email.upper()})
    assert response.status == 200, await response.text()
    certificate = await response.json()
    subject = certificate["subject"]
    assert subject.startswith("anon_") and customer_id not in json.dumps(certificate)
    assert certificate["jurisdiction"] == "KR"
    await outbox_drained()
    await shop.container.analytics_service().flush()  # the events queued for analytics

    # No table holds the customer's personal data, nor the id where rows are per customer.
    leftovers = await scan_tables(personal)
    assert not leftovers, "\n".join(map(str, leftovers))
    keyed = await scan_tables({"customer id": customer_id}, privacy.customer_keyed())
    assert not keyed, "\n".join(map(str, keyed))
    # Nor the logs, nor the analytics events sent.
    logged = scan_logs(caplog.records, personal)
    assert not logged, "\n".join(map(str, logged))
    sent = [json.dumps(line) for line in analytics_lines(caplog.records)]
    assert sent and not [line for line in sent if customer_id in line]
    assert all(json.loads(line)["anonymousId"].startswith("anon_") for line in sent)

    # What the law still requires, under the certificate's pseudonym, without personal data.
    now = datetime.now(UTC)
    retained = await t.RetainedRecord.select().where(t.RetainedRecord.subject == subject)
    by_class: dict[str, list[dict[str, Any]]] = {}
    for row in retained:
        assert row["jurisdiction"] == "KR"
        by_class.setdefault(row["record_class"], []).append(row)
    assert {"payment_records", "contract_records", "complaints"} <= set(by_class)
    for record_class, days in (("payment_records", 1825), ("contract_records", 1825),
                               ("complaints", 1095)):
        for row in by_class[record_class]:
            assert privacy.close_to(row["retain_until"], now + timedelta(days=days)), (
                record_class, row["retain_until"])
    [contract] = [json.loads(r["payload"]) for r in by_class["contract_records"]]
    assert contract["order_id"] == order["id"] and contract["total"] == order["total"]
    assert contract["currency"] == "KRW" and contract["country"] == "KR"
    [payments] = [json.loads(r["payload"]) for r in by_class["payment_records"]]
    [payment] = payments["payments"]
    assert payment["captured"] == order["total"] and payment["provider"] == "sandbox"
    [complaint] = [json.loads(r["payload"]) for r in by_class["complaints"]]
    assert complaint["kind"] == "delivery_exception"
    assert {r["record_class"]: r["count"] for r in certificate["retained"]} == {
        c: len(rows) for c, rows in by_class.items()}
    # The order stays for the books, under the pseudonym, with its amounts.
    kept = await t.Order.select().where(t.Order.id == order["id"]).first()
    assert kept["customer_id"] == subject and kept["total"] == order["total"]
    assert json.loads(kept["shipping_address"])["country"] == "KR"

    # The certificate is evidence, and the chain still verifies.
    [record] = await t.EvidenceRecord.select().where(
        (t.EvidenceRecord.kind == "erasure.certificate")
        & (t.EvidenceRecord.subject == f"erasure:{subject}"))
    assert record["seq"] == certificate["evidence"]["seq"]
    assert record["hash"] == certificate["evidence"]["hash"]
    assert json.loads(record["payload"])["subject"] == subject
    assert (await shop.container.evidence().verify()).ok

    # Every session ended.
    assert (await shop.client.get("/v1/me", headers=auth)).status == 401
    response = await shop.client.post("/v1/auth/refresh",
                                      json={"refresh_token": refresh_token})
    assert response.status == 401
    assert (await shop.client.post("/v1/auth/login", json={
        "email": email, "password": privacy.PASSWORD})).status == 401

    # The provider account is free again: it signs up as a new customer.
    status, body = await sandbox_sign_in(shop, hint)
    assert status == 201 and body["created"] is True, body
    assert body["customer_id"] != customer_id
    # And the person can verify again, on the new account.
    new_auth = {"Authorization": f"Bearer {body['access_token']}"}
    token = await privacy.real_name_token(shop, person)
    response = await privacy.verify_real_name(shop, new_auth, token)
    assert response.status == 200, await response.text()


async def test_erasure_needs_its_confirmation(shop: Any) -> None:
    auth = await shop.sign_up()
    for wrong in ("yes", "erase my account", "someone.else@example.com"):
        response = await shop.client.post("/v1/me/erasure", headers=auth,
                                          json={"confirm": wrong})
        assert response.status == 422
        assert "email address" in (await response.json())["detail"]
    assert (await shop.client.get("/v1/me", headers=auth)).status == 200
