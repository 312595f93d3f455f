"""The campaigns admin API on the running app: an operator defines a campaign, the in-process
worker sends it, and its figures, cancellation and refusals read as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.customers import Role
from tests.helpers import eventually

FAST_CAMPAIGNS = {"campaign_send_interval_seconds": 0.2}
TEA = {"title": "Jeju tea, 20% off", "message": "Every green tea from Jeju, this week only."}


async def _admin(shop: Any) -> dict[str, str]:
    await shop.container.accounts().register("ops@example.com", "admin password 1",
                                             role=Role.ADMIN)
    response = await shop.client.post("/v1/auth/login", json={
        "email": "ops@example.com", "password": "admin password 1"})
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def _customer(shop: Any, consents: dict[str, bool]) -> str:
    auth = await shop.sign_up()
    customer_id = str((await (await shop.client.get("/v1/me", headers=auth)).json())["id"])
    # Night-time consent too, so the test does not depend on the hour it runs at.
    await shop.container.accounts().set_consents(customer_id, consents)
    return customer_id


async def test_an_operator_defines_a_campaign_and_follows_it_to_the_end(
    shop_factory: Any,
) -> None:
    shop = await shop_factory(**FAST_CAMPAIGNS)
    admin = await _admin(shop)
    reached = await _customer(shop, {"marketing_email": True, "marketing_night": True})
    await _customer(shop, {"marketing_email": False})

    response = await shop.client.post("/v1/admin/campaigns", headers=admin, json={
        "name": "Winter tea", "channel": "email", "template": "promotion",
        "params": TEA, "send_at": datetime.now(UTC).isoformat()})
    assert response.status == 201, await response.text()
    campaign = await response.json()
    assert campaign["status"] == "scheduled" and campaign["channel"] == "email"

    async def done() -> dict[str, Any] | None:
        view = await (await shop.client.get(f"/v1/admin/campaigns/{campaign['id']}",
                                            headers=admin)).json()
        return view if view["status"] == "done" and view["figures"]["queued"] == 0 else None

    view = await eventually(done, timeout=30, what="the campaign sent and settled")
    assert view is not None
    assert view["recipients"] == 1 and view["progress"] == 1.0
    assert view["figures"] == {"pending": 0, "queued": 0, "sent": 1, "failed": 0,
                               "skipped": 0}
    assert view["deliveries"] == {"sent": 1}
    # The recipient's promotion, rendered from the text the campaign was defined with.
    [mail] = await shop.container.notifier().messages(template="promotion")
    assert mail.message_id == f"cmp:{campaign['id']}:{reached}" and mail.channel == "email"
    assert TEA["title"] in mail.subject and TEA["message"] in mail.text

    response = await shop.client.post(f"/v1/admin/campaigns/{campaign['id']}/cancel",
                                      headers=admin)
    assert response.status == 409
    assert "a done campaign cannot become cancelled" in (await response.json())["detail"]

    listed = await (await shop.client.get("/v1/admin/campaigns", headers=admin)).json()
    assert [c["id"] for c in listed["campaigns"]] == [campaign["id"]]
    assert reached  # the one consenting customer was the audience


async def test_a_draft_is_scheduled_then_cancelled_before_its_time(shop: Any) -> None:
    admin = await _admin(shop)
    response = await shop.client.post("/v1/admin/campaigns", headers=admin, json={
        "name": "Lunar new year", "channel": "sms", "params": TEA,
        "audience": {"jurisdictions": ["KR"], "languages": ["ko"],
                     "ordered_since": "2026-01-01"}})
    assert response.status == 201, await response.text()
    draft = await response.json()
    assert draft["status"] == "draft" and draft["send_at"] is None
    assert draft["audience"] == {"jurisdictions": ["KR"], "languages": ["ko"],
                                 "ordered_since": "2026-01-01"}
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    response = await shop.client.post(f"/v1/admin/campaigns/{draft['id']}/schedule",
                                      headers=admin, json={"send_at": later})
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "scheduled"
    response = await shop.client.post(f"/v1/admin/campaigns/{draft['id']}/cancel",
                                      headers=admin)
    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"
    evidence = await (await shop.client.get(
        f"/v1/admin/evidence?subject=campaign:{draft['id']}", headers=admin)).json()
    assert [r["kind"] for r in evidence["records"]] == [
        "campaign.defined", "campaign.scheduled", "campaign.cancelled"]


async def test_refusals_say_what_to_change(shop: Any) -> None:
    admin = await _admin(shop)
    customer = await shop.sign_up()
    body = {"name": "Tea", "channel": "email"}
    assert (await shop.client.post("/v1/admin/campaigns", json=body,
                                   headers=customer)).status == 403
    response = await shop.client.post("/v1/admin/campaigns", headers=admin,
                                      json={**body, "template": "order_paid"})
    assert response.status == 422
    assert "not a promotional message" in (await response.json())["detail"]
    response = await shop.client.post("/v1/admin/campaigns", headers=admin,
                                      json={**body, "channel": "fax"})
    assert response.status in (400, 422)
    response = await shop.client.post("/v1/admin/campaigns", headers=admin,
                                      json={**body, "send_at": "2026-12-24T10:00:00"})
    assert response.status in (400, 422)  # a time without its offset is ambiguous
    response = await shop.client.post("/v1/admin/campaigns", headers=admin,
                                      json={**body, "params": {"message_id": "x"}})
    assert response.status == 422 and "message_id" in (await response.json())["detail"]
    response = await shop.client.post("/v1/admin/campaigns", headers=admin,
                                      json={**body, "params": {"title": "Tea"}})
    assert response.status == 422
    assert "needs message" in (await response.json())["detail"]
    response = await shop.client.get("/v1/admin/campaigns/cmp_nope", headers=admin)
    assert response.status == 404
    document = await (await shop.client.get("/v1/openapi.json")).json()
    assert {"/v1/admin/campaigns", "/v1/admin/campaigns/{id}",
            "/v1/admin/campaigns/{id}/schedule", "/v1/admin/campaigns/{id}/cancel"} <= set(
        document["paths"])
