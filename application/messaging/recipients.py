"""Whom the dispatcher is sending to, and how the channels went."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.customers import Customer
from domain.messages import Channel


@dataclass
class Recipient:
    customer: Customer
    consents: dict[str, bool]
    devices: list[str]
    # Why each of its addresses that may no longer be written to is, by address key.
    suppressed: dict[str, str] = field(default_factory=dict)

    def addresses(self, channel: Channel) -> list[str]:
        if channel == Channel.EMAIL:
            # An account without a real address has one under .invalid (RFC 2606).
            return [] if self.customer.email.endswith(".invalid") else [self.customer.email]
        if channel == Channel.SMS:
            return [self.customer.phone] if self.customer.phone else []
        return list(self.devices)

    def is_suppressed(self, key: str, promotional: bool) -> bool:
        why = self.suppressed.get(key)
        # A complaint stops promotions; the customer still hears about their own orders.
        return why is not None and (promotional or why != "complaint")


@dataclass
class Attempts:
    """How the channels went, for the record when none of them sent the message."""

    unavailable: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    suppressed: bool = False
