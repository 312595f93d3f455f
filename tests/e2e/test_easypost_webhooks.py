"""EasyPost enabled by configuration: its signed webhooks reach /v1/webhooks/easypost, are kept
once with their evidence, and a copy whose signature does not match is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bootstrap
from adapters.persistence.tables import EvidenceRecord, InboxMessage
from adapters.shipping.easypost_tracking import signature
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)
FIXTURES = Path(__file__).parent.parent / "cassettes" / "easypost"
BODY = (FIXTURES / "event-body.json").read_bytes().rstrip(b"\n")
HOOK = json.loads((FIXTURES / "webhook-fixture.json").read_text())["webhooks"]
EASYPOST = {"carriers": ["sandbox-express", "easypost"], "easypost_api_key": "EZTK_unused",
            "easypost_webhook_secrets": ["whsec_next", HOOK["secret"]]}


async def settled(event_id: str) -> str:
    """How the worker ended an EasyPost event kept in the inbox."""

    async def outcome() -> str | None:
        row = await InboxMessage.select(InboxMessage.status).where(
            (InboxMessage.provider == "easypost") & (InboxMessage.event_id == event_id)).first()
        done = row is not None and row["status"] not in ("received", "processing")
        return row["status"] if done else None

    return await eventually(outcome, what=f"the worker to settle {event_id}")


def test_mall_carriers_enables_easypost(monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("MALL_CARRIERS", '["sandbox-express","easypost"]')
    monkeypatch.setenv("MALL_EASYPOST_API_KEY", "EZTK_unused")
    monkeypatch.setenv("MALL_EASYPOST_WEBHOOK_SECRETS", '["whsec_one"]')
    settings = bootstrap.Settings(_env_file=None,  # type: ignore[call-arg]
                                  sqlite_path=str(tmp_path / "mall.sqlite"))
    assert sorted(bootstrap.build(settings).carriers()) == ["easypost", "sandbox-express"]
    monkeypatch.delenv("MALL_EASYPOST_API_KEY")
    with pytest.raises(ValueError, match="MALL_EASYPOST_API_KEY"):
        bootstrap.Settings(_env_file=None)  # type: ignore[call-arg]


async def test_the_official_webhook_is_accepted_once_and_a_forged_one_refused(
        shop_factory: Any) -> None:
    shop = await shop_factory(**EASYPOST)
    headers = {"X-Hmac-Signature": HOOK["hmac_signature"], "Content-Type": "application/json"}
    first = await shop.client.post("/v1/webhooks/easypost", data=BODY, headers=headers)
    again = await shop.client.post("/v1/webhooks/easypost", data=BODY, headers=headers)
    assert (first.status, again.status) == (200, 200)
    assert [(await r.json())["status"] for r in (first, again)] == ["accepted", "duplicate"]
    forged = BODY.replace(b'"in_transit"', b'"delivered"', 1)
    refused = await shop.client.post("/v1/webhooks/easypost", data=forged, headers=headers)
    unsigned = await shop.client.post("/v1/webhooks/easypost", data=BODY)
    assert (refused.status, unsigned.status) == (400, 400)
    [stored] = await InboxMessage.select().where(InboxMessage.provider == "easypost")
    assert (stored["event_id"], stored["kind"]) == ("evt_1", "tracker.updated")
    kept = await EvidenceRecord.select(EvidenceRecord.context).where(
        (EvidenceRecord.source == "easypost") & (EvidenceRecord.kind == "webhook.received"))
    assert [json.loads(row["context"])["event_id"] for row in kept] == ["evt_1"]


async def test_a_tracker_we_do_not_know_is_set_aside_for_operators(shop_factory: Any) -> None:
    shop = await shop_factory(**EASYPOST, inbox_give_up_after_seconds=0)
    response = await shop.client.post("/v1/webhooks/easypost", data=BODY, headers={
        "X-Hmac-Signature": HOOK["hmac_signature"]})
    assert response.status == 200
    assert await settled("evt_1") == "unmatched"


async def test_a_refund_event_is_kept_and_acknowledged(shop_factory: Any) -> None:
    shop = await shop_factory(**EASYPOST)
    body = json.dumps({"id": "evt_refund_1", "object": "Event", "description": "refund.successful",
                       "result": {"object": "Refund", "id": "rfnd_1", "status": "refunded",
                                  "tracking_code": "9400100208303109505688"}}).encode()
    response = await shop.client.post("/v1/webhooks/easypost", data=body, headers={
        "X-Hmac-Signature": signature("whsec_next", body)})
    assert response.status == 200 and (await response.json())["status"] == "accepted"
    assert await settled("evt_refund_1") == "ignored"  # recorded; no shipment moves


async def test_who_signed_and_where_the_parcel_was_are_not_kept(shop_factory: Any) -> None:
    """The inbox copy and the evidence of a tracker event hold no signer's name and no place
    down to the recipient's city and postcode."""
    shop = await shop_factory(**EASYPOST)
    event = json.loads(BODY)
    place = {"object": "TrackingLocation", "city": "BROOKLYN HEIGHTS", "state": "NY",
             "country": "US", "zip": "11201"}
    tracker = event["result"]
    tracker["signed_by"] = "GRACE HOPPER"
    tracker["carrier_detail"] = {**(tracker.get("carrier_detail") or {}),
                                 "destination_location": "BROOKLYN HEIGHTS NY 11201",
                                 "origin_tracking_location": place}
    for detail in tracker["tracking_details"]:
        detail["tracking_location"] = place
    event["id"] = "evt_personal_1"
    body = json.dumps(event).encode()
    response = await shop.client.post("/v1/webhooks/easypost", data=body, headers={
        "X-Hmac-Signature": signature(HOOK["secret"], body)})
    assert response.status == 200, await response.text()
    kept = json.dumps([dict(row) for row in await InboxMessage.select()]
                      + [dict(row) for row in await EvidenceRecord.select()], default=str)
    assert "evt_personal_1" in kept
    for personal in ("GRACE HOPPER", "BROOKLYN", "11201"):
        assert personal not in kept
