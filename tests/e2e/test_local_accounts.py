"""Password accounts end to end: emailed verification and reset links (minted when sent,
never stored or logged), and the sign-in funnel report without personal data."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.persistence import tables as t
from tests.e2e.identity_steps import (
    admin_of,
    analytics_lines,
    local,
    outbox_drained,
    sandbox_sign_in,
    scan_logs,
    scan_tables,
)
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


async def emailed_link(shop: Any, email: str, template: str, after: int = 0) -> str:
    """The link in the latest `template` message sent to `email` (the console notifier keeps
    what it sent), waiting for the outbox to send it; `after`: messages already seen."""
    notifier = shop.container.notifier()

    async def sent() -> str | None:
        mine = [n for n in notifier.sent if n.recipient == email and n.template == template]
        return notifier.last_link(email, template) if len(mine) > after else None

    return await eventually(sent, what=f"the {template} email")


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def login(shop: Any, email: str, password: str) -> Any:
    return await shop.client.post("/v1/auth/login", json={"email": email, "password": password})


async def tokens(shop: Any, email: str, password: str) -> dict[str, Any]:
    response = await login(shop, email, password)
    assert response.status == 200, await response.text()
    return dict(await response.json())


def auth_of(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def signed_up(shop: Any, kind: str) -> tuple[str, dict[str, str]]:
    """A new customer with a password, under an address of its own: its email and auth."""
    email = f"{kind}.{uuid.uuid4().hex[:8]}@example.com"
    return email, await shop.sign_up(email)


# --- 5. emailed links -------------------------------------------------------------------------


async def test_the_emailed_verification_link_verifies_the_address_it_was_sent_to(
    shop: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    email, auth = await signed_up(shop, "verify")
    assert (await (await shop.client.get("/v1/me", headers=auth)).json())[
        "email_verified"] is False

    link = await emailed_link(shop, email, "verify_email")
    base = shop.container.config.base_url()
    assert link.startswith(f"{base}/v1/auth/email/verify?token=")
    token = token_of(link)
    response = await shop.client.post("/v1/auth/email/verify", json={"token": token})
    assert response.status == 200, await response.text()
    assert (await response.json())["email_verified"] is True
    me = await (await shop.client.get("/v1/me", headers=auth)).json()
    assert me["email_verified"] is True
    # It works once: the address is verified now, and the link is spent.
    again = await shop.client.post("/v1/auth/email/verify", json={"token": token})
    assert again.status == 401
    assert "used already" in (await again.json())["detail"]
    assert (await (await shop.client.get("/v1/me", headers=auth)).json())["email_verified"]

    # It is bound to the address too: once the address changes, it no longer works, even
    # while the new address waits for its own verification.
    await t.Customer.update({t.Customer.email: f"changed.{email}",
                             t.Customer.email_verified: False}).where(
        t.Customer.id == me["id"])
    stale = await shop.client.post("/v1/auth/email/verify", json={"token": token})
    assert stale.status == 401
    assert (await t.Customer.select(t.Customer.email_verified).where(
        t.Customer.id == me["id"]).first())["email_verified"] is False

    # Tokens of another purpose, altered ones and access tokens are no verification links.
    access = auth["Authorization"].removeprefix("Bearer ")
    for wrong in (access, token[:-3] + ("abc" if not token.endswith("abc") else "xyz")):
        response = await shop.client.post("/v1/auth/email/verify", json={"token": wrong})
        assert response.status == 401, wrong

    await outbox_drained()
    secrets = {"verification token": token, "access token": access}
    assert not await scan_tables(secrets)
    assert not scan_logs(caplog.records, secrets)
    # The notifier's log line names neither the address nor the link.
    notes = [r.getMessage() for r in caplog.records if r.name == "mall.notify"]
    assert any("[verify_email]" in line for line in notes)
    assert not [line for line in notes if email in line or "token=" in line]


async def test_a_password_reset_link_works_once_and_ends_every_session(
    shop: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    email, _ = await signed_up(shop, "reset")
    laptop, phone = await tokens(shop, email, PASSWORD), await tokens(shop, email, PASSWORD)
    for device in (laptop, phone):
        assert (await shop.client.get("/v1/me", headers=auth_of(device))).status == 200

    response = await shop.client.post("/v1/auth/password/forgot", json={"email": email})
    assert response.status == 202
    answer = await response.json()
    link = await emailed_link(shop, email, "password_reset")
    base = shop.container.config.base_url()
    assert link.startswith(f"{base}/v1/auth/password/reset?token=")
    token = token_of(link)

    # A reset token is not a verification token, and a weak password keeps the link usable.
    response = await shop.client.post("/v1/auth/email/verify", json={"token": token})
    assert response.status == 401
    response = await shop.client.post("/v1/auth/password/reset",
                                      json={"token": token, "password": "short"})
    assert response.status == 422

    response = await shop.client.post("/v1/auth/password/reset",
                                      json={"token": token, "password": NEW_PASSWORD})
    assert response.status == 204, await response.text()

    assert (await login(shop, email, PASSWORD)).status == 401
    fresh = await tokens(shop, email, NEW_PASSWORD)
    for device in (laptop, phone):
        assert (await shop.client.get("/v1/me", headers=auth_of(device))).status == 401
        response = await shop.client.post("/v1/auth/refresh",
                                          json={"refresh_token": device["refresh_token"]})
        assert response.status == 401
    assert (await shop.client.get("/v1/me", headers=auth_of(fresh))).status == 200
    # The link reached the inbox, so the address counts as verified.
    me = await (await shop.client.get("/v1/me", headers=auth_of(fresh))).json()
    assert me["email_verified"] is True

    # The same link a second time: refused, and the password stays.
    response = await shop.client.post("/v1/auth/password/reset",
                                      json={"token": token, "password": "yet another one!"})
    assert response.status == 401
    assert "used already" in (await response.json())["detail"]
    assert (await login(shop, email, NEW_PASSWORD)).status == 200
    assert (await login(shop, email, "yet another one!")).status == 401

    evidence = await t.EvidenceRecord.select().where(
        t.EvidenceRecord.kind == "account.password_reset")
    assert len(evidence) == 1
    assert json.loads(evidence[0]["payload"])["sessions_revoked"] >= 2

    # The same answer for an address without an account, and nothing is sent to it.
    sent_before = len(shop.container.notifier().sent)
    response = await shop.client.post("/v1/auth/password/forgot",
                                      json={"email": "nobody@example.com"})
    assert response.status == 202 and await response.json() == answer
    # what is no address at all is refused as such (it says nothing about any account)
    response = await shop.client.post("/v1/auth/password/forgot",
                                      json={"email": "not-an-address"})
    assert response.status == 422
    await outbox_drained()
    assert len(shop.container.notifier().sent) == sent_before
    assert not [n for n in shop.container.notifier().sent
                if n.recipient in ("nobody@example.com", "not-an-address")]

    # No token in any table (outbox payloads, evidence...) or log line.
    secrets = {"reset token": token, **{
        f"{name} {kind}": device[kind] for name, device in
        (("laptop", laptop), ("phone", phone), ("fresh", fresh))
        for kind in ("access_token", "refresh_token")}}
    found = await scan_tables(secrets)
    assert not found, "\n".join(map(str, found))
    logged = scan_logs(caplog.records, secrets)
    assert not logged, "\n".join(map(str, logged))
    notes = [r.getMessage() for r in caplog.records if r.name == "mall.notify"]
    # The dev mailbox's line names the message, never its link.
    assert any("[password_reset]" in line and "token=" not in line for line in notes)


async def test_a_second_reset_link_replaces_the_first_once_used(shop: Any) -> None:
    email, _ = await signed_up(shop, "twice")
    await shop.client.post("/v1/auth/password/forgot", json={"email": email})
    first = token_of(await emailed_link(shop, email, "password_reset"))
    await shop.client.post("/v1/auth/password/forgot", json={"email": email})
    second = token_of(await emailed_link(shop, email, "password_reset", after=1))
    response = await shop.client.post("/v1/auth/password/reset",
                                      json={"token": second, "password": NEW_PASSWORD})
    assert response.status == 204
    # The password changed, so every link minted for the old one is dead.
    response = await shop.client.post("/v1/auth/password/reset",
                                      json={"token": first, "password": "yet another one!"})
    assert response.status == 401


# --- 6. the sign-in funnel --------------------------------------------------------------------


async def test_the_auth_report_counts_the_funnel_by_provider_and_channel_without_personal_data(
    shop: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    tag = uuid.uuid4().hex[:6]
    admin = await admin_of(shop)
    campaign = {"utm_source": "newsletter", "utm_campaign": "bf"}

    # From the newsletter: a sign-up, a later sign-in, and one cancelled at the provider.
    status, ann = await sandbox_sign_in(shop, f"ann-{tag}", **campaign)
    assert status == 201 and ann["created"], ann
    status, again = await sandbox_sign_in(shop, f"ann-{tag}", **campaign)
    assert status == 200 and again["customer_id"] == ann["customer_id"]
    start = await shop.client.get("/v1/auth/sandbox/start?utm_source=Newsletter&utm_campaign=BF",
                                  allow_redirects=False)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    cancelled = await shop.client.get("/v1/auth/sandbox/callback",
                                      params={"state": state, "error": "access_denied"})
    assert cancelled.status == 401
    # Direct: a sign-up, and a callback whose state we never issued.
    status, ben = await sandbox_sign_in(shop, f"ben-{tag}")
    assert status == 201 and ben["created"], ben
    forged = await shop.client.get("/v1/auth/sandbox/callback",
                                   params={"state": "forged", "code": "x"})
    assert forged.status == 401
    assert (await forged.json())["type"] == "/problems/sign-in-refused"
    # And a wrong password.
    assert (await login(shop, "nobody@example.com", "wrong password!")).status == 401

    today = datetime.now(UTC).date()
    response = await shop.client.get(f"/v1/admin/analytics/auth?from={today.isoformat()}",
                                     headers=admin)
    assert response.status == 200, await response.text()
    text = await response.text()
    report = json.loads(text)
    groups = {(g["provider"], g["channel"]): g for g in report["groups"]}
    newsletter = groups["sandbox", "newsletter"]
    assert (newsletter["started"], newsletter["succeeded"], newsletter["failed"],
            newsletter["signed_up"]) == (3, 2, 1, 1)
    assert newsletter["signup_conversion"] == round(1 / 3, 4)
    assert newsletter["success_rate"] == round(2 / 3, 4)
    assert newsletter["campaigns"] == {"bf": 1}
    assert newsletter["failure_reasons"] == {"access_denied": 1}
    direct = groups["sandbox", ""]
    assert (direct["started"], direct["succeeded"], direct["failed"],
            direct["signed_up"]) == (1, 1, 1, 1)
    assert direct["signup_conversion"] == 1.0 and direct["campaigns"] == {}
    assert direct["failure_reasons"] == {"state_mismatch": 1}
    password = groups["password", ""]
    assert password["succeeded"] == 1 and password["failed"] == 1  # the admin; the stranger
    assert password["failure_reasons"] == {"wrong_credentials": 1}

    # A range without events, the end exclusive.
    tomorrow = (today + timedelta(days=1)).isoformat()
    response = await shop.client.get(
        f"/v1/admin/analytics/auth?from={tomorrow}&to={(today + timedelta(days=2))}",
        headers=admin)
    assert response.status == 200 and (await response.json())["groups"] == []

    # Counts only: no address, no customer id, only pseudonyms, in the report, the events
    # sent, the funnel's table and the log.
    await outbox_drained()
    await shop.container.analytics_service().flush()  # the events queued for analytics
    ids = {"ann id": ann["customer_id"], "ben id": ben["customer_id"]}
    personal = {**ids, "ann email": f"ann-{tag}@sandbox-id.example",
                "ben email": f"ben-{tag}@sandbox-id.example", "ann": f"ann-{tag}",
                "ben": f"ben-{tag}"}
    assert not [label for label, value in personal.items() if value in text]
    sent = analytics_lines(caplog.records)
    assert {"Login Started", "Login Succeeded", "Login Failed", "Signed Up"} <= {
        e["event"] for e in sent}
    for event in sent:
        line = json.dumps(event)
        assert not [label for label, value in personal.items() if value in line], line
        assert event["anonymousId"].startswith("anon_")
    funnel = await t.AuthEvent.select()
    assert not await scan_tables(personal, [t.AuthEvent])
    assert all(row["anon_id"] == "" or row["anon_id"].startswith("anon_") for row in funnel)
    assert all(row["flow"] == "" or row["flow"].startswith("anon_") for row in funnel)
    # The funnel's pseudonyms are the ones the analytics events carry.
    anon = {row["anon_id"] for row in funnel if row["anon_id"]}
    assert len(anon) == 2 and anon <= {e["anonymousId"] for e in sent}
    signed_up = [e for e in sent if e["event"] == "Signed Up"
                 and e["properties"].get("channel") == "newsletter"]
    assert signed_up and signed_up[0]["properties"]["campaign"] == "bf"


async def test_the_auth_report_is_for_admins_and_needs_valid_dates(shop: Any) -> None:
    customer, admin = await shop.sign_up(), await admin_of(shop)
    today = datetime.now(UTC).date().isoformat()
    response = await shop.client.get(f"/v1/admin/analytics/auth?from={today}",
                                     headers=customer)
    assert response.status == 403
    assert (await shop.client.get(f"/v1/admin/analytics/auth?from={today}")).status == 401
    for query in ("from=yesterday", f"from={today}&to=soon", "", "from=2026-13-40",
                  f"from={today}&to={today}"):
        response = await shop.client.get(f"/v1/admin/analytics/auth?{query}", headers=admin)
        assert response.status == 400, (query, await response.text())
        assert (await response.json())["detail"]
    response = await shop.client.get(
        f"/v1/admin/analytics/auth?from={today}T00:00:00%2B09:00", headers=admin)
    assert response.status == 200


async def test_the_emailed_link_opens_as_a_page_and_can_be_sent_again(
    shop: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    email, auth = await signed_up(shop, "click")
    response = await shop.client.post("/v1/auth/email/verification", headers=auth)
    assert response.status == 202  # sent again
    await outbox_drained()
    link = await emailed_link(shop, email, "verify_email")
    clicked = await shop.client.get(local(link))  # the customer clicks the link
    assert clicked.status == 200 and (await clicked.json())["email_verified"] is True
    again = await shop.client.post("/v1/auth/email/verification", headers=auth)
    assert again.status == 200 and (await again.json())["status"] == "already verified"
    # The access log names the path, never the query that carried the token.
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/v1/auth/email/verify" in line for line in access)
    assert not [line for line in access if "token=" in line]
    reset_page = await shop.client.get("/v1/auth/password/reset?token=whatever-token")
    assert reset_page.status == 200 and "POST /v1/auth/password/reset" in (
        await reset_page.json())["next"]


async def test_password_sign_ups_count_and_links_are_not_sign_in_attempts(shop: Any) -> None:
    admin = await admin_of(shop)
    before = datetime.now(UTC) - timedelta(seconds=1)
    auth = await shop.sign_up(verified=True)
    response = await shop.client.post("/v1/me/identities/sandbox", headers=auth)
    assert response.status == 200
    report = await (await shop.client.get(
        f"/v1/admin/analytics/auth?from={before.isoformat().replace('+', '%2B')}",
        headers=admin)).json()
    groups = {(g["provider"], g["channel"]): g for g in report["groups"]}
    assert groups[("password", "")]["signed_up"] >= 1
    # Starting to link a provider is not a sign-in: it does not dilute the conversion.
    assert ("sandbox", "") not in groups or groups[("sandbox", "")]["started"] == 0


async def test_two_refreshes_racing_with_one_token_leave_one_winner_and_a_revoked_family(
    shop: Any,
) -> None:
    import asyncio

    email, _ = await signed_up(shop, "race")
    login = await (await shop.client.post("/v1/auth/login", json={
        "email": email, "password": "correct horse battery"})).json()
    answers = await asyncio.gather(*[
        shop.client.post("/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
        for _ in range(2)])
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200, 401], statuses  # never two live successors of one token
    [winner] = [await a.json() for a in answers if a.status == 200]
    again = await shop.client.post("/v1/auth/refresh",
                                   json={"refresh_token": winner["refresh_token"]})
    assert again.status == 401  # the reuse revoked the whole family, the winner's too


async def test_the_auth_report_refuses_dates_out_of_range(shop: Any) -> None:
    admin = await admin_of(shop)
    for query in ("from=9999-12-31T23:59:59-12:00", "from=0001-01-01T00:00:00%2B14:00"):
        response = await shop.client.get(f"/v1/admin/analytics/auth?{query}", headers=admin)
        assert response.status == 400, (query, await response.text())
