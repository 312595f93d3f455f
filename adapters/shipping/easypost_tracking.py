"""EasyPost's webhooks and trackers in our words: the `X-Hmac-Signature` check its libraries
make, and its tracker statuses mapped onto our shipment statuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from application.ports import InboundEvent
from domain.errors import InvalidSignature
from domain.shipments import ShipmentStatus, TrackingUpdate

SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})

# EasyPost's tracker statuses. `unknown` (nothing heard from the carrier yet) and `error` (the
# carrier could not track the code; the parcel itself may be fine) move nothing: the event is
# kept in the inbox and the evidence, and the next one that says something is applied.
STATUSES: dict[str, ShipmentStatus | None] = {
    "pre_transit": ShipmentStatus.CREATED,  # label bought, not yet in the carrier's hands
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    # Waiting at a counter or locker for the recipient: the last leg, like a delivery round.
    "available_for_pickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "return_to_sender": ShipmentStatus.RETURNED,
    "failure": ShipmentStatus.EXCEPTION,
    "cancelled": ShipmentStatus.EXCEPTION,  # the carrier will not deliver it: someone acts
    "error": None,
    "unknown": None,
}

# Details that make any status an exception: the parcel is stuck until someone acts.
EXCEPTION_DETAILS = frozenset({
    "address_correction", "damaged", "delivery_exception", "held", "lost", "refused",
    "return", "transit_exception", "awaiting_information",
})


def signature(secret: str, body: bytes) -> str:
    """`X-Hmac-Signature` for `body`: the secret normalised to NFKD, UTF-8 encoded."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(header: str | None, body: bytes, secrets: Sequence[str]) -> None:
    """Raise InvalidSignature unless `header` is the signature of `body` under one of the
    secrets (two while a secret rotates)."""
    if not header:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    given = header.encode("utf-8", "surrogateescape")
    for secret in secrets:
        if hmac.compare_digest(signature(secret, body).encode("ascii"), given):
            return
    raise InvalidSignature("no EasyPost signature matches a current webhook secret")


def verified_event(headers: Mapping[str, str], body: bytes,
                   secrets: Sequence[str]) -> InboundEvent:
    """A signed EasyPost Event {"id", "description", "object": "Event", "result"}."""
    wanted = SIGNATURE_HEADER.lower()
    verify_signature(next((v for k, v in headers.items() if k.lower() == wanted), None), body,
                     secrets)
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise InvalidSignature("the signed body is not an EasyPost event") from exc
    if not (isinstance(event, dict) and _text(event.get("id"))
            and _text(event.get("description")) and event.get("object", "Event") == "Event"):
        raise InvalidSignature("the signed body is not an EasyPost event")
    return InboundEvent(event["id"], event["description"], event)


def tracking_update(tracker: Mapping[str, Any]) -> TrackingUpdate | None:
    """A Tracker object as our tracking event; None when it says nothing we act on."""
    code = _text(tracker.get("tracking_code"))
    status = _text(tracker.get("status")) or "unknown"
    detail = _text(tracker.get("status_detail"))
    ours = our_status(status, detail)
    when = _moment(tracker)
    if not code or ours is None or when is None:
        return None
    return TrackingUpdate(tracking_number=code, status=ours, occurred_at=when,
                          detail=_detail(status, detail, tracker))


def our_status(status: str, detail: str = "") -> ShipmentStatus | None:
    mapped = STATUSES.get(status)
    if mapped is None:
        return None
    if detail in EXCEPTION_DETAILS and mapped not in (ShipmentStatus.DELIVERED,
                                                      ShipmentStatus.RETURNED):
        return ShipmentStatus.EXCEPTION
    return mapped


def translate(event: InboundEvent) -> TrackingUpdate | None:
    """Tracker events move a shipment; refund and other events are only recorded."""
    result = event.payload.get("result")
    if event.kind not in TRACKER_EVENTS or not isinstance(result, Mapping):
        return None
    return tracking_update(result)


def _detail(status: str, detail: str, tracker: Mapping[str, Any]) -> str:
    """`<status_detail>: <carrier's message>`, the reason first as incidents read it."""
    latest = _latest_detail(tracker)
    message = _text(latest.get("message")) if latest else ""
    reason = detail or status
    if status == "available_for_pickup":
        reason = f"available_for_pickup ({detail})" if detail else status
    return f"{reason}: {message}"[:300] if message else reason


def _latest_detail(tracker: Mapping[str, Any]) -> Mapping[str, Any] | None:
    details = tracker.get("tracking_details")
    dated = [d for d in details if isinstance(d, Mapping) and _when(d.get("datetime"))] \
        if isinstance(details, list) else []
    return max(dated, key=lambda d: _when(d.get("datetime")) or datetime.min) if dated else None


def _moment(tracker: Mapping[str, Any]) -> datetime | None:
    """When the carrier last said something: its newest scan, else the tracker's update."""
    latest = _latest_detail(tracker)
    return (_when(latest.get("datetime")) if latest else None) or _when(
        tracker.get("updated_at"))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)  # Python 3.11 reads a trailing "Z" too
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
