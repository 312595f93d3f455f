"""Sandbox payment callbacks as the benchmarks send them: signed, and naming no payment, so
that what they cost the app is the ingest path alone."""

from __future__ import annotations

import json
import time

from adapters.payments.sandbox import SIGNATURE_HEADER
from adapters.signing import sign

SECRET = "whsec_sandbox_payments_dev"  # Settings.sandbox_webhook_secrets[0]
PATH = "/v1/webhooks/sandbox"


def unmatched_event(tag: str, run: str, index: int) -> bytes:
    """A `payment.succeeded` event as compact JSON, with a unique id
    (evt_<tag>_<run>_<index>) and a reference that matches no payment."""
    event = {
        "id": f"evt_{tag}_{run}_{index:06d}", "type": "payment.succeeded",
        "created": int(time.time()),
        "data": {"reference": f"sbx_{tag}_nomatch_{run}_{index:06d}", "order_id": None,
                 "status": "succeeded", "amount": 10_000, "currency": "KRW",
                 "failure_code": None},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    """The headers the app accepts a callback with (sign just before sending)."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}
