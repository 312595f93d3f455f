"""Provider callbacks: verify, keep once in the inbox, acknowledge, then process in an actor."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from application.payments import PaymentService
from application.payments.settle import apply_payment_update
from application.ports import (
    Carrier,
    Clock,
    InboundEvent,
    InboxMessage,
    PaymentGateway,
    TaskQueue,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.shipping import Fulfilment
from application.transactions import commit_and_dispatch, open_incident
from domain.errors import DomainError, InvalidSignature, NotFound, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.payments import PaymentUpdate
from domain.redaction import redact, redact_card_numbers


class WebhookSource(Protocol):
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent: ...


class Webhooks:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: TaskQueue,
        gateways: Mapping[str, PaymentGateway],
        carriers: Mapping[str, Carrier],
        payments: PaymentService,
        fulfilment: Fulfilment,
        clock: Clock,
        give_up_after: timedelta,
    ) -> None:
        self._uow, self._queue, self._clock, self._give_up_after = uow, queue, clock, give_up_after
        self._gateways, self._carriers = gateways, carriers
        self._payments, self._fulfilment = payments, fulfilment

    def _source(self, provider: str) -> WebhookSource:
        source: WebhookSource | None = self._gateways.get(provider) or self._carriers.get(provider)
        if source is None:
            raise NotFound(f"no webhook endpoint for provider '{provider}'")
        return source

    async def receive(self, provider: str, headers: Mapping[str, str], body: bytes) -> str:
        """Store a verified callback once; 'accepted' or 'duplicate'. Bad signatures raise."""
        verified = self._source(provider).verify_webhook(headers, body)
        # What providers send can carry card data or secrets; we keep only a redacted copy.
        event = InboundEvent(redact_card_numbers(verified.event_id),
                             redact_card_numbers(verified.kind), redact(verified.payload))
        gateway = self._gateways.get(provider)
        translated = gateway.translate_webhook(verified) if gateway is not None else None
        # Reads, then one write (the callback with its evidence): nothing to hold between.
        async with self._uow(autocommit=True) as uow:
            payment: tuple[str, str] | None = None
            if translated is not None and translated[1].callback_secret is not None:
                subject = await self._inspect(uow, provider, *translated)
            else:
                subject = subject_of(verified.payload)
                if translated is not None:  # filed under its payment's order, if we know it
                    payment = (translated[0], translated[1].merchant_reference or "")
            inbox_id = await uow.messages.inbox.add(provider, event, EvidenceDraft(
                source=provider, kind="webhook.received", subject=subject,
                context={"event_id": event.event_id, "event_type": event.kind},
                payload=event.payload, raw=body,
            ), payment)
            if inbox_id is None:
                return "duplicate"
        self._queue.dispatch_inbox(inbox_id)
        return "accepted"

    async def _inspect(self, uow: UnitOfWork, provider: str, reference: str,
                       update: PaymentUpdate) -> str:
        """The evidence subject of a callback that carries a per-payment secret instead of a
        signature (Toss deposit callbacks), once that secret is checked against its payment:
        the payment's order."""
        assert update.callback_secret is not None
        try:
            payment = await self._payments.find_for_event(uow, provider, reference, update)
        except NotFound:
            raise InvalidSignature("the callback names no payment we know") from None
        if not payment.accepts_callback_secret(update.callback_secret):
            raise InvalidSignature("the callback's secret does not match its payment")
        return f"order:{payment.order_id}"

    async def process(self, inbox_id: str) -> None:
        """Apply a stored callback; a second run of the same message does nothing."""
        async with self._uow() as uow:
            message = await uow.messages.inbox.claim(inbox_id)
            if message is None:
                return
            event = InboundEvent(message.event_id, message.kind, message.payload)
            hint = self._lookup_hint(message.provider, event)
            if hint is None:
                await self._settle(uow, message, event, None)
                return
            await uow.commit()
        # An unsigned callback is only a hint: the provider's own answer is applied, asked
        # outside any transaction, to the payment the answer itself names (never to one the
        # unsigned body names).
        reference, _ = hint
        try:
            looked_up = await self._gateways[message.provider].lookup(reference)
        except ProviderUnavailable:
            assert message.received_at is not None
            if self._clock.now() - message.received_at < self._give_up_after:
                raise
            async with self._uow() as uow:
                # the provider never confirmed it in time: set aside, unconfirmed
                await uow.messages.inbox.complete(inbox_id, "unconfirmed")
                await uow.commit()
            return
        async with self._uow() as uow:
            await self._settle(uow, message, event, looked_up)

    async def _settle(self, uow: UnitOfWork, message: InboxMessage, event: InboundEvent,
                      looked_up: PaymentUpdate | None) -> None:
        """Apply the callback to what it names and record how it ended, in one transaction."""
        provider = message.provider
        try:
            status = "ignored"
            if provider in self._gateways:
                translated = self._gateways[provider].translate_webhook(event)
                if looked_up is not None:
                    translated = (looked_up.provider_reference or "", looked_up)
                if translated is not None:
                    reference, update = translated
                    # The secret was checked on arrival; the stored copy holds only its mask.
                    update = dataclasses.replace(update, callback_secret=None)
                    payment = await self._payments.find_for_event(uow, provider, reference,
                                                                   update)
                    changed = await apply_payment_update(uow, payment.id, update, self._clock,
                                                         found=payment)
                    status = "applied" if changed else "no_change"
            else:
                tracking = self._carriers[provider].translate_webhook(event)
                if tracking is not None:
                    changed = await self._fulfilment.apply_tracking(uow, provider, tracking)
                    status = "applied" if changed else "no_change"
        except NotFound:
            # Often the callback overtook our own record of the payment or shipment: retry.
            # Past the grace period it never will match; stop, and tell the operators.
            assert message.received_at is not None
            if self._clock.now() - message.received_at < self._give_up_after:
                raise
            status = "unmatched"
            await self._report_unmatched(uow, message.id, provider, event)
        except DomainError as exc:
            # It contradicts what we know (another payment's reference, a move the order
            # cannot make): retrying cannot help; a human looks.
            status = "rejected"
            await self._report_unmatched(uow, message.id, provider, event,
                                         kind="webhook_rejected", reason=exc.detail)
        await uow.messages.inbox.complete(message.id, status)
        await commit_and_dispatch(uow, self._queue)

    async def _report_unmatched(
        self, uow: UnitOfWork, inbox_id: str, provider: str, event: InboundEvent,
        kind: str = "webhook_unmatched", reason: str = "it matches nothing we know",
    ) -> None:
        detail = {"provider": provider, "event_id": event.event_id, "event_type": event.kind,
                  "reason": reason[:300]}
        await open_incident(uow, kind, f"inbox:{inbox_id}", detail, severity="warning",
                            source=provider,
                            summary=f"a {provider} callback was set aside: {reason[:200]}")

    def _lookup_hint(self, provider: str, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        gateway = self._gateways.get(provider)
        translated = gateway.translate_webhook(event) if gateway is not None else None
        return translated if translated is not None and translated[1].needs_lookup else None


def subject_of(payload: dict[str, Any]) -> str:
    """Evidence subject of a callback: the order it concerns, when the provider says so."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
    assert isinstance(data, dict)
    order_id = data.get("order_id") or data.get("orderId")
    # Only our own order ids: a provider's orderId may be a payment id or its own number.
    return f"order:{order_id}" if isinstance(order_id, str) and order_id.startswith("ord_") \
        else "unknown"
