"""The CampaignStore port (application/campaigns.py) on the `campaign` and
`campaign_recipient` tables.

Its queries join whatever transaction is open on the engine (piccolo's): called inside a unit
of work, recipients move to queued with the commands that send them, or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from piccolo.columns import Column
from piccolo.query.functions.aggregate import Count, Max

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, _load
from application.campaigns import Recipient
from domain.campaigns import (
    Audience,
    Campaign,
    CampaignStatus,
    Candidate,
    RecipientStatus,
    message_id,
)
from domain.customers import Role
from domain.messages import Channel, DeliveryStatus

C, R = t.Campaign, t.CampaignRecipient
D = DeliveryStatus
_SETTLED_BY_DELIVERY: dict[str, RecipientStatus] = {
    D.QUEUED: RecipientStatus.SENT, D.SENT: RecipientStatus.SENT,
    D.DELIVERED: RecipientStatus.SENT, D.FAILED: RecipientStatus.FAILED,
    D.BOUNCED: RecipientStatus.FAILED,
    D.SUPPRESSED: RecipientStatus.SKIPPED,  # no consent any more, or a suppressed address
}


def _campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(
        id=row["id"], name=row["name"], channel=Channel(row["channel"]),
        template=row["template"], audience=Audience.from_dict(_load(row["audience"]) or {}),
        created_by=row["created_by"], created_at=_at(row["created_at"]),
        params=_load(row["params"]) or {}, status=CampaignStatus(row["status"]),
        send_at=_at(row["send_at"]), started_at=_at(row["started_at"]),
        finished_at=_at(row["finished_at"]))


def _values(campaign: Campaign) -> dict[Column | str, Any]:
    return {C.name: campaign.name, C.channel: campaign.channel.value,
            C.template: campaign.template, C.params: _dump(campaign.params),
            C.audience: _dump(campaign.audience.as_dict()), C.status: campaign.status.value,
            C.send_at: campaign.send_at, C.started_at: campaign.started_at,
            C.finished_at: campaign.finished_at}


class PiccoloCampaigns:
    async def add(self, campaign: Campaign) -> None:
        await C.insert(C(id=campaign.id, created_by=campaign.created_by,
                         created_at=campaign.created_at,
                         **{column._meta.name: value
                            for column, value in _values(campaign).items()
                            if isinstance(column, Column)}))

    async def get(self, campaign_id: str) -> Campaign | None:
        row = await C.select().where(C.id == campaign_id).first()
        return _campaign(row) if row is not None else None

    async def save(self, campaign: Campaign) -> None:
        await C.update(_values(campaign)).where(C.id == campaign.id)

    async def latest(self, limit: int) -> list[Campaign]:
        rows = await C.select().order_by(C.created_at, ascending=False).limit(limit)
        return [_campaign(row) for row in rows]

    async def with_status(self, status: CampaignStatus, limit: int) -> list[Campaign]:
        rows = await C.select().where(C.status == status.value).order_by(
            C.created_at).limit(limit)
        return [_campaign(row) for row in rows]

    async def lease(self, campaign_id: str, holder: str, now: datetime,
                    until: datetime) -> bool:
        held = await C.update({C.lease_holder: holder, C.lease_until: until}).where(
            (C.id == campaign_id) & (C.status == CampaignStatus.SENDING.value)
            & (C.lease_until.is_null() | (C.lease_until < now) | (C.lease_holder == holder))
        ).returning(C.id)
        return bool(held)

    async def release(self, campaign_id: str, holder: str) -> None:
        await C.update({C.lease_holder: "", C.lease_until: None}).where(
            (C.id == campaign_id) & (C.lease_holder == holder))

    async def audience_progress(self, campaign_id: str) -> tuple[str, bool]:
        row = await C.select(C.audience_cursor, C.audience_built).where(
            C.id == campaign_id).first()
        if row is None:
            return "", True
        return str(row["audience_cursor"]), bool(row["audience_built"])

    async def candidates(self, after_customer_id: str, limit: int) -> list[Candidate]:
        rows = await t.Customer.select().where(
            (t.Customer.id > after_customer_id) & (t.Customer.role == Role.CUSTOMER.value)
        ).order_by(t.Customer.id).limit(limit)
        return await self._candidates(rows)

    async def _candidates(self, customers: list[dict[str, Any]]) -> list[Candidate]:
        ids = [row["id"] for row in customers]
        if not ids:
            return []
        consents: dict[str, dict[str, bool]] = defaultdict(dict)
        for row in await t.Consent.select(t.Consent.customer_id, t.Consent.purpose,
                                          t.Consent.granted).where(
                t.Consent.customer_id.is_in(ids)):
            consents[row["customer_id"]][row["purpose"]] = bool(row["granted"])
        last_orders = {row["customer_id"]: _at(row["last"]) for row in await t.Order.select(
            t.Order.customer_id, Max(t.Order.created_at, alias="last")).where(
            t.Order.customer_id.is_in(ids)).group_by(t.Order.customer_id)}
        # language and time_zone are the customer's contact details, when the schema has them.
        return [Candidate(row["id"], consents[row["id"]], row["jurisdiction"],
                          row.get("language") or "", row.get("time_zone") or "",
                          last_orders.get(row["id"]))
                for row in customers]

    async def add_recipients(self, campaign: Campaign, customer_ids: list[str], cursor: str,
                             complete: bool) -> int:
        added = 0
        if customer_ids:
            rows = [R(id=message_id(campaign.id, customer_id), campaign_id=campaign.id,
                      customer_id=customer_id, channel=campaign.channel.value,
                      status=RecipientStatus.PENDING.value) for customer_id in customer_ids]
            added = len(await R.insert(*rows).on_conflict(
                target=R.id, action="DO NOTHING").returning(R.id))
        await C.update({C.audience_cursor: cursor, C.audience_built: complete}).where(
            C.id == campaign.id)
        return added

    async def due_recipients(self, campaign_id: str, now: datetime,
                             limit: int) -> list[Recipient]:
        rows = await R.select(R.id, R.customer_id).where(
            (R.campaign_id == campaign_id) & (R.status == RecipientStatus.PENDING.value)
            & (R.not_before.is_null() | (R.not_before <= now))
        ).order_by(R.customer_id).limit(limit)
        customers = await t.Customer.select().where(
            t.Customer.id.is_in([row["customer_id"] for row in rows])) if rows else []
        found = {c.customer_id: c for c in await self._candidates(customers)}
        gone = [row["id"] for row in rows if row["customer_id"] not in found]
        if gone:  # erased since the audience was written down: nobody to send to
            await R.update({R.status: RecipientStatus.SKIPPED.value, R.settled_at: now}).where(
                R.id.is_in(gone))
        return [Recipient(row["id"], found[row["customer_id"]]) for row in rows
                if row["customer_id"] in found]

    async def queue(self, recipient_id: str, outbox_id: str, now: datetime) -> bool:
        moved = await R.update({R.status: RecipientStatus.QUEUED.value, R.queued_at: now,
                                R.outbox_id: outbox_id}).where(
            (R.id == recipient_id) & (R.status == RecipientStatus.PENDING.value)
        ).returning(R.id)
        return bool(moved)

    async def skip(self, recipient_id: str, now: datetime) -> None:
        await R.update({R.status: RecipientStatus.SKIPPED.value, R.settled_at: now}).where(
            (R.id == recipient_id) & (R.status == RecipientStatus.PENDING.value))

    async def defer(self, recipient_id: str, not_before: datetime) -> None:
        await R.update({R.not_before: not_before}).where(R.id == recipient_id)

    async def queued_since(self, channel: Channel, since: datetime) -> int:
        return int(await R.count().where((R.channel == channel.value) & (R.queued_at >= since)))

    async def skip_pending(self, campaign_id: str, now: datetime) -> int:
        skipped = await R.update({R.status: RecipientStatus.SKIPPED.value,
                                  R.settled_at: now}).where(
            (R.campaign_id == campaign_id) & (R.status == RecipientStatus.PENDING.value)
        ).returning(R.id)
        return len(skipped)

    async def settle_queued(self, now: datetime, limit: int) -> int:
        queued = await R.select(R.id, R.outbox_id).where(
            R.status == RecipientStatus.QUEUED.value).order_by(R.queued_at).limit(limit)
        if not queued:
            return 0
        ended = {row["id"]: row["status"] for row in await t.OutboxMessage.select(
            t.OutboxMessage.id, t.OutboxMessage.status).where(
            t.OutboxMessage.id.is_in([row["outbox_id"] for row in queued if row["outbox_id"]]))}
        delivered = await self._delivery_statuses([row["id"] for row in queued])
        settled: dict[str, list[str]] = defaultdict(list)
        for row in queued:
            status = _settled(delivered.get(row["id"]), ended.get(row["outbox_id"]))
            if status is not None:
                settled[status].append(row["id"])
        for status, ids in settled.items():
            await R.update({R.status: status, R.settled_at: now}).where(
                R.id.is_in(ids) & (R.status == RecipientStatus.QUEUED.value))
        return sum(len(ids) for ids in settled.values())

    async def _delivery_statuses(self, message_ids: list[str]) -> dict[str, str]:
        deliveries = getattr(t, "MessageDelivery", None)  # the dispatcher's records
        if deliveries is None or not message_ids:
            return {}
        rows = await deliveries.select(deliveries.message_id, deliveries.status).where(
            deliveries.message_id.is_in(message_ids))
        return {row["message_id"]: row["status"] for row in rows}

    async def figures(self, campaign_id: str) -> dict[str, int]:
        rows = await R.select(R.status, Count(alias="n")).where(
            R.campaign_id == campaign_id).group_by(R.status)
        counts = {status.value: 0 for status in RecipientStatus}
        counts.update({row["status"]: int(row["n"]) for row in rows})
        return counts

    async def deliveries(self, campaign_id: str) -> dict[str, int]:
        deliveries = getattr(t, "MessageDelivery", None)
        if deliveries is None:
            return {}
        rows = await deliveries.select(deliveries.status, Count(alias="n")).where(
            deliveries.message_id.like(f"cmp:{campaign_id}:%")).group_by(deliveries.status)
        return {row["status"]: int(row["n"]) for row in rows}


def _settled(delivery: str | None, outbox: str | None) -> str | None:
    """Where a queued recipient ended: by the dispatcher's record of the message when there
    is one, else by whether its command was done; None while it is on its way."""
    if delivery is not None:
        settled = _SETTLED_BY_DELIVERY.get(delivery)
        return settled.value if settled is not None else None  # deferred or being sent
    if outbox == "done":
        return RecipientStatus.SENT.value
    if outbox == "dead":
        return RecipientStatus.FAILED.value
    return None
