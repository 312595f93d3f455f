"""Timestamped HMAC-SHA256 webhook signatures (`t=<unix>,v1=<hex>`, as Stripe signs them)
checked against a key ring, so a secret can rotate without rejecting in-flight deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence

from application.ports import InboundEvent
from domain.errors import InvalidSignature


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    header: str | None, body: bytes, secrets: Sequence[str], tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Raise InvalidSignature unless one `v1` signature matches one secret within tolerance."""
    if not header:
        raise InvalidSignature("the signature header is missing")
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    stamp = timestamps[0].strip() if len(timestamps) == 1 else ""
    if not (stamp.isascii() and stamp.isdigit()) or not signatures:
        raise InvalidSignature("the signature header is malformed")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise InvalidSignature("the signature timestamp is outside the tolerance")
    signed = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return
    raise InvalidSignature("no signature matches a current webhook secret")


def verified_event(
    header: str | None, body: bytes, secrets: Sequence[str], source: str
) -> InboundEvent:
    """Verify a signed JSON webhook of the form {"id", "type", ...} and parse it."""
    verify(header, body, secrets)
    try:
        event = json.loads(body)
        return InboundEvent(str(event["id"]), str(event["type"]), event)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidSignature(f"the signed body is not a {source} event") from exc
