"""What the mall says to people, on which channels, and what each message needs.

Every message type is transactional (the customer needs it to complete or follow a purchase
or their account: no consent asked) or promotional (only with an opt-in for its channel,
under the rules of the recipient's jurisdiction). Each type lists its channels in the order
they are tried: when one cannot reach the customer (no phone, no device, a provider down)
the next is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class DeliveryStatus(StrEnum):
    """Where one message stands, as our dispatcher and the providers' callbacks say."""

    DEFERRED = "deferred"  # held back (quiet hours) until `not_before`
    SENDING = "sending"  # claimed by our dispatcher: a provider is being asked
    QUEUED = "queued"  # accepted by the provider, not yet sent on
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"  # not sent: no consent, opted out, suppressed address


# The consent purposes (entrypoints' CONSENT_PURPOSES) a promotional message needs, by
# channel; NIGHT_CONSENT in addition between 21:00 and 08:00 at the recipient's (Korea).
MARKETING_CONSENT = {Channel.EMAIL: "marketing_email", Channel.SMS: "marketing_sms",
                     Channel.PUSH: "marketing_push"}
NIGHT_CONSENT = "marketing_night"


@dataclass(frozen=True)
class MessageType:
    template: str
    promotional: bool
    channels: tuple[Channel, ...]  # tried in this order
    needs: tuple[str, ...] = ()  # params a sender must give (a campaign's, at definition)


_E, _S, _P = Channel.EMAIL, Channel.SMS, Channel.PUSH
_URGENT = (_P, _S, _E)  # the customer must act soon: the fastest channel first
_NEWS = (_E, _P)

MESSAGE_TYPES: dict[str, MessageType] = {m.template: m for m in (
    MessageType("verify_email", False, (_E,)),
    MessageType("password_reset", False, (_E,)),
    MessageType("link_confirmation", False, (_E,)),
    MessageType("new_provider_sign_in", False, (_E,)),
    MessageType("order_placed", False, _NEWS),
    MessageType("order_paid", False, _NEWS),  # payment confirmed
    MessageType("awaiting_deposit", False, (_E, _S)),  # the account and the deadline
    MessageType("deposit_received", False, _NEWS),
    MessageType("payment_failed", False, (_E, _P)),
    MessageType("payment_refunded", False, _NEWS),
    MessageType("order_held", False, (_E,)),  # held for review
    MessageType("order_released", False, _NEWS),  # the review cleared it
    MessageType("order_cancelled", False, (_E,)),
    MessageType("shipment_in_transit", False, (_P, _E)),  # shipped: carrier and tracking
    MessageType("shipment_out_for_delivery", False, (_P, _S)),
    MessageType("order_delivered", False, (_P, _E)),
    MessageType("delivery_exception", False, _URGENT),  # with the customer's options
    MessageType("promotion", True, (_E, _S, _P), needs=("title", "message")),
)}


def message_type(template: str) -> MessageType:
    """The type of `template`; one we do not list is transactional news by email."""
    return MESSAGE_TYPES.get(template, MessageType(template, False, (_E,)))
