"""The EasyPost carrier replayed from EasyPost's own cassettes (its official Python client in
test mode): method, host, path, query and JSON body of every request must match, and every
recorded exchange must be played."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from domain.errors import DomainError
from domain.shipments import ShipmentStatus
from tests.integration.easypost_replay import (
    CUSTOMS_INFO,
    FULL_SHIPMENT,
    LOCAL_API_KEY,
    ONE_CALL_BUY,
    replayed,
)

UNKNOWN_PLACE = {"company": "EasyPost", "street1": "000 unknown street", "city": "Not A City",
                 "state": "ZZ", "zip": "00001", "country": "US", "email": "test@example.com",
                 "phone": "5555555555"}


async def test_an_address_is_created_then_verified_and_found_wanting() -> None:
    async with replayed("test_address_create_verify") as (carrier, ledger):
        unchecked = await carrier.create_address(UNKNOWN_PLACE)
        checked = await carrier.create_address(UNKNOWN_PLACE, verify=True)
    assert unchecked.id.startswith("adr_") and unchecked.verified is None
    assert checked.id.startswith("adr_") and checked.id != unchecked.id
    assert checked.verified is False and checked.problems == ("Address not found",)
    sent = [draft.payload["request"] for draft in ledger.drafts]
    assert [r["path"] for r in sent] == ["/v2/addresses", "/v2/addresses"]
    assert sent[1]["body"] == {"address": "[redacted]", "verify": True}


async def test_customs_info_is_declared() -> None:
    async with replayed("test_customs_info_create") as (carrier, _):
        customs_id = await carrier.create_customs_info(CUSTOMS_INFO)
    assert customs_id.startswith("cstinfo_")


async def test_a_shipment_with_customs_info_is_quoted() -> None:
    async with replayed("test_shipment_create") as (carrier, _):
        quote = await carrier.quote(FULL_SHIPMENT)
    assert quote.shipment_id.startswith("shp_")
    assert {(r.carrier, r.service) for r in quote.rates} >= {("USPS", "GroundAdvantage")}
    assert quote.tracking_code is None and quote.label_url is None


async def test_the_lowest_rate_is_chosen_among_those_quoted() -> None:
    async with replayed("test_shipment_lowest_rate") as (carrier, _):
        quote = await carrier.quote(FULL_SHIPMENT)
    lowest = quote.lowest_rate()
    assert lowest.amount == min(r.amount for r in quote.rates)
    assert (lowest.service, lowest.amount) == ("GroundAdvantage", Decimal("6.07"))
    assert quote.lowest_rate(services=["Priority"]).service == "Priority"
    with pytest.raises(DomainError, match="no rate"):
        quote.lowest_rate(carriers=["FedEx"])


async def test_the_lowest_rate_is_bought_for_a_label_and_a_tracking_code() -> None:
    async with replayed("test_shipment_buy") as (carrier, ledger):
        quote = await carrier.quote(FULL_SHIPMENT)
        bought = await carrier.buy_lowest(quote)
    assert bought.shipment_id == quote.shipment_id
    assert bought.selected_rate == quote.lowest_rate()
    assert bought.tracking_code == "9400100208303109505657"
    assert bought.label_url and bought.label_url.startswith("https://")
    assert bought.label_url.endswith(".png")
    buy = ledger.drafts[1].payload["request"]
    assert buy["path"] == f"/v2/shipments/{quote.shipment_id}/buy"
    assert buy["body"] == {"rate": {"id": bought.selected_rate.id}}  # type: ignore[union-attr]


async def test_a_label_is_voided() -> None:
    async with replayed("test_shipment_refund") as (carrier, _):
        bought = await carrier.quote(ONE_CALL_BUY)
        assert bought.tracking_code == "9400100208303109505688"
        status = await carrier.void_label(bought.shipment_id)
    assert status == "submitted"


async def test_labels_are_refunded_by_tracking_code() -> None:
    async with replayed("test_refund_create") as (carrier, _):
        bought = await carrier.quote(ONE_CALL_BUY)
        again = await carrier.shipment(bought.shipment_id)
        assert again.tracking_code == bought.tracking_code == "9400100208303109500775"
        refunds = await carrier.refund_labels("USPS", [again.tracking_code])
    assert refunds == {"9400100208303109500775": "submitted"}


async def test_a_tracker_is_created_and_translated() -> None:
    async with replayed("test_tracker_create") as (carrier, _):
        tracker = await carrier.create_tracker("EZ1000000001")
    assert tracker.id.startswith("trk_") and tracker.tracking_code == "EZ1000000001"
    assert (tracker.status, tracker.status_detail) == ("pre_transit", "status_update")
    assert tracker.update is not None
    assert tracker.update.tracking_number == "EZ1000000001"
    assert tracker.update.status == ShipmentStatus.CREATED


async def test_a_tracker_is_retrieved() -> None:
    async with replayed("test_tracker_retrieve") as (carrier, _):
        created = await carrier.create_tracker("EZ1000000001")
        found = await carrier.retrieve_tracker(created.id)
    assert found.id == created.id and found.tracking_code == "EZ1000000001"
    assert found.update is not None and found.update.status == ShipmentStatus.CREATED
    assert found.public_url and found.public_url.startswith("https://track.easypost.com/")


async def test_a_refusal_is_a_domain_error_with_easyposts_reasons() -> None:
    async with replayed("test_error") as (carrier, ledger):
        with pytest.raises(DomainError) as refused:
            await carrier.quote({})
    assert type(refused.value) is DomainError
    assert refused.value.detail == (
        "EasyPost refused to create the shipment: Missing required parameter. "
        "(shipment: cannot be blank) [PARAMETER.REQUIRED]")
    assert ledger.drafts[0].payload["response"]["status"] == 422


async def test_no_address_phone_or_key_reaches_the_evidence() -> None:
    async with replayed("test_shipment_buy") as (carrier, ledger):
        await carrier.buy_lowest(await carrier.quote(FULL_SHIPMENT))
    stored = json.dumps([draft.redacted()[:2] for draft in ledger.drafts])
    for personal in ("Jack Sparrow", "Elizabeth Swan", "388 Townsend", "179 N Harbor",
                     "5555555555", "test@example.com", "94107", "Redondo Beach"):
        assert personal not in stored
    assert LOCAL_API_KEY not in stored and "Basic " not in stored
    assert all(draft.raw is None for draft in ledger.drafts)  # the answers are not kept
    headers = ledger.drafts[0].payload["request"]["headers"]
    assert headers["Authorization"].startswith("Basic ")  # sent, then masked when stored
