"""EasyPost's webhooks: the official fixture (secret, body, signature from EasyPost/examples)
verifies, any single changed byte is refused, and EasyPost's own library agrees on every copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from easypost.util import validate_webhook

from adapters.shipping.easypost import EasyPostCarrier
from adapters.shipping.easypost_tracking import SIGNATURE_HEADER, signature
from domain.errors import InvalidSignature
from domain.shipments import ShipmentStatus

FIXTURES = Path(__file__).parent.parent / "cassettes" / "easypost"
BODY = (FIXTURES / "event-body.json").read_bytes().rstrip(b"\n")
HOOK = json.loads((FIXTURES / "webhook-fixture.json").read_text())["webhooks"]
SECRET, SIGNED = HOOK["secret"], HOOK["hmac_signature"]


def carrier(*secrets: str) -> EasyPostCarrier:
    return EasyPostCarrier(http=None, ledger=None, api_key="EZTK_unused",  # type: ignore[arg-type]
                           webhook_secrets=list(secrets))


def ours_accepts(body: bytes, header: str, secret: str = SECRET) -> bool:
    try:
        carrier(secret).verify_webhook({SIGNATURE_HEADER: header}, body)
    except InvalidSignature:
        return False
    return True


def oracle_accepts(body: bytes, header: str, secret: str = SECRET) -> bool:
    """EasyPost's official Python library, as the reference."""
    try:
        validate_webhook(body, {"X-Hmac-Signature": header}, secret)
    except Exception:  # any refusal of the library counts as one
        return False
    return True


def altered(data: bytes, index: int, delta: int) -> bytes:
    return data[:index] + bytes([(data[index] + delta) % 256]) + data[index + 1:]


def test_the_official_fixture_is_signed_as_the_sources_say() -> None:
    assert BODY == json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert signature(SECRET, BODY) == SIGNED


def test_the_official_fixture_verifies_and_names_its_event() -> None:
    event = carrier(SECRET).verify_webhook({"x-hmac-signature": SIGNED}, BODY)
    assert (event.event_id, event.kind) == ("evt_1", "tracker.updated")
    assert oracle_accepts(BODY, SIGNED)


def test_two_secrets_are_accepted_while_one_rotates() -> None:
    carrier("whsec_new", SECRET).verify_webhook({SIGNATURE_HEADER: SIGNED}, BODY)
    carrier(SECRET, "whsec_new").verify_webhook({SIGNATURE_HEADER: SIGNED}, BODY)


@pytest.mark.parametrize("secret", ["secret", "sécret ", "whsec_other", "SÉCRET"])
def test_a_wrong_secret_is_refused_by_both(secret: str) -> None:
    assert not ours_accepts(BODY, SIGNED, secret)
    assert not oracle_accepts(BODY, SIGNED, secret)


def test_the_secret_is_normalised_to_nfkd_as_easyposts_libraries_do() -> None:
    composed, decomposed = "s\u00e9cret", "se\u0301cret"
    assert ours_accepts(BODY, SIGNED, composed) and ours_accepts(BODY, SIGNED, decomposed)


def test_a_missing_or_malformed_header_is_refused() -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        carrier(SECRET).verify_webhook({}, BODY)
    for header in ("", SIGNED.removeprefix("hmac-sha256-hex="), SIGNED.upper(), "é" + SIGNED):
        assert not ours_accepts(BODY, header)


def test_every_single_byte_change_of_the_body_is_refused_and_the_oracle_agrees() -> None:
    copies = [altered(BODY, index, delta) for index in range(len(BODY)) for delta in (1, 128)]
    copies += [BODY[:index] + BODY[index + 1:] for index in range(0, len(BODY), 7)]
    copies += [BODY + b" ", b" " + BODY]
    for copy in copies:
        assert not ours_accepts(copy, SIGNED), copy
        assert not oracle_accepts(copy, SIGNED), copy


def test_every_single_byte_change_of_the_signature_is_refused_and_the_oracle_agrees() -> None:
    for index in range(len(SIGNED)):
        for replacement in "0aF=-":
            copy = SIGNED[:index] + replacement + SIGNED[index + 1:]
            assert ours_accepts(BODY, copy) == oracle_accepts(BODY, copy) == (copy == SIGNED)


def test_a_signed_body_that_is_not_an_event_is_refused() -> None:
    for body in (b"[]", b"not json", b'{"id": "evt_2"}', b'{"id": "x", "description": "y", '
                 b'"object": "Shipment"}'):
        with pytest.raises(InvalidSignature, match="not an EasyPost event"):
            carrier(SECRET).verify_webhook({SIGNATURE_HEADER: signature(SECRET, body)}, body)


# --- translation -----------------------------------------------------------------------------


def event(kind: str, **result: Any) -> Any:
    tracker = {"object": "Tracker", "id": "trk_1", "tracking_code": "EZ1000000001",
               "status": "in_transit", "status_detail": "arrived_at_facility",
               "updated_at": "2024-08-02T19:26:51Z", "tracking_details": [], **result}
    body = json.dumps({"id": "evt_9", "object": "Event", "description": kind,
                       "result": tracker}).encode()
    verifier = carrier(SECRET)
    return verifier, verifier.verify_webhook({SIGNATURE_HEADER: signature(SECRET, body)}, body)


def test_the_fixture_translates_to_a_tracking_update() -> None:
    verifier = carrier(SECRET)
    update = verifier.translate_webhook(verifier.verify_webhook({SIGNATURE_HEADER: SIGNED}, BODY))
    assert update is not None
    assert (update.tracking_number, update.status) == ("1", ShipmentStatus.IN_TRANSIT)
    assert update.detail.startswith("arrived_at_facility: ")
    tracker = json.loads(BODY)["result"]
    newest = max(d["datetime"] for d in tracker["tracking_details"])
    assert update.occurred_at.isoformat().replace("+00:00", "Z") == newest


@pytest.mark.parametrize(("status", "detail", "ours"), [
    ("pre_transit", "label_created", ShipmentStatus.CREATED),
    ("in_transit", "arrived_at_facility", ShipmentStatus.IN_TRANSIT),
    ("out_for_delivery", "out_for_delivery", ShipmentStatus.OUT_FOR_DELIVERY),
    ("delivered", "arrived_at_destination", ShipmentStatus.DELIVERED),
    ("available_for_pickup", "arrived_at_pickup_location", ShipmentStatus.OUT_FOR_DELIVERY),
    ("return_to_sender", "return", ShipmentStatus.RETURNED),
    ("failure", "delivery_exception", ShipmentStatus.EXCEPTION),
    ("cancelled", "cancelled", ShipmentStatus.EXCEPTION),
    ("error", "unknown", None),
    ("unknown", "unknown", None),
    ("in_transit", "lost", ShipmentStatus.EXCEPTION),
    ("in_transit", "held", ShipmentStatus.EXCEPTION),
    ("out_for_delivery", "address_correction", ShipmentStatus.EXCEPTION),
    ("delivered", "damaged", ShipmentStatus.DELIVERED),
    ("a_status_easypost_adds_later", "", None),
])
def test_every_easypost_status_maps_to_ours(status: str, detail: str,
                                            ours: ShipmentStatus | None) -> None:
    verifier, verified = event("tracker.updated", status=status, status_detail=detail)
    update = verifier.translate_webhook(verified)
    assert (update.status if update else None) == ours
    if update is not None:
        assert (detail or status) in update.detail


def test_tracker_created_is_applied_like_an_update() -> None:
    verifier, verified = event("tracker.created", status="pre_transit")
    update = verifier.translate_webhook(verified)
    assert update is not None and update.status == ShipmentStatus.CREATED


def test_refunds_and_other_events_are_recorded_without_moving_a_shipment() -> None:
    for kind in ("refund.successful", "shipment.invoice.created", "batch.updated"):
        verifier, verified = event(kind)
        assert verified.kind == kind
        assert verifier.translate_webhook(verified) is None


def test_a_tracker_without_code_or_date_moves_nothing() -> None:
    for broken in ({"tracking_code": None}, {"updated_at": None}, {"updated_at": "yesterday"}):
        verifier, verified = event("tracker.updated", **broken)
        assert verifier.translate_webhook(verified) is None
