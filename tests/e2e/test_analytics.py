"""Analytics through the HTTP app: the storefront's milestones and the server's own reach the
Segment and GA4 stand-ins in their documented batch formats, pseudonymous; personal data is
refused at the edge; without the opt-in its jurisdiction requires, nothing of a customer is
sent; the admin funnel counts the milestones."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.identity_steps import admin_of, bearer
from tests.helpers import ORDER, PAID_OR_LATER, eventually, work_done
from tests.integration.analytics_standins import Ga4StandIn, SegmentStandIn

WRITE_KEY, MEASUREMENT_ID, API_SECRET = "wk_e2e_test", "G-E2E", "mp_e2e_secret_123456"


@pytest.fixture
async def stand_ins(aiohttp_server: Any) -> tuple[SegmentStandIn, Ga4StandIn, str, str]:
    segment, ga4 = SegmentStandIn(WRITE_KEY), Ga4StandIn(MEASUREMENT_ID, API_SECRET)
    segment_server = await aiohttp_server(segment.application())
    ga4_server = await aiohttp_server(ga4.application())
    return segment, ga4, str(segment_server.make_url("")), str(ga4_server.make_url(""))


@pytest.fixture
async def shop(shop_factory: Callable[..., Any], stand_ins: Any) -> Any:
    _, _, segment_url, ga4_url = stand_ins
    return await shop_factory(
        analytics_providers=["segment", "ga4"], segment_url=segment_url,
        segment_write_key=WRITE_KEY, ga4_url=ga4_url, ga4_measurement_id=MEASUREMENT_ID,
        ga4_api_secret=API_SECRET, analytics_flush_interval_seconds=0.2)


async def _customer(shop: Any, country: str | None = None) -> tuple[dict[str, str], str]:
    email = f"c{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "correct horse battery",
            **({"country": country} if country else {})}
    response = await shop.client.post("/v1/auth/register", json=body)
    assert response.status == 201, await response.text()
    auth = await bearer(shop, email, "correct horse battery")
    me = await (await shop.client.get("/v1/me", headers=auth)).json()
    return auth, me["id"]


async def _milestone(shop: Any, auth: dict[str, str], event: str,
                     **properties: Any) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post("/v1/events", headers=auth,
                                      json={"event": event, "properties": properties})
    return response.status, await response.json()


async def test_milestones_reach_segment_and_ga4_in_their_formats(shop: Any,
                                                                 stand_ins: Any) -> None:
    segment, ga4, _, _ = stand_ins
    auth, customer_id = await _customer(shop)
    status, answer = await _milestone(shop, auth, "Checkout Started", item_count=3,
                                      value_minor=39000, currency="KRW")
    assert status == 202, answer
    assert (await _milestone(shop, auth, "Coupon Applied", coupon="WELCOME10"))[0] == 202
    order = await shop.place(auth, ORDER)
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status in (200, 201, 202)

    async def everything_sent() -> bool:
        # By name at both services: a count could be reached by a batch sent twice.
        names = {call["event"] for call in segment.calls}
        return {"Signed Up", "Checkout Started", "Coupon Applied", "Order Placed",
                "Order Completed"} <= names and {"signed_up", "checkout_started",
                                                 "coupon_applied", "order_placed",
                                                 "order_completed"} <= {
            e["name"] for e in ga4.events}

    await eventually(everything_sent, timeout=30, what="the milestones at both services")
    assert (await shop.order(auth, order["id"]))["status"] in PAID_OR_LATER
    assert segment.violations == [] and ga4.violations == []
    # Each event once per service, under its outbox message id; nobody's ids in the clear.
    ids = [call["messageId"] for call in segment.calls]
    assert len(ids) == len(set(ids)) and answer["message_id"] in ids
    sent = json.dumps(segment.batches) + json.dumps(ga4.bodies)
    assert customer_id not in sent and order["id"] not in sent and "@example.com" not in sent
    anonymous = {call["anonymousId"] for call in segment.calls}
    assert len(anonymous) == 1 and anonymous == {body["client_id"] for body in ga4.bodies}
    assert {e["name"] for e in ga4.events} >= {"checkout_started", "coupon_applied",
                                               "order_placed", "order_completed"}

    admin = await admin_of(shop)
    response = await shop.client.get("/v1/admin/analytics/funnel?from=2026-01-01",
                                     headers=admin)
    assert response.status == 200, await response.text()
    steps = {step["event"]: step["count"] for step in (await response.json())["steps"]}
    assert steps["Checkout Started"] == 1 and steps["Order Placed"] == 1
    assert (await shop.client.get("/v1/admin/analytics/funnel?from=2026-01-01",
                                  headers=auth)).status == 403


async def test_personal_data_and_events_off_the_plan_are_refused(shop: Any) -> None:
    auth, _ = await _customer(shop)
    # An email cannot even be a code; a phone number can, and the privacy filter refuses it.
    status, problem = await _milestone(shop, auth, "Coupon Applied", coupon="ada@example.com")
    assert status == 422 and "'coupon' must be code" in problem["detail"]
    assert problem["allowed"]["properties"]["coupon"] == "code (required)"
    status, problem = await _milestone(shop, auth, "Coupon Applied", coupon="010-1234-5678")
    assert status == 422 and "personal data" in problem["detail"]
    assert "holds a phone" in problem["detail"]
    status, problem = await _milestone(shop, auth, "Support Contacted", channel="chat",
                                       email="ada")
    assert status == 422 and "'email' is not a property" in problem["detail"]
    status, problem = await _milestone(shop, auth, "Order Placed")
    assert status == 422 and "Checkout Started" in problem["allowed"]["events"]
    status, problem = await _milestone(shop, auth, "Coupon Applied", coupon="4111111111111111")
    assert status in (400, 422) and "card number" in problem["detail"]
    response = await shop.client.post("/v1/events", json={"event": "Checkout Started"})
    assert response.status == 401


async def test_without_consent_nothing_of_a_korean_customer_is_sent(shop: Any,
                                                                   stand_ins: Any) -> None:
    segment, ga4, _, _ = stand_ins
    auth, customer_id = await _customer(shop, country="KR")
    assert (await _milestone(shop, auth, "Checkout Started", item_count=1))[0] == 202
    await shop.place(auth, ORDER)
    await eventually(work_done, what="the outbox to drain")
    await shop.container.analytics_service().flush()
    assert segment.calls == [] and ga4.events == []  # not even their sign-up
    anonymous_id = shop.container.analytics_policy().keys.hash(customer_id)

    granted = await shop.client.put("/v1/me/consents", headers=auth,
                                    json={"consents": {"analytics": True}})
    assert granted.status == 200, await granted.text()
    status, answer = await _milestone(shop, auth, "Checkout Started", item_count=1)
    assert status == 202, answer

    async def arrived() -> bool:
        return any(c["messageId"] == answer["message_id"] for c in segment.calls)

    await eventually(arrived, what="the consented milestone at Segment")
    assert [(c["event"], c["anonymousId"]) for c in segment.calls] == [
        ("Checkout Started", anonymous_id)]


async def test_dead_letters_are_counted_and_replayed(shop: Any, stand_ins: Any) -> None:
    segment, _, _, _ = stand_ins
    segment.fail_next = [400]
    auth, _ = await _customer(shop)
    admin = await admin_of(shop)

    async def dead() -> dict[str, int]:
        response = await shop.client.get("/v1/admin/analytics/dead-letters", headers=admin)
        counts: dict[str, int] = (await response.json())["dead_letters"]
        return counts if counts.get("segment") else {}

    assert (await eventually(dead, what="a dead letter"))["segment"] >= 1
    response = await shop.client.post(
        "/v1/admin/analytics/dead-letters/replay?destination=segment", headers=admin)
    assert response.status == 200 and (await response.json())["replayed"]["segment"] >= 1

    async def signed_up() -> bool:
        return any(call["event"] == "Signed Up" for call in segment.calls)

    await eventually(signed_up, what="the replayed events at Segment")
    assert auth
