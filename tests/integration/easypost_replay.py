"""EasyPost's own cassettes (recorded by its official Python client in test mode) replayed
through a real EasyPostCarrier over OutboundHttp: no network, every exchange must match."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import vcr
from vcr.request import Request

from adapters.shipping.easypost import EasyPostCarrier
from tests.helpers import RecordingLedger
from tests.integration.replay_http import replaying_http

CASSETTES = Path(__file__).parent.parent / "cassettes" / "easypost"
# The cassettes' authorization header was redacted by EasyPost: any key replays them.
LOCAL_API_KEY = "EZTK_local_stand_in_5e1f"
WEBHOOK_SECRETS = ["sécret"]
ORIGIN = {"company": "Mall Shipping Desk", "street1": "388 Townsend St", "city": "San Francisco",
          "state": "CA", "zip": "94107", "country": "US"}


def _parsed(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return None
    if isinstance(body, dict | list):  # vcrpy's aiohttp stub keeps `json=` as given
        return body
    try:
        return json.loads(body)
    except ValueError:
        return body


def json_body(r1: Request, r2: Request) -> None:
    """The bodies as JSON documents, key order aside: the recorded one is text, while vcrpy's
    aiohttp stub hands over our `json=` argument as the object itself, which its own body
    matcher would never find equal."""
    assert _parsed(r1.body) == _parsed(r2.body), f"{r1.body!r} != {r2.body!r}"


def easypost_vcr() -> vcr.VCR:
    recorder = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none",
                       match_on=["method", "host", "path", "query", "json_body"])
    recorder.register_matcher("json_body", json_body)
    return recorder


@asynccontextmanager
async def replayed(cassette: str, origin: dict[str, str] | None = None,
                   ) -> AsyncIterator[tuple[EasyPostCarrier, RecordingLedger]]:
    """A carrier whose calls are answered from `cassette`, all of whose exchanges must be
    played by the end."""
    ledger = RecordingLedger()
    with easypost_vcr().use_cassette(f"{cassette}.yaml") as played:
        async with replaying_http(ledger) as http:
            yield EasyPostCarrier(http, ledger, LOCAL_API_KEY, WEBHOOK_SECRETS,
                                  origin=origin), ledger
        assert played.all_played, f"{cassette}: not every recorded exchange was replayed"



# EasyPost's test fixtures, as its own suite sends them (tests/conftest.py there).
JACK = {"name": "Jack Sparrow", "street1": "388 Townsend St", "street2": "Apt 20",
        "city": "San Francisco", "state": "CA", "zip": "94107", "country": "US",
        "email": "test@example.com", "phone": "5555555555"}
ELIZABETH = {"name": "Elizabeth Swan", "street1": "179 N Harbor Dr", "city": "Redondo Beach",
             "state": "CA", "zip": "90277", "country": "US", "email": "test@example.com",
             "phone": "5555555555"}
PARCEL = {"length": 10, "width": 8, "height": 4, "weight": 15.4}
CUSTOMS_INFO = {
    "eel_pfc": "NOEEI 30.37(a)", "customs_certify": True, "customs_signer": "Steve Brule",
    "contents_type": "merchandise", "contents_explanation": "", "restriction_type": "none",
    "non_delivery_option": "return",
    "customs_items": [{"description": "Sweet shirts", "quantity": 2, "weight": 11,
                       "value": 23.25, "hs_tariff_number": "654321", "origin_country": "US"}],
}
FULL_SHIPMENT = {"from_address": JACK, "to_address": ELIZABETH, "parcel": PARCEL,
                 "customs_info": CUSTOMS_INFO,
                 "options": {"label_format": "PNG", "invoice_number": "123"}, "reference": "123"}
# One call that creates and buys: a carrier account and service named up front.
ONE_CALL_BUY = {"to_address": JACK, "from_address": ELIZABETH, "parcel": PARCEL,
                "service": "GroundAdvantage", "carrier": "USPS",
                "carrier_accounts": ["ca_b25657e9896e4d63ac8151ac346ac41e"]}
