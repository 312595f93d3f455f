"""Commands: what the mall asks to be done, in the imperative.

Each command has exactly one handler (application/bus.py). Those that talk to a partner travel
through the outbox, written in the same transaction as the change that asks for them, and are
serialized by their type's name and fields (`serialize`, `deserialize`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Command:
    """Base of every command."""


@dataclass(frozen=True)
class PaymentCommand(Command):
    """Something to ask of the provider about one payment."""

    payment_id: str


@dataclass(frozen=True)
class AuthorizePayment(PaymentCommand):
    operation_id: str
    method_token: str


@dataclass(frozen=True)
class CapturePayment(PaymentCommand):
    pass


@dataclass(frozen=True)
class VoidPayment(PaymentCommand):
    reason: str = ""


@dataclass(frozen=True)
class RefundPayment(PaymentCommand):
    refund_id: str
    amount: int
    reason: str = ""


@dataclass(frozen=True)
class CreateShipment(Command):
    shipment_id: str


@dataclass(frozen=True)
class FollowParcel(Command):
    """Look at a Korean domestic parcel through Delivery Tracker and keep following it until
    it is delivered or returned (application/parcel_tracking.py)."""

    shipment_id: str


@dataclass(frozen=True)
class SendNotification(Command):
    """A message to a customer (by id, resolved at sending) or a seller. `mint` names the
    single-use link minted at sending, so no live token waits in a table."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)
    audience: str = "customer"
    customer_id: str = ""
    seller_id: str = ""
    mint: str = ""
    # Ours, when the sender names it (a campaign's "cmp:<campaign>:<customer>", a deferred
    # message coming back): sent once under it. Else the outbox message's id.
    message_id: str = ""
    # Only this channel (a Channel value), when the sender chose one: a campaign's. Else the
    # message type's channels, in their order.
    channel: str = ""


@dataclass(frozen=True)
class TrackEvent(Command):
    """A business milestone for analytics; ids are pseudonymized at sending."""

    customer_id: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RaiseAlert(Command):
    severity: str
    source: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateAlert(Command):
    """Tell the alert channels that an incident was acknowledged or resolved (an
    domain.alerts.AlertAction value), so the page its trigger opened follows."""

    incident_id: str
    action: str
    severity: str
    source: str
    summary: str


@dataclass(frozen=True)
class ApplyProviderEvent(Command):
    """Apply a verified, stored provider callback (an inbox message)."""

    inbox_id: str


def _types() -> dict[str, type[Command]]:
    found: dict[str, type[Command]] = {}
    kinds = list(Command.__subclasses__())
    while kinds:
        kind = kinds.pop()
        found[kind.__name__] = kind
        kinds.extend(kind.__subclasses__())
    return found


def serialize(command: Command) -> tuple[str, dict[str, Any]]:
    """The command's type name and fields, as the outbox stores them."""
    return type(command).__name__, dataclasses.asdict(command)


def deserialize(name: str, data: dict[str, Any]) -> Command:
    kind = _types().get(name)
    if kind is None:
        raise ValueError(f"no command is called {name!r}")
    return kind(**data)
