"""Sends each message to a customer on the first channel and provider that can take it.

A message type lists its channels in order (domain/messages.py, or the settings); within a
channel the providers are tried in the configured order. A provider that is down passes the
message to the next one, then to the next channel; when every one that could have sent it
was down, the command is retried later. A recipient a provider will never reach is
suppressed (bounce, complaint), recorded as opted out (an SMS STOP) or loses the device
(push), and the next channel is tried.

Each message id is sent once: its delivery record is claimed before any provider is called,
and a retry that finds it done does nothing. A claim older than the lease (longer than any
provider call) was left by a sender that died: a retry takes it over and sends under the same
message id, which providers that dedupe recognise; a younger claim raises MessageInFlight, so
the outbox looks again later. Consent and the Korean rules (domain/consent_rules.py) decide
whether, when and how a message goes; a promotional message in the recipient's quiet hours
waits for 08:00 (`send_due` sends it then).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

from application.messaging.consent import record_opt_out
from application.messaging.recipients import Attempts, Recipient
from application.ports import (
    ChannelSender,
    Clock,
    Envelope,
    Notification,
    Notifier,
    RenderedMessage,
    SendReceipt,
    TaskQueue,
    TemplateRenderer,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.transactions import commit_and_dispatch, commit_result, new_id, send
from domain import consent_rules as rules
from domain.commands import SendNotification
from domain.contact import language_of, time_zone_of
from domain.customers import Customer
from domain.deliveries import Delivery, address_key, masked
from domain.errors import ProviderUnavailable, RecipientRejected
from domain.evidence import EvidenceDraft
from domain.messages import (
    MARKETING_CONSENT,
    NIGHT_CONSENT,
    Channel,
    DeliveryStatus,
    MessageType,
    message_type,
)

log = logging.getLogger("mall.messaging")
S = DeliveryStatus
CONSENT_REMINDER = "consent_reminder"
REMINDED = (*MARKETING_CONSENT.values(), NIGHT_CONSENT)  # the opt-ins reminded of


class MessageInFlight(RuntimeError):
    """Another process is sending this message id now: try again once its claim is done or
    has lapsed."""


class LinkMinter(Protocol):
    def mint(self, purpose: str, customer: Customer) -> dict[str, str]: ...


class UnsubscribeHeaders(Protocol):
    def url(self, customer_id: str, purpose: str) -> str: ...
    def headers(self, customer_id: str, purpose: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class MessagingPolicy:
    """What the settings choose: each channel's providers in order (built senders), the
    channel order of the types that override domain/messages.py, and the sender's name
    (the Korean rules want it in every promotional message)."""

    senders: Mapping[str, Sequence[ChannelSender]]
    channels: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)
    sender_name: str = "Mall"

    def message_type(self, template: str) -> MessageType:
        kind = message_type(template)
        override = self.channels.get(template)
        return replace(kind, channels=override) if override else kind


class Messaging:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: MessagingPolicy,
                 renderer: TemplateRenderer, links: LinkMinter, seller_notices: Notifier,
                 queue: TaskQueue, unsubscribe: UnsubscribeHeaders | None = None,
                 claim_lease_seconds: float = 120.0) -> None:
        self._uow, self._clock, self._policy, self._queue = uow, clock, policy, queue
        self._claim_lease = timedelta(seconds=claim_lease_seconds)
        self._renderer, self._links = renderer, links
        self._seller_notices, self._unsubscribe = seller_notices, unsubscribe

    # --- sending ---------------------------------------------------------------------------

    async def send(self, command: SendNotification, message_id: str) -> None:
        """Send `command` once under `message_id` (the command's own id when it has one)."""
        if command.audience == "seller":
            await self._tell_seller(command)
            return
        # A command handed to the bus straight away has no outbox id: it gets one of its own.
        message_id = command.message_id or message_id or new_id("msg")
        kind = self._policy.message_type(command.template)
        if command.channel:  # only the channel the sender chose (a campaign's)
            kind = replace(kind, channels=(Channel(command.channel),))
        delivery, prior, recipient = await self._claim(message_id, command, kind)
        if recipient is None:
            return  # the customer was erased; there is nobody to tell
        if delivery is None:
            return  # sent, being sent, or waiting for its hour: never twice
        try:
            await self._dispatch(delivery, command, kind, recipient)
        except BaseException:
            await self._release(message_id, prior)
            raise

    async def _claim(self, message_id: str, command: SendNotification, kind: MessageType
                     ) -> tuple[Delivery | None, Delivery | None, Recipient | None]:
        """Take the message for this process, reading its recipient (None: erased, nothing
        taken) with it: its record as held now (None: not ours to send), and as it was
        before (None when new; a deferred one whose hour came, or a claim whose sender
        died). The recipient's suppressed addresses are read in the same statement."""
        now = self._clock.now()
        fresh = Delivery(message_id, command.customer_id, command.template, S.SENDING, now, now,
                         params=dict(command.params) if kind.promotional else {})
        channels = [channel for channel in kind.channels if self._policy.senders.get(channel)]
        async with self._uow(autocommit=True) as unit:
            deliveries = unit.messages.deliveries
            claim = await deliveries.claim_reaching(fresh, [str(c) for c in channels])
            if claim.reachable is None:
                return None, None, None
            recipient = Recipient(*claim.reachable)
            # Every address that may be tried, whatever the consents decide after; the
            # store's keys are trusted only when they are ours.
            keys = [address_key(channel, address) for channel in channels
                    for address in recipient.addresses(channel)]
            recipient.suppressed = (claim.suppressed if sorted(keys) == sorted(claim.address_keys)
                                    else await deliveries.suppressions(keys))
            found = claim.found
            if found is None:
                return fresh, None, recipient
            # Only a retry comes this way: the first send of a message is the insert above.
            if found.status in (S.DEFERRED, S.SENDING) and await deliveries.take_over(
                    message_id, now, now - self._claim_lease):
                return replace(found, status=S.SENDING, updated_at=now), found, recipient
        if found.status == S.SENDING:
            raise MessageInFlight(f"message {message_id} is being sent since "
                                  f"{found.updated_at.isoformat()}")
        return None, found, recipient

    async def _release(self, message_id: str, prior: Delivery | None) -> None:
        """Give the message back for a retry: as it was before this attempt."""
        async with self._uow(autocommit=True) as unit:
            if prior is None:
                await unit.messages.deliveries.remove(message_id)
            else:
                await unit.messages.deliveries.save(prior)

    async def _dispatch(self, delivery: Delivery, command: SendNotification, kind: MessageType,
                        recipient: Recipient) -> None:
        customer = recipient.customer
        local_now = self._clock.now().astimezone(
            time_zone_of(customer.time_zone, customer.jurisdiction))
        verdicts = {channel: rules.decide(
            promotional=kind.promotional, channel=channel,
            korean=customer.jurisdiction == "KR", consents=recipient.consents,
            local_now=local_now) for channel in kind.channels}
        if not any(v.send for v in verdicts.values()):
            waiting = [v for v in verdicts.values() if v.not_before is not None]
            if waiting:
                await self._defer(delivery, waiting[0])
            else:
                await self._not_sent(delivery, S.SUPPRESSED, "no_consent")
            return
        params = dict(command.params)
        if command.mint:
            # Links are minted now, at sending, so no live token waits in a table.
            params.update(self._links.mint(command.mint, customer))
        attempts = Attempts()
        for channel in kind.channels:
            verdict = verdicts[channel]
            if verdict.send and await self._try_channel(
                    delivery, command, kind, recipient, channel, verdict, params, attempts):
                return
        if attempts.unavailable:
            raise ProviderUnavailable(
                f"no provider could take message {delivery.message_id} now (tried "
                f"{', '.join(attempts.unavailable)})", request_sent=False)
        reason = (attempts.refused[-1] if attempts.refused
                  else "suppressed" if attempts.suppressed else "no_address")
        await self._not_sent(delivery, S.FAILED if attempts.refused else S.SUPPRESSED, reason)

    async def _try_channel(self, delivery: Delivery, command: SendNotification,
                           kind: MessageType,
                           recipient: Recipient, channel: Channel, verdict: rules.Verdict,
                           params: Mapping[str, Any], attempts: Attempts) -> bool:
        senders = self._policy.senders.get(channel, ())
        customer = recipient.customer
        language = language_of(customer.language, customer.jurisdiction)
        for address in recipient.addresses(channel):
            key = address_key(channel, address)
            if not senders:
                continue
            if recipient.is_suppressed(key, kind.promotional):
                attempts.suppressed = True
                continue
            content = self._content(command.template, channel, language, params, customer,
                                    kind.promotional, verdict)
            headers: dict[str, str] = {}
            if kind.promotional and channel == Channel.EMAIL and self._unsubscribe:
                headers = self._unsubscribe.headers(customer.id, MARKETING_CONSENT[channel])
            envelope = Envelope(delivery.message_id, channel.value, address, content,
                                kind.promotional, headers, template=command.template,
                                params=params)
            for sender in senders:
                if getattr(sender, "in_process", False):
                    # It keeps the message in our own database (the dev mailbox): written
                    # in the unit that records the outcome, both commit as one.
                    async with self._uow() as unit:
                        receipt = await sender.send(envelope)
                        await self._sent(delivery, command, channel, address, receipt,
                                         verdict, params, unit)
                    return True
                try:
                    receipt = await sender.send(envelope)
                except ProviderUnavailable:
                    attempts.unavailable.append(f"{channel}:{sender.name}")
                    continue
                except RecipientRejected as refusal:
                    attempts.refused.append(refusal.reason)
                    await self._refused(customer.id, channel, address, sender.name, refusal)
                    break  # this address: the next one, or the next channel
                async with self._uow() as unit:
                    await self._sent(delivery, command, channel, address, receipt, verdict,
                                     params, unit)
                return True
        return False

    def _content(self, template: str, channel: Channel, language: str,
                 params: Mapping[str, Any], customer: Customer, promotional: bool,
                 verdict: rules.Verdict) -> RenderedMessage:
        shown = {"time_zone": time_zone_of(customer.time_zone, customer.jurisdiction).key,
                 **params}
        about = str(params.get("purpose", ""))
        if about in REMINDED and self._unsubscribe:  # a notice about a consent: its way out
            shown["unsubscribe_url"] = self._unsubscribe.url(customer.id, about)
        opt_out = ""
        if promotional:  # the templates name the sender and the way out
            opt_out = (self._unsubscribe.url(customer.id, MARKETING_CONSENT[channel])
                       if self._unsubscribe else "PUT /v1/me/consents")
            shown.update(sender_name=self._policy.sender_name, unsubscribe_url=opt_out)
        content = self._renderer.render(template, channel.value, language, shown)
        if not verdict.labelled:
            return content
        subject, text = rules.marked(channel, content.subject, content.text)
        body = content.html
        if opt_out not in text:  # a template that does not say it: the rules' own words
            footer = rules.footer(sender=self._policy.sender_name, opt_out=opt_out,
                                  korean=language == "ko")
            text = f"{text.rstrip()}\n\n{footer}"
            body = f"{body}\n<p>{html.escape(footer)}</p>" if body else body
        return RenderedMessage(subject, text, body)

    # --- outcomes --------------------------------------------------------------------------

    async def _sent(self, delivery: Delivery, command: SendNotification, channel: Channel,
                    address: str, receipt: SendReceipt, verdict: rules.Verdict,
                    params: Mapping[str, Any], unit: UnitOfWork) -> None:
        """Record the message sent, and commit `unit` with it."""
        now = self._clock.now()
        delivery.channel, delivery.provider = channel.value, receipt.provider
        delivery.provider_message_id = receipt.provider_message_id
        delivery.masked_address = masked(channel, address)
        delivery.address_key = address_key(channel, address)
        delivery.template_version = self._renderer.version(command.template)
        delivery.consent = ",".join(verdict.consent)
        delivery.status, delivery.updated_at = S(receipt.status), now
        delivery.params = {}
        await unit.messages.deliveries.save(delivery)
        await unit.messages.notifications.log(delivery.customer_id, channel.value,
                                              command.template, str(params.get("order_id", "")))
        await _evidence(unit, "message.sent", delivery, outcome=receipt.status)
        await commit_result(unit)
        # No message id: a campaign's or a reminder's names the customer.
        log.info("message %s %s by %s/%s", delivery.template, receipt.status, channel.value,
                 receipt.provider)

    async def _defer(self, delivery: Delivery, verdict: rules.Verdict) -> None:
        async with self._uow() as unit:
            assert verdict.not_before is not None
            delivery.status, delivery.error_code = S.DEFERRED, verdict.reason
            delivery.not_before = verdict.not_before
            delivery.consent = ",".join(verdict.consent)
            await unit.messages.deliveries.save(delivery)
            await _evidence(unit, "message.deferred", delivery, outcome="deferred",
                            not_before=verdict.not_before.isoformat())
            await commit_result(unit)

    async def _not_sent(self, delivery: Delivery, status: DeliveryStatus, reason: str) -> None:
        async with self._uow() as unit:
            delivery.status, delivery.error_code = status, reason
            delivery.updated_at, delivery.params = self._clock.now(), {}
            await unit.messages.deliveries.save(delivery)
            await _evidence(unit, "message.not_sent", delivery, outcome=reason)
            await commit_result(unit)
        log.info("message %s not sent: %s", delivery.template, reason)

    async def _refused(self, customer_id: str, channel: Channel, address: str, provider: str,
                       refusal: RecipientRejected) -> None:
        """The provider will never reach `address`: never try it again."""
        async with self._uow() as unit:
            if refusal.reason in ("hard_bounce", "complaint", "invalid_address"):
                await unit.messages.deliveries.suppress(address_key(channel, address),
                                                        channel.value, refusal.reason)
            elif refusal.reason == "opted_out":
                await record_opt_out(unit, customer_id, channel, source=f"provider:{provider}")
            elif refusal.reason == "unregistered":
                await unit.devices.remove(address, customer_id)
            await unit.evidence.append(EvidenceDraft(
                source="messaging", kind="recipient.rejected", subject=f"customer:{customer_id}",
                context={"provider": provider, "channel": channel.value},
                payload={"reason": refusal.reason, "to": masked(channel, address)}))
            await unit.commit()

    async def _tell_seller(self, command: SendNotification) -> None:
        # Sellers are told on the operators' notice channel: they have no address here yet.
        owner = f"seller:{command.seller_id}"
        await self._seller_notices.send(Notification("email", owner, command.template,
                                                     command.params))
        async with self._uow() as unit:
            await unit.messages.notifications.log(owner, "email", command.template,
                                                  str(command.params.get("order_id", "")))
            await commit_result(unit)

    # --- afterwards ------------------------------------------------------------------------

    async def given_up(self, command: SendNotification, message_id: str,
                       error: Exception) -> None:
        """The outbox stopped retrying: the record says FAILED (unless it went meanwhile)."""
        message_id = command.message_id or message_id
        if command.audience == "seller" or not message_id:
            return
        now, reason = self._clock.now(), type(error).__name__[:64]
        gone = Delivery(message_id, command.customer_id, command.template, S.FAILED, now, now,
                        error_code=reason)
        async with self._uow() as unit:
            found = await unit.messages.deliveries.claim(gone)
            if found is not None and found.status not in (S.DEFERRED, S.SENDING):
                return  # sent, or ended otherwise, after all
            if found is not None:
                found.status, found.error_code, found.updated_at = S.FAILED, reason, now
                found.params, gone = {}, found
                await unit.messages.deliveries.save(found)
            await _evidence(unit, "message.not_sent", gone, outcome="given_up",
                            error=reason)
            await unit.commit()
        log.warning("message %s given up: %s", command.template, reason)

    async def record_status(self, provider: str, provider_message_id: str,
                            status: DeliveryStatus, error_code: str = "") -> bool:
        """A provider's word on a message it took (a status callback, a bounce); True when
        the record moved. Statuses only move forward; a bounce suppresses the address."""
        now = self._clock.now()
        async with self._uow() as unit:
            delivery = await unit.messages.deliveries.by_provider_id(provider,
                                                                     provider_message_id)
            if delivery is None or not delivery.advance(status, now, error_code):
                return False
            await unit.messages.deliveries.save(delivery)
            if status == S.BOUNCED and delivery.address_key:
                reason = "complaint" if error_code == "complaint" else "hard_bounce"
                await unit.messages.deliveries.suppress(delivery.address_key, delivery.channel,
                                                        reason)
            await _evidence(unit, "message.status", delivery, outcome=status.value,
                            error_code=error_code[:64])
            await unit.commit()
        return True

    async def remind_consents(self, batch: int = 500) -> int:
        """Remind every customer of each marketing opt-in two years old or more, once per
        two-year cycle (the reminder's message id says which); how many were queued."""
        now, after, queued = self._clock.now(), "", 0
        while True:
            async with self._uow(read_only=True) as unit:
                page = await unit.customers.consents.granted_before(
                    list(REMINDED), now - rules.REMINDER_EVERY, after, batch)
                due = {rules.reminder_message_id(who, purpose, at, now): (who, purpose, at)
                       for who, purpose, at in page}
                due = {k: v for k, v in due.items()
                       if k not in await unit.messages.deliveries.known(list(due))}
            if due:
                async with self._uow() as unit:
                    for message_id, (who, purpose, at) in due.items():
                        # Its record says it is on its way: the next look skips it.
                        await unit.messages.deliveries.claim(Delivery(
                            message_id, who, CONSENT_REMINDER, S.DEFERRED, now, now))
                        await send(unit, SendNotification(
                            CONSENT_REMINDER, {"purpose": purpose, "granted_at": at.isoformat()},
                            customer_id=who, message_id=message_id))
                    await commit_and_dispatch(unit, self._queue)
                queued += len(due)
            if len(page) < batch:
                return queued
            after = f"{page[-1][0]}|{page[-1][1]}"

    async def send_due(self, limit: int = 500) -> int:
        """Hand the deferred messages whose hour has come back to the workers, under their
        own message ids; how many."""
        now = self._clock.now()
        async with self._uow() as unit:
            due = await unit.messages.deliveries.due(now, limit)
            for delivery in due:
                await send(unit, SendNotification(delivery.template, delivery.params,
                                                  customer_id=delivery.customer_id,
                                                  message_id=delivery.message_id))
                delivery.not_before = None  # released: the command sends it
                await unit.messages.deliveries.save(delivery)
            await commit_and_dispatch(unit, self._queue)
        return len(due)


async def _evidence(unit: UnitOfWork, kind: str, delivery: Delivery, *, outcome: str,
                    **more: str) -> None:
    """What an audit needs of a send: no body, the address masked."""
    await unit.evidence.append(EvidenceDraft(
        source="messaging", kind=kind, subject=f"customer:{delivery.customer_id}",
        context={"message_id": delivery.message_id},
        payload={"template": delivery.template, "version": delivery.template_version,
                 "channel": delivery.channel, "provider": delivery.provider,
                 "provider_message_id": delivery.provider_message_id,
                 "to": delivery.masked_address, "consent": delivery.consent,
                 "outcome": outcome, **more}))

