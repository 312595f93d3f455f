"""Korean real-name verification: one account per person, the CI sealed and the DI blind
indexed, never shown, and still readable after a merge or a key rotation."""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

import bootstrap
from adapters.persistence import tables as t
from application.privacy import RealNameIdentities
from tests.e2e import privacy_steps as privacy
from tests.e2e.identity_steps import (
    admin_of,
    analytics_payloads,
    outbox_drained,
    sandbox_sign_in,
    scan_logs,
    scan_tables,
)
from tests.helpers import ORDER

pytestmark = pytest.mark.timeout(90)


async def test_one_account_per_person_with_ci_sealed_and_di_blind_indexed(
    shop_factory: Any, settings_factory: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    old_key, new_key = (base64.b64encode(k * 32).decode() for k in (b"1", b"2"))
    shop = await shop_factory(data_keys={"k1": old_key}, data_key_id="k1")
    person = f"hong-gildong-{uuid.uuid4().hex[:6]}"
    first = await privacy.register(shop, f"first.{uuid.uuid4().hex[:6]}@example.com",
                                   country="KR")
    second = await privacy.register(shop, f"second.{uuid.uuid4().hex[:6]}@example.com",
                                    country="KR")
    first_id = (await privacy.me(shop, first))["id"]

    token = await privacy.real_name_token(shop, person)
    ci, di = await privacy.ci_di(shop, token)
    response = await privacy.verify_real_name(shop, first, token)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["verified"] is True and body["adult"] is True
    assert (await privacy.me(shop, first))["identity_verified"] is True
    # The same account verifying again is fine.
    assert (await privacy.verify_real_name(shop, first, await privacy.real_name_token(shop, person))
            ).status == 200

    # The same person on another account: one account per person.
    response = await privacy.verify_real_name(shop, second,
                                              await privacy.real_name_token(shop, person))
    assert response.status == 409, await response.text()
    assert "one account per person" in (await response.json())["detail"]
    assert (await privacy.me(shop, second))["identity_verified"] is False
    # A token the sandbox did not sign is refused.
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await privacy.verify_real_name(shop, second, forged)).status == 401

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
    response = await privacy.verify_real_name(shop, second,
                                              await privacy.real_name_token(shop, person))
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
    token = await privacy.real_name_token(shop, f"verified-{uuid.uuid4().hex[:6]}")
    ci, di = await privacy.ci_di(shop, token)
    assert (await privacy.verify_real_name(shop, auth, token)).status == 200
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
    keeper = await privacy.register(shop, f"keeper.{uuid.uuid4().hex[:6]}@example.com",
                                    country="KR")
    merged_email = f"merged.{uuid.uuid4().hex[:6]}@example.com"
    merged = await privacy.register(shop, merged_email, country="KR")
    keeper_id = (await privacy.me(shop, keeper))["id"]
    person = f"merge-person-{uuid.uuid4().hex[:6]}"
    token = await privacy.real_name_token(shop, person)
    ci, di = await privacy.ci_di(shop, token)
    assert (await privacy.verify_real_name(shop, merged, token)).status == 200

    response = await shop.client.post("/v1/me/merge", headers=keeper, json={
        "access_token": merged["Authorization"].removeprefix("Bearer ")})
    assert response.status == 200, await response.text()
    [row] = await t.RealNameIdentity.select()
    assert row["customer_id"] == keeper_id
    assert shop.container.cipher().open(row["ci_ciphertext"], keeper_id) == ci
    # The same person is still one account, now the keeper's.
    assert (await privacy.verify_real_name(
        shop, keeper, await privacy.real_name_token(shop, person))).status == 200
    assert (await privacy.me(shop, keeper))["identity_verified"] is True

    rotated = bootstrap.build(settings_factory(
        data_keys={"k1": old_key, "k2": new_key}, data_key_id="k2")).cipher()
    c = shop.container
    real_names = RealNameIdentities(c.uow(), c.real_name_verifier(), rotated, c.clock())
    assert await real_names.rotate_keys() == 1
    [row] = await t.RealNameIdentity.select()
    assert row["key_id"] == "k2" and rotated.open(row["ci_ciphertext"], keeper_id) == ci
    assert rotated.blind_index(di, "kr-di") == row["di_index"]
