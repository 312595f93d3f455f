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

    def addresses(self, channel: Channel) -> list[str]:
        if channel == Channel.EMAIL:
            # An account without a real address has one under .invalid (RFC 2606).
            return [] if self.customer.email.endswith(".invalid") else [self.customer.email]
        if channel == Channel.SMS:
            return [self.customer.phone] if self.customer.phone else []
        return list(self.devices)


@dataclass
class Attempts:
    """How the channels went, for the record when none of them sent the message."""

    unavailable: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    suppressed: bool = False
