"""The stores of messages: commands waiting in the outbox, provider callbacks in the inbox,
the log of what was sent to customers and each message's delivery record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from application.ports.webhooks import InboundEvent
from domain.customers import Customer
from domain.deliveries import Delivery
from domain.evidence import EvidenceDraft


@dataclass
class OutboxMessage:
    id: str
    topic: str
    payload: dict[str, Any]
    attempts: int = 0
    status: str = "pending"


@dataclass
class InboxMessage:
    id: str
    provider: str
    event_id: str
    kind: str
    payload: dict[str, Any]
    status: str = "received"
    received_at: datetime | None = None


class Outbox(Protocol):
    async def add(self, topic: str, payload: dict[str, Any]) -> str: ...

    async def hold(self, message_ids: list[str], lease_seconds: float) -> list[OutboxMessage]:
        """Messages this unit of work added, claimed when it commits by the worker that
        commits them, for `lease_seconds` (the lease of a claim): that worker runs them next,
        with no claim of their own. On PostgreSQL it rides in the commit's statement."""
        ...

    async def claim(self, message_id: str, lease_seconds: float) -> OutboxMessage | None:
        """Take the message for one worker for a while; None if done or held by another."""
        ...

    async def claim_batch(self, message_ids: list[str],
                          lease_seconds: float) -> list[OutboxMessage]:
        """`claim` for many messages in one statement: those taken, in the order asked."""
        ...

    async def complete(self, *message_ids: str) -> None: ...
    async def release(self, message_id: str, error: str, dead: bool) -> None: ...

    async def unfinished(self, older_than_seconds: float, limit: int) -> list[str]:
        """Messages nobody finished: lost by the broker or held by a worker that died."""
        ...


class Inbox(Protocol):
    async def add(self, provider: str, event: InboundEvent,
                  evidence: EvidenceDraft | None = None,
                  payment: tuple[str, str] | None = None) -> str | None:
        """Store a verified webhook and, when given, the evidence of its receipt, as one write
        (one statement on PostgreSQL); None when (provider, event id) was already stored, and
        then no evidence is kept either. `payment`: (the provider's reference, our payment
        id) of the payment the callback is about; the evidence is filed under that payment's
        order (`Payments.for_event`) when there is one, under its own subject otherwise."""
        ...

    async def claim(self, message_id: str) -> InboxMessage | None: ...
    async def complete(self, message_id: str, status: str) -> None: ...
    async def unprocessed(self, older_than_seconds: float, limit: int) -> list[str]: ...


class Notifications(Protocol):
    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        """Keep that a message was sent (no recipient address, no body)."""
        ...


@dataclass(frozen=True)
class ClaimReaching:
    """`Deliveries.claim_reaching`: `found` as `claim` answers; `reachable` as
    `Customers.reachable` does; the keys of the customer's addresses on the channels asked
    as the store made them (its own normalisation: the caller checks them against
    `domain.deliveries.address_key` before trusting `suppressed`), and the suppressed ones
    among them."""

    found: Delivery | None
    reachable: tuple[Customer, dict[str, bool], list[str]] | None
    address_keys: list[str]
    suppressed: dict[str, str]


class Deliveries(Protocol):
    """Each message's delivery record (domain/deliveries.py), by our message id, and the
    addresses that may no longer be written to (kept as digests)."""

    async def claim(self, delivery: Delivery) -> Delivery | None:
        """Store `delivery` unless its message id is known; None when stored, else the
        record already there (the message is someone else's, or done)."""
        ...

    async def claim_reaching(self, delivery: Delivery, channels: list[str]) -> ClaimReaching:
        """What sending a message starts with, in one statement where the engine allows:
        `claim` of `delivery`, its customer as `Customers.reachable` reads them, and the
        suppressions among the customer's addresses on `channels`. Nothing stays claimed
        when the customer is not there (erased)."""
        ...

    async def take_over(self, message_id: str, now: datetime, claimed_before: datetime) -> bool:
        """Claim again (`sending`, as of `now`) a deferred record whose time has come, or a
        `sending` one claimed before `claimed_before` (its sender died); False when another
        process did, or it is neither."""
        ...

    async def get(self, message_id: str) -> Delivery | None: ...
    async def save(self, delivery: Delivery) -> None: ...
    async def remove(self, message_id: str) -> None: ...
    async def by_provider_id(self, provider: str,
                             provider_message_id: str) -> Delivery | None: ...

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Deferred records whose `not_before` has passed, the oldest first."""
        ...

    async def suppress(self, address_key: str, channel: str, reason: str) -> None: ...

    async def suppression(self, address_key: str) -> str | None:
        """Why the address is suppressed (hard_bounce, complaint...), or None."""
        ...

    async def suppressions(self, address_keys: list[str]) -> dict[str, str]:
        """Why each of the suppressed ones among `address_keys` is, by key."""
        ...

    async def known(self, message_ids: list[str]) -> set[str]:
        """Those of `message_ids` that have a record."""
        ...


class Messages(Protocol):
    """What comes and goes: commands waiting in the outbox, provider callbacks in the inbox,
    and the log of what was sent to customers."""

    outbox: Outbox
    inbox: Inbox
    notifications: Notifications
    deliveries: Deliveries
