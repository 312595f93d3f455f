"""One message's delivery: where it stands, on which channel and provider, and what it
relied on. Kept without the address (masked) or the body.

Statuses only move forward (deferred < sending < queued < sent < delivered); failed,
bounced and suppressed are final, so a late or repeated provider callback changes nothing.
An email accepted by the recipient's server can still bounce afterwards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.messages import Channel, DeliveryStatus

S = DeliveryStatus
_RANK = {S.DEFERRED: 0, S.SENDING: 1, S.QUEUED: 2, S.SENT: 3, S.DELIVERED: 4}
FINAL = frozenset({S.FAILED, S.BOUNCED, S.SUPPRESSED})


def moves_forward(current: DeliveryStatus, new: DeliveryStatus) -> bool:
    """Whether a record at `current` may take `new`."""
    if current in FINAL or new == current:
        return False
    if new in FINAL:
        return new == S.BOUNCED or current != S.DELIVERED
    return _RANK[new] > _RANK[current]


@dataclass
class Delivery:
    message_id: str  # ours: the same on every retry, unique
    customer_id: str
    template: str
    status: DeliveryStatus
    created_at: datetime
    updated_at: datetime
    template_version: str = ""
    channel: str = ""
    provider: str = ""
    provider_message_id: str = ""
    masked_address: str = ""
    address_key: str = ""  # a digest of the address, to suppress it after a bounce
    consent: str = ""  # the purposes relied on, comma-separated; "" for transactional
    error_code: str = ""
    not_before: datetime | None = None
    # What a deferred message is sent with when its time comes (no minted link: those are
    # transactional and never deferred).
    params: dict[str, Any] = field(default_factory=dict)

    def advance(self, status: DeliveryStatus, now: datetime, error_code: str = "") -> bool:
        if not moves_forward(self.status, status):
            return False
        self.status, self.updated_at = status, now
        if error_code:
            self.error_code = error_code[:64]
        return True


def address_key(channel: str, address: str) -> str:
    """How a suppressed address is found again without keeping it."""
    normal = address.strip().lower() if channel == Channel.EMAIL else address.strip()
    return hashlib.sha256(f"{channel}|{normal}".encode()).hexdigest()


def masked(channel: str, address: str) -> str:
    """Enough of an address for an audit to tell two apart, not enough to write to it."""
    if channel == Channel.EMAIL and "@" in address:
        name, domain = address.rsplit("@", 1)
        return f"{name[:1]}***@{domain}"
    if channel == Channel.SMS:
        return f"{address[:3]}****{address[-2:]}" if len(address) > 6 else "****"
    return f"{address[:6]}…" if address else ""
