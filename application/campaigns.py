"""Promotional campaigns: the operators define and follow them; the worker sends them.

Sending is a periodic job. It starts campaigns whose time has come, writes each one's
audience down as recipient rows (unique per campaign and customer, page by page), and hands
recipients to the dispatcher in batches sized by the channel's rate limit: in ONE transaction
per batch the rows move pending → queued and a SendNotification per recipient is written to
the outbox under its own message id (`cmp:<campaign>:<customer>`). A worker that dies
before that commit leaves the rows pending for the next run; one that dies after it leaves the
commands to the outbox, which performs them and never sends one message id twice. So each
recipient is queued once, whatever dies when.

Recipients in their quiet hours (21:00 to 08:00 their time) without night-time consent stay
pending until 08:00 (`not_before`); consent is checked again by the dispatcher at sending.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from application.ports import Clock, TaskQueue, UnitOfWork, UnitOfWorkFactory
from application.transactions import commit_and_dispatch, new_id, send
from domain.campaigns import (
    Audience,
    Campaign,
    CampaignStatus,
    Candidate,
    RecipientStatus,
    batch_size,
    in_audience,
    quiet_until,
)
from domain.commands import SendNotification
from domain.errors import NotFound
from domain.evidence import EvidenceDraft
from domain.messages import MARKETING_CONSENT, Channel

log = logging.getLogger("mall.campaigns")

AUDIENCE_PAGE = 500  # customers looked at per transaction when writing the audience down
AUDIENCE_PAGES_PER_RUN = 20  # then the run goes on to the campaign's next batch
LARGEST_BATCH = 200  # recipients queued in one transaction
DEFAULT_PER_MINUTE = {Channel.EMAIL: 600, Channel.SMS: 60, Channel.PUSH: 600}


@dataclass(frozen=True)
class Recipient:
    """A recipient row with what the quiet-hours rule needs about the customer."""

    id: str  # the message id
    candidate: Candidate


class CampaignStore(Protocol):
    """Campaigns and their recipients. Queries join the unit of work open around them, so a
    recipient's move and its command commit together."""

    async def add(self, campaign: Campaign) -> None: ...
    async def get(self, campaign_id: str) -> Campaign | None: ...
    async def save(self, campaign: Campaign) -> None: ...
    async def latest(self, limit: int) -> list[Campaign]: ...
    async def with_status(self, status: CampaignStatus, limit: int) -> list[Campaign]: ...

    async def lease(self, campaign_id: str, holder: str, now: datetime,
                    until: datetime) -> bool:
        """Hold a sending campaign for one sender until `until` (taken over once it
        passes); True when `holder` holds it now."""
        ...

    async def release(self, campaign_id: str, holder: str) -> None:
        """Let go of the campaign, if `holder` holds it."""
        ...

    async def audience_progress(self, campaign_id: str) -> tuple[str, bool]:
        """The last customer id written down and whether the whole audience is."""
        ...

    async def candidates(self, after_customer_id: str, limit: int) -> list[Candidate]:
        """Customers in id order after `after_customer_id`, with what the rules look at."""
        ...

    async def add_recipients(self, campaign: Campaign, customer_ids: list[str], cursor: str,
                             complete: bool) -> int:
        """Write recipients down (pending; those already there are left as they are) and
        where the audience stands; how many were new."""
        ...

    async def due_recipients(self, campaign_id: str, now: datetime,
                             limit: int) -> list[Recipient]:
        """Pending recipients whose `not_before` is past, in customer order."""
        ...

    async def queue(self, recipient_id: str, outbox_id: str, now: datetime) -> bool:
        """pending → queued; False when it was not pending any more."""
        ...

    async def defer(self, recipient_id: str, not_before: datetime) -> None: ...

    async def queued_since(self, channel: Channel, since: datetime) -> int:
        """Recipients of every campaign on `channel` queued at or after `since`."""
        ...

    async def skip(self, recipient_id: str, now: datetime) -> None:
        """pending → skipped."""
        ...

    async def skip_pending(self, campaign_id: str, now: datetime) -> int: ...

    async def settle_queued(self, now: datetime, limit: int) -> int:
        """Queued recipients whose message has ended move to sent or failed."""
        ...

    async def figures(self, campaign_id: str) -> dict[str, int]:
        """Recipients by status (every RecipientStatus listed)."""
        ...

    async def deliveries(self, campaign_id: str) -> dict[str, int]:
        """The dispatcher's delivery statuses of the campaign's messages (empty without)."""
        ...


class Campaigns:
    def __init__(self, uow: UnitOfWorkFactory, store: CampaignStore, clock: Clock,
                 queue: TaskQueue, per_minute: Mapping[str, int] | None = None,
                 send_interval: timedelta = timedelta(seconds=5),
                 lease: timedelta = timedelta(seconds=60)) -> None:
        self._uow, self._store, self._clock, self._queue = uow, store, clock, queue
        self._per_minute = {**DEFAULT_PER_MINUTE,
                            **{Channel(k): v for k, v in (per_minute or {}).items()}}
        self._interval, self._lease = send_interval, lease

    # --- the operators ---------------------------------------------------------------------

    async def define(self, *, name: str, channel: Channel, template: str, audience: Audience,
                     params: dict[str, Any], admin_id: str,
                     send_at: datetime | None = None) -> dict[str, Any]:
        now = self._clock.now()
        campaign = Campaign.define(campaign_id=new_id("cmp"), name=name, channel=channel,
                                   template=template, audience=audience, params=params,
                                   created_by=admin_id, now=now)
        if send_at is not None:
            campaign.schedule(send_at, now)
        async with self._uow() as uow:
            await self._store.add(campaign)
            await _record(uow, campaign, "defined", admin_id, {
                "channel": channel.value, "template": template,
                "audience": audience.as_dict(), "send_at": _iso(campaign.send_at)})
            await uow.commit()
        log.info("campaign %s defined by %s (%s)", campaign.id, admin_id, campaign.status)
        return await self.view(campaign.id)

    async def schedule(self, campaign_id: str, send_at: datetime,
                       admin_id: str) -> dict[str, Any]:
        async with self._uow() as uow:
            campaign = await self._campaign(campaign_id)
            campaign.schedule(send_at, self._clock.now())
            await self._store.save(campaign)
            await _record(uow, campaign, "scheduled", admin_id,
                          {"send_at": _iso(campaign.send_at)})
            await uow.commit()
        return await self.view(campaign_id)

    async def cancel(self, campaign_id: str, admin_id: str) -> dict[str, Any]:
        """Stop it: recipients not queued yet are skipped (those queued are on their way)."""
        async with self._uow() as uow:
            campaign = await self._campaign(campaign_id)
            campaign.cancel(self._clock.now())
            await self._store.save(campaign)
            skipped = await self._store.skip_pending(campaign_id, self._clock.now())
            await _record(uow, campaign, "cancelled", admin_id, {"skipped": skipped})
            await uow.commit()
        log.info("campaign %s cancelled; %d recipients skipped", campaign_id, skipped)
        return await self.view(campaign_id)

    async def view(self, campaign_id: str) -> dict[str, Any]:
        async with self._uow(read_only=True):
            campaign = await self._campaign(campaign_id)
            figures = await self._store.figures(campaign_id)
            deliveries = await self._store.deliveries(campaign_id)
        return _view(campaign, figures, deliveries)

    async def latest(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self._uow(read_only=True):
            campaigns = await self._store.latest(limit)
            return [_view(c, await self._store.figures(c.id), {}) for c in campaigns]

    async def _campaign(self, campaign_id: str) -> Campaign:
        campaign = await self._store.get(campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found")
        return campaign

    # --- the worker ------------------------------------------------------------------------

    async def send_due(self) -> int:
        """One run of the sending job: start what is due, then one batch per sending
        campaign; how many recipients were queued."""
        now = self._clock.now()
        await self._start_due(now)
        queued = 0
        async with self._uow(read_only=True):
            sending = await self._store.with_status(CampaignStatus.SENDING, 100)
        holder = secrets.token_hex(8)
        for campaign in sending:
            async with self._uow(autocommit=True):
                held = await self._store.lease(campaign.id, holder, now, now + self._lease)
            if not held:
                continue  # another sender has it, or had it and died (until its lease ends)
            try:
                queued += await self._advance(campaign, holder)
            finally:
                async with self._uow(autocommit=True):
                    await self._store.release(campaign.id, holder)
        async with self._uow(autocommit=True):
            await self._store.settle_queued(self._clock.now(), 1000)
        return queued

    async def _start_due(self, now: datetime) -> None:
        async with self._uow(read_only=True):
            scheduled = await self._store.with_status(CampaignStatus.SCHEDULED, 100)
        for campaign in scheduled:
            if not campaign.due(now):
                continue
            async with self._uow() as uow:
                current = await self._store.get(campaign.id)
                if current is None or not current.due(now):
                    continue  # started, cancelled or moved by someone else meanwhile
                current.start(now)
                await self._store.save(current)
                await uow.commit()
            log.info("campaign %s started", campaign.id)

    async def _advance(self, campaign: Campaign, holder: str) -> int:
        """Write the audience down (some pages of it a run), then queue a batch, or finish
        the campaign."""
        async with self._uow(read_only=True):
            cursor, complete = await self._store.audience_progress(campaign.id)
        for _ in range(AUDIENCE_PAGES_PER_RUN):
            if complete:
                return await self._queue_batch(campaign, holder)
            cursor, complete = await self._write_audience_page(campaign, cursor)
        return 0

    async def _write_audience_page(self, campaign: Campaign, cursor: str) -> tuple[str, bool]:
        """One page of customers after `cursor`, those in the audience written down with
        where the audience stands, in one transaction; the new cursor, and whether done."""
        async with self._uow() as uow:
            page = await self._store.candidates(cursor, AUDIENCE_PAGE)
            chosen = [c.customer_id for c in page
                      if in_audience(c, campaign.audience, campaign.channel)]
            last = page[-1].customer_id if page else cursor
            complete = len(page) < AUDIENCE_PAGE
            await self._store.add_recipients(campaign, chosen, last, complete=complete)
            await uow.commit()
        return last, complete

    async def _queue_batch(self, campaign: Campaign, holder: str) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            # Held again in this transaction: a sender whose lease ran out meanwhile (a long
            # pause) finds it taken and queues nothing; a cancel waits for this commit.
            if not await self._store.lease(campaign.id, holder, now, now + self._lease):
                return 0
            current = await self._store.get(campaign.id)
            if current is None or current.status != CampaignStatus.SENDING:
                return 0
            since = now - timedelta(minutes=1)
            room = batch_size(self._per_minute[campaign.channel],
                              await self._store.queued_since(campaign.channel, since),
                              self._interval, LARGEST_BATCH)
            if room == 0:
                return 0
            due = await self._store.due_recipients(campaign.id, now, room)
            if not due:
                if await self._finished(campaign.id):
                    current.finish(now)
                    await self._store.save(current)
                    await uow.commit()
                    log.info("campaign %s done", campaign.id)
                return 0
            queued = 0
            for recipient in due:
                if not recipient.candidate.consents.get(MARKETING_CONSENT[current.channel]):
                    await self._store.skip(recipient.id, now)  # withdrawn since
                    continue
                wait = quiet_until(recipient.candidate, now)
                if wait is not None:
                    await self._store.defer(recipient.id, wait)
                    continue
                # The dispatcher sends a message id once: a command performed twice (a
                # worker died after sending) is not sent twice.
                outbox_id = await send(uow, SendNotification(
                    template=current.template, customer_id=recipient.candidate.customer_id,
                    message_id=recipient.id, channel=current.channel.value,
                    params={**current.params, "campaign_id": current.id}))
                if await self._store.queue(recipient.id, outbox_id, now):
                    queued += 1
                else:  # moved by someone else meanwhile: nothing of this one is kept
                    raise RuntimeError(f"recipient {recipient.id} changed under the batch")
            await commit_and_dispatch(uow, self._queue)
        return queued

    async def _finished(self, campaign_id: str) -> bool:
        figures = await self._store.figures(campaign_id)
        return figures[RecipientStatus.PENDING] == 0


async def _record(uow: UnitOfWork, campaign: Campaign, step: str, admin_id: str,
                  payload: dict[str, Any]) -> None:
    """Evidence of what an operator did to a campaign (no recipient in it)."""
    await uow.evidence.append(EvidenceDraft(
        source="admin", kind=f"campaign.{step}", subject=f"campaign:{campaign.id}",
        context={"admin_id": admin_id}, payload={"name": campaign.name, **payload}))


def _view(campaign: Campaign, figures: dict[str, int],
          deliveries: dict[str, int]) -> dict[str, Any]:
    total = sum(figures.values())
    handed = total - figures.get(RecipientStatus.PENDING, 0)
    return {
        "id": campaign.id, "name": campaign.name, "channel": campaign.channel.value,
        "template": campaign.template, "params": campaign.params,
        "audience": campaign.audience.as_dict(), "status": campaign.status.value,
        "send_at": _iso(campaign.send_at), "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at), "created_at": _iso(campaign.created_at),
        "created_by": campaign.created_by,
        "recipients": total, "figures": figures, "deliveries": deliveries,
        "progress": round(handed / total, 4) if total else 0.0,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
