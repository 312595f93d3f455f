"""Privacy rights end to end: erasure leaves no personal data anywhere while the records the
law requires stay, pseudonymized; export; retention by jurisdiction; Korean CI/DI."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import bootstrap
from adapters.persistence import tables as t
from adapters.persistence.tables import ALL_TABLES
from application.privacy import RealNameIdentities
from tests.e2e.identity_steps import (
    admin_of,
    analytics_lines,
    analytics_payloads,
    bearer,
    link_sandbox,
    outbox_drained,
    sandbox_sign_in,
    scan_logs,
    scan_tables,
)
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(90)

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


def _close_to(value: datetime, expected: datetime, slack: float = DAY) -> bool:
    return abs((value - expected).total_seconds()) <= slack


# --- 1. erasure -------------------------------------------------------------------------------


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
    auth = await register(shop, email, country="KR")
    customer = await me(shop, auth)
    customer_id = customer["id"]
    refused = await shop.client.post("/v1/auth/login",
                                     json={"email": email, "password": "not my password!"})
    assert refused.status == 401
    response = await shop.client.put("/v1/me/consents", headers=auth, json={
        "consents": {"marketing_email": True, "personalization": False}})
    assert response.status == 200, await response.text()
    await link_sandbox(shop, auth, hint)
    token = await real_name_token(shop, person)
    ci, di = await ci_di(shop, token)
    response = await verify_real_name(shop, auth, token)
    assert response.status == 200, await response.text()
    order = await paid_order_with_a_delivery_problem(shop, auth, {
        **ORDER, "lines": ORDER["lines"][:1], "note": note,
        "shipping_address": {**ORDER["shipping_address"], "recipient": recipient,
                             "line1": line1, "postal_code": "00000"}})
    # An order still on its way holds erasure back (409); the carrier delivers it after all.
    waiting = await shop.client.post("/v1/me/erasure", headers=auth,
                                     json={"confirm": email})
    assert waiting.status == 409 and "in progress" in (await waiting.json())["detail"]
    await t.Order.update({t.Order.status: "delivered"}).where(t.Order.id == order["id"])
    login = await shop.client.post("/v1/auth/login", json={"email": email,
                                                           "password": PASSWORD})
    refresh_token = (await login.json())["refresh_token"]

    personal = {"email": email, "recipient": recipient, "address line": line1, "note": note,
                "CI": ci, "DI": di, "provider email": f"{hint}@sandbox-id.example"}
    # The scan finds what is there: before the erasure, all but the CI/DI (never in clear).
    before = {f.needle for f in await scan_tables(personal)}
    assert before == set(personal) - {"CI", "DI"}, before
    assert {f.needle for f in await scan_tables({"id": customer_id},
                                                customer_keyed())} == {"id"}

    response = await shop.client.post("/v1/me/erasure", headers=auth,
                                      json={"confirm": email.upper()})
    assert response.status == 200, await response.text()
    certificate = await response.json()
    subject = certificate["subject"]
    assert subject.startswith("anon_") and customer_id not in json.dumps(certificate)
    assert certificate["jurisdiction"] == "KR"
    await outbox_drained()

    # No table holds the customer's personal data, nor the id where rows are per customer.
    leftovers = await scan_tables(personal)
    assert not leftovers, "\n".join(map(str, leftovers))
    keyed = await scan_tables({"customer id": customer_id}, customer_keyed())
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
            assert _close_to(row["retain_until"], now + timedelta(days=days)), (
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
        "email": email, "password": PASSWORD})).status == 401

    # The provider account is free again: it signs up as a new customer.
    status, body = await sandbox_sign_in(shop, hint)
    assert status == 201 and body["created"] is True, body
    assert body["customer_id"] != customer_id
    # And the person can verify again, on the new account.
    new_auth = {"Authorization": f"Bearer {body['access_token']}"}
    response = await verify_real_name(shop, new_auth, await real_name_token(shop, person))
    assert response.status == 200, await response.text()


async def test_erasure_needs_its_confirmation(shop: Any) -> None:
    auth = await shop.sign_up()
    for wrong in ("yes", "erase my account", "someone.else@example.com"):
        response = await shop.client.post("/v1/me/erasure", headers=auth,
                                          json={"confirm": wrong})
        assert response.status == 422
        assert "email address" in (await response.json())["detail"]
    assert (await shop.client.get("/v1/me", headers=auth)).status == 200


# --- 2. export --------------------------------------------------------------------------------


async def test_export_holds_everything_about_the_customer_but_no_ci_or_di(shop: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"export.{tag}@example.com"
    auth = await register(shop, email, country="DE")
    customer_id = (await me(shop, auth))["id"]
    await shop.client.put("/v1/me/consents", headers=auth,
                          json={"consents": {"marketing_email": True}})
    await link_sandbox(shop, auth, f"export-{tag}")
    token = await real_name_token(shop, f"export-person-{tag}")
    ci, di = await ci_di(shop, token)
    assert (await verify_real_name(shop, auth, token)).status == 200
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


# --- 3. retention -----------------------------------------------------------------------------


async def test_retention_deletes_what_no_rule_keeps_any_more(shop: Any) -> None:
    kr = await register(shop, f"kr.{uuid.uuid4().hex[:8]}@example.com", country="KR")
    eu = await register(shop, f"eu.{uuid.uuid4().hex[:8]}@example.com", country="FR")
    kr_id, eu_id = (await me(shop, kr))["id"], (await me(shop, eu))["id"]
    now = time.time()

    async def failure(customer_id: str, days_ago: float) -> None:
        await t.LoginFailure.insert(t.LoginFailure(
            customer_id=customer_id, at=datetime.fromtimestamp(now - days_ago * DAY, UTC)))

    async def retained(record_id: str, retain_until: float) -> None:
        await t.RetainedRecord.insert(t.RetainedRecord(
            id=record_id, record_class="payment_records", subject="anon_x", jurisdiction="KR",
            payload="{}", created_at=datetime.now(UTC),
            retain_until=datetime.fromtimestamp(retain_until, UTC)))

    # KR keeps access logs 90 days, EU 180.
    for days_ago in (1, 89, 91, 400):
        await failure(kr_id, days_ago)
    for days_ago in (1, 91, 179, 181):
        await failure(eu_id, days_ago)
    await retained("ret_past", now - DAY)
    await retained("ret_just_past", now - 1)
    await retained("ret_future", now + 365 * DAY)

    report = await shop.container.privacy().enforce_retention()
    assert report["retained_records"] == 2 and report["access_logs"] == 3, report

    left = {row["id"] for row in await t.RetainedRecord.select(t.RetainedRecord.id)}
    assert left == {"ret_future"}

    async def ages(customer_id: str) -> list[int]:
        rows = await t.LoginFailure.select(t.LoginFailure.at).where(
            t.LoginFailure.customer_id == customer_id)
        return sorted(round((now - row["at"].timestamp()) / DAY) for row in rows)

    assert await ages(kr_id) == [1, 89]
    assert await ages(eu_id) == [1, 91, 179]
    # Running it again finds nothing more to delete.
    again = await shop.container.privacy().enforce_retention()
    assert again["retained_records"] == 0 and again["access_logs"] == 0


async def test_a_jurisdiction_without_a_policy_of_its_own_follows_the_default(
    shop_factory: Any,
) -> None:
    """Erasure applies the default policy to a jurisdiction the settings do not name; the
    periodic purge must apply the same one."""
    shop = await shop_factory(retention_policies={
        "KR": {"payment_records": 1825, "contract_records": 1825, "complaints": 1095,
               "access_logs": 90},
        "default": {"payment_records": 2555, "contract_records": 2555, "complaints": 1095,
                    "access_logs": 30}})
    eu = await register(shop, f"eu.{uuid.uuid4().hex[:8]}@example.com", country="FR")
    eu_id = (await me(shop, eu))["id"]
    assert shop.container.privacy().policy_of("EU").days["access_logs"] == 30
    now = time.time()
    for days_ago in (10, 60):
        await t.LoginFailure.insert(t.LoginFailure(
            customer_id=eu_id, at=datetime.fromtimestamp(now - days_ago * DAY, UTC)))
    report = await shop.container.privacy().enforce_retention()
    assert report["access_logs"] == 1, report
    [left] = await t.LoginFailure.select().where(t.LoginFailure.customer_id == eu_id)
    assert round((now - left["at"].timestamp()) / DAY) == 10


async def test_retention_clears_abandoned_sign_ins(shop: Any) -> None:
    start = await shop.client.get("/v1/auth/sandbox/start", allow_redirects=False)
    assert start.status == 302
    old = datetime.now(UTC) - timedelta(days=2)
    await t.AuthFlow.update({t.AuthFlow.created_at: old}).where(
        t.AuthFlow.provider == "sandbox")
    report = await shop.container.privacy().enforce_retention()
    assert report["sign_in_leftovers"] == 1
    assert await t.AuthFlow.count() == 0


# --- 4. Korean CI/DI --------------------------------------------------------------------------


async def test_one_account_per_person_with_ci_sealed_and_di_blind_indexed(
    shop_factory: Any, settings_factory: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    old_key, new_key = (base64.b64encode(k * 32).decode() for k in (b"1", b"2"))
    shop = await shop_factory(data_keys={"k1": old_key}, data_key_id="k1")
    person = f"hong-gildong-{uuid.uuid4().hex[:6]}"
    first = await register(shop, f"first.{uuid.uuid4().hex[:6]}@example.com", country="KR")
    second = await register(shop, f"second.{uuid.uuid4().hex[:6]}@example.com", country="KR")
    first_id = (await me(shop, first))["id"]

    token = await real_name_token(shop, person)
    ci, di = await ci_di(shop, token)
    response = await verify_real_name(shop, first, token)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["verified"] is True and body["adult"] is True
    assert (await me(shop, first))["identity_verified"] is True
    # The same account verifying again is fine.
    assert (await verify_real_name(shop, first, await real_name_token(shop, person))
            ).status == 200

    # The same person on another account: one account per person.
    response = await verify_real_name(shop, second, await real_name_token(shop, person))
    assert response.status == 409, await response.text()
    assert "one account per person" in (await response.json())["detail"]
    assert (await me(shop, second))["identity_verified"] is False
    # A token the sandbox did not sign is refused.
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await verify_real_name(shop, second, forged)).status == 401

    [row] = await t.RealNameIdentity.select()
    assert row["customer_id"] == first_id and row["key_id"] == "k1"
    assert ci not in row["ci_ciphertext"] and row["ci_ciphertext"].startswith("v1.k1.")
    assert row["di_index"] != di and re.fullmatch(r"[0-9a-f]{64}", row["di_index"])
    assert shop.container.cipher().open(row["ci_ciphertext"], first_id) == ci
    assert shop.container.cipher().blind_index(di, "kr-di") == row["di_index"]

    # A new master key is added and made current (the settings of the next deployment); the
    # CIs are re-sealed under it over the same database.
    rotated = bootstrap.build(settings_factory(
        data_keys={"k1": old_key, "k2": new_key}, data_key_id="k2")).cipher()
    assert rotated.current_key_id == "k2"
    c = shop.container
    real_names = RealNameIdentities(c.uow(), c.real_name_verifier(), rotated, c.clock())
    assert await real_names.rotate_keys() == 1
    [row] = await t.RealNameIdentity.select()
    assert row["key_id"] == "k2" and row["ci_ciphertext"].startswith("v1.k2.")
    assert rotated.open(row["ci_ciphertext"], first_id) == ci
    assert await real_names.rotate_keys() == 0  # nothing left under k1
    # The blind index does not depend on the master key: duplicates are still found.
    assert rotated.blind_index(di, "kr-di") == row["di_index"]
    response = await verify_real_name(shop, second, await real_name_token(shop, person))
    assert response.status == 409

    # CI and DI appear in no event, evidence, outbox message or log.
    await outbox_drained()
    needles = {"CI": ci, "DI": di}
    assert not await scan_tables(needles)
    assert not scan_logs(caplog.records, needles)
    kyc = await t.EvidenceRecord.select().where(t.EvidenceRecord.kind == "kyc.verified")
    assert len(kyc) == 1 and json.loads(kyc[0]["payload"])["key_id"] == "k1"
    for payload in await analytics_payloads():
        assert ci not in json.dumps(payload) and di not in json.dumps(payload)


async def test_the_admin_report_and_events_never_show_a_verified_persons_ci(
    shop: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    """A verified customer who signs in and orders: nothing that leaves carries CI or DI."""
    caplog.set_level(logging.INFO)
    admin = await admin_of(shop)
    status, body = await sandbox_sign_in(shop, f"kyc-{uuid.uuid4().hex[:6]}")
    assert status == 201
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    token = await real_name_token(shop, f"verified-{uuid.uuid4().hex[:6]}")
    ci, di = await ci_di(shop, token)
    assert (await verify_real_name(shop, auth, token)).status == 200
    await shop.place(auth, {**ORDER, "lines": ORDER["lines"][:1]})
    await outbox_drained()
    today = datetime.now(UTC).date().isoformat()
    report = await shop.client.get(f"/v1/admin/analytics/auth?from={today}", headers=admin)
    text = await report.text()
    assert report.status == 200 and ci not in text and di not in text
    assert not scan_logs(caplog.records, {"CI": ci, "DI": di})
    assert not await scan_tables({"CI": ci, "DI": di})


async def test_a_merged_in_verification_keeps_its_ci_readable_and_rotatable(
    shop_factory: Any, settings_factory: Any,
) -> None:
    """Merging a verified account into an unverified one moves the CI with it: it must still
    open for its new owner, and key rotation must still get through it."""
    old_key, new_key = (base64.b64encode(k * 32).decode() for k in (b"1", b"2"))
    shop = await shop_factory(data_keys={"k1": old_key}, data_key_id="k1")
    keeper = await register(shop, f"keeper.{uuid.uuid4().hex[:6]}@example.com", country="KR")
    merged_email = f"merged.{uuid.uuid4().hex[:6]}@example.com"
    merged = await register(shop, merged_email, country="KR")
    keeper_id = (await me(shop, keeper))["id"]
    person = f"merge-person-{uuid.uuid4().hex[:6]}"
    token = await real_name_token(shop, person)
    ci, di = await ci_di(shop, token)
    assert (await verify_real_name(shop, merged, token)).status == 200

    response = await shop.client.post("/v1/me/merge", headers=keeper, json={
        "access_token": merged["Authorization"].removeprefix("Bearer ")})
    assert response.status == 200, await response.text()
    [row] = await t.RealNameIdentity.select()
    assert row["customer_id"] == keeper_id
    assert shop.container.cipher().open(row["ci_ciphertext"], keeper_id) == ci
    # The same person is still one account, now the keeper's.
    assert (await verify_real_name(shop, keeper, await real_name_token(shop, person))
            ).status == 200
    assert (await me(shop, keeper))["identity_verified"] is True

    rotated = bootstrap.build(settings_factory(
        data_keys={"k1": old_key, "k2": new_key}, data_key_id="k2")).cipher()
    c = shop.container
    real_names = RealNameIdentities(c.uow(), c.real_name_verifier(), rotated, c.clock())
    assert await real_names.rotate_keys() == 1
    [row] = await t.RealNameIdentity.select()
    assert row["key_id"] == "k2" and rotated.open(row["ci_ciphertext"], keeper_id) == ci
    assert rotated.blind_index(di, "kr-di") == row["di_index"]


async def test_erasure_and_merging_need_a_recent_sign_in(
    shop: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adapters.security

    email = f"stale.{uuid.uuid4().hex[:8]}@example.com"
    await register(shop, email)
    real_time = time.time
    # A token still valid, but from a sign-in 11 minutes ago (lifetimes are 15 minutes).
    monkeypatch.setattr(adapters.security.time, "time", lambda: real_time() - 660)
    stale = await bearer(shop, email, PASSWORD)
    monkeypatch.setattr(adapters.security.time, "time", real_time)
    assert (await shop.client.get("/v1/me", headers=stale)).status == 200
    for path, body in (("/v1/me/erasure", {"confirm": email}),
                       ("/v1/me/merge", {"access_token": "x" * 20})):
        response = await shop.client.post(path, headers=stale, json=body)
        assert response.status == 401, path
        assert "recent sign-in" in (await response.json())["detail"]
    fresh = await bearer(shop, email, PASSWORD)
    response = await shop.client.post("/v1/me/erasure", headers=fresh,
                                      json={"confirm": email})
    assert response.status == 200


async def test_two_merges_racing_in_opposite_directions_keep_one_account(shop: Any) -> None:
    import asyncio

    tag = uuid.uuid4().hex[:8]
    first, second = f"first.{tag}@example.com", f"second.{tag}@example.com"
    auth_first, auth_second = await register(shop, first), await register(shop, second)
    await shop.place(auth_first, ORDER)
    await shop.place(auth_second, ORDER)
    token_first = auth_first["Authorization"].split()[1]
    token_second = auth_second["Authorization"].split()[1]
    answers = await asyncio.gather(
        shop.client.post("/v1/me/merge", headers=auth_first,
                         json={"access_token": token_second}),
        shop.client.post("/v1/me/merge", headers=auth_second,
                         json={"access_token": token_first}))
    statuses = sorted(answer.status for answer in answers)
    assert statuses[0] == 200 and statuses[1] in (401, 409), statuses
    survivors = await t.Customer.select(t.Customer.id).where(
        t.Customer.email.is_in([first, second]))
    assert len(survivors) == 1
    owners = {row["customer_id"] for row in await t.Order.select(t.Order.customer_id)}
    assert owners == {survivors[0]["id"]}  # both orders kept, by the account that remains
