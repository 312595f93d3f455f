"""The drift check on one answer, and the pinned contracts held against the providers' own
OpenAPI descriptions where those are at hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.provider_contracts import (
    CONTRACTS,
    EASYPOST_TRACKER_STATUSES,
    STRIPE_INTENT_STATUSES,
    TWILIO_MESSAGE_STATUSES,
)
from domain.provider_drift import Drift, drifts_in

# Beside the checkout, or where the team's shared folder is mounted.
SPECS = next((p for p in (Path(__file__).resolve().parents[3] / "shared/provider-specs",
                          Path("/work/shared/provider-specs")) if p.is_dir()),
             Path("/nonexistent"))
TRACKER = {"id": "trk_1", "object": "Tracker", "tracking_code": "EZ1", "status": "in_transit"}


def check(provider: str, method: str, path: str, body: Any,
          headers: dict[str, str] | None = None) -> list[Drift]:
    return drifts_in(CONTRACTS, provider, method, path, headers or {}, body)


def test_an_answer_as_pinned_has_no_drift() -> None:
    assert check("easypost", "GET", "/v2/trackers/trk_1", TRACKER) == []
    assert check("easypost", "POST", "/v2/trackers", {**TRACKER, "new_field": 1}) == []


def test_unknown_values_and_missing_fields_are_drift() -> None:
    assert check("easypost", "GET", "/v2/trackers/trk_1", {**TRACKER, "status": "lost"}) == [
        Drift("unknown_value", "status", "lost")]
    missing = {key: value for key, value in TRACKER.items() if key != "tracking_code"}
    assert check("easypost", "POST", "/v2/trackers", missing) == [
        Drift("missing_field", "tracking_code")]
    assert check("delivery-tracker", "POST", "/graphql", {"data": {"track": {"lastEvent": {
        "status": {"code": "HANDED_TO_NEIGHBOUR"}}}}}) == [
        Drift("unknown_value", "data.track.lastEvent.status.code", "HANDED_TO_NEIGHBOUR")]


def test_another_provider_path_or_method_is_not_held_to_the_contract() -> None:
    odd = {"status": "lost"}
    assert check("stripe", "GET", "/v2/trackers/trk_1", odd) == []
    assert check("easypost", "DELETE", "/v2/trackers/trk_1", odd) == []
    assert check("easypost", "GET", "/v2/addresses/adr_1", odd) == []


def test_an_announced_end_is_drift_on_any_answer() -> None:
    found = check("acme", "GET", "/anything", None,
                  {"sunset": "Sat, 31 Dec 2027 23:59:59 GMT", "Deprecation": "@1798761599"})
    assert [(d.kind, d.where) for d in found] == [("deprecation", "Deprecation"),
                                                   ("sunset", "Sunset")]
    assert len({d.signature for d in found}) == 2


def test_the_tracker_statuses_are_those_the_issue_of_easypost_names() -> None:
    assert EASYPOST_TRACKER_STATUSES == {
        "pre_transit", "in_transit", "out_for_delivery", "delivered", "available_for_pickup",
        "return_to_sender", "failure", "cancelled", "error", "unknown"}


def test_stripe_statuses_are_those_of_its_openapi_description() -> None:
    spec_file = SPECS / "stripe_spec3_2023-09-12.yaml"
    if not spec_file.is_file():
        pytest.skip("Stripe's OpenAPI description is not at hand (shared/provider-specs)")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec_file.open("rb") as handle:
        schemas = yaml.load(handle, Loader=loader)["components"]["schemas"]  # noqa: S506
    intent = schemas["payment_intent"]
    assert set(intent["properties"]["status"]["enum"]) == STRIPE_INTENT_STATUSES
    pinned = next(c for c in CONTRACTS if c.provider == "stripe" and c.method == "GET")
    assert set(pinned.required) <= set(intent["required"])


def test_twilio_statuses_are_those_of_its_openapi_description() -> None:
    spec_file = SPECS / "twilio_api_v2010.json"
    if not spec_file.is_file():
        pytest.skip("Twilio's OpenAPI description is not at hand (shared/provider-specs)")
    schemas = json.loads(spec_file.read_text())["components"]["schemas"]
    assert set(schemas["message_enum_status"]["enum"]) == TWILIO_MESSAGE_STATUSES
