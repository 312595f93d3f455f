"""Erasure, export and retention of personal data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.custom_types import Combinable
from piccolo.table import Table

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, _with_iso
from application.ports import Clock
from domain.redaction import card_safe_id

ERASED = "[erased]"


class PrivacyRepository:
    """Erasure, export and retention across every table that can hold personal data."""

    def __init__(self, clock: Clock, purge_batch: int = 5_000) -> None:
        self._clock = clock
        self._purge_batch = purge_batch  # rows deleted per statement by retention

    async def export(self, customer_id: str) -> dict[str, Any]:
        """Everything held about the customer; times in ISO-8601, failed sign-ins in epoch
        seconds, as the export has always given them."""
        customer = await t.Customer.select(
            t.Customer.id, t.Customer.email, t.Customer.role, t.Customer.created_at,
            t.Customer.email_verified, t.Customer.identity_verified, t.Customer.jurisdiction,
        ).where(t.Customer.id == customer_id).first()
        contact = await t.Customer.select(
            t.Customer.phone, t.Customer.language, t.Customer.time_zone,
        ).where(t.Customer.id == customer_id).first()
        real_name = await t.RealNameIdentity.select(
            t.RealNameIdentity.verified_at, t.RealNameIdentity.adult,
        ).where(t.RealNameIdentity.customer_id == customer_id).first()
        identities = await t.IdentityLink.select(
            t.IdentityLink.provider, t.IdentityLink.subject, t.IdentityLink.email,
            t.IdentityLink.email_verified, t.IdentityLink.linked_at,
        ).where(t.IdentityLink.customer_id == customer_id)
        consents = await t.Consent.select(
            t.Consent.purpose, t.Consent.granted, t.Consent.updated_at,
        ).where(t.Consent.customer_id == customer_id)
        sessions = await t.AuthSession.select(
            t.AuthSession.id, t.AuthSession.created_at, t.AuthSession.expires_at,
            t.AuthSession.status,
        ).where(t.AuthSession.customer_id == customer_id)
        failures = await t.LoginFailure.select(t.LoginFailure.at).where(
            t.LoginFailure.customer_id == customer_id)
        notifications = await t.NotificationLog.select(
            t.NotificationLog.channel, t.NotificationLog.template,
            t.NotificationLog.subject, t.NotificationLog.sent_at,
        ).where(t.NotificationLog.owner == customer_id)
        return {
            "customer": _with_iso(customer, "created_at") if customer else None,
            "contact": contact,
            "identities": [_with_iso(row, "linked_at") for row in identities],
            "real_name_verification": (
                _with_iso(real_name, "verified_at") if real_name else None),
            "consents": [_with_iso(row, "updated_at") for row in consents],
            "sessions": [_with_iso(row, "created_at", "expires_at") for row in sessions],
            "login_failures": [_at(row["at"]).timestamp() for row in failures],
            "notifications": [_with_iso(row, "sent_at") for row in notifications],
        }

    async def erase(self, customer_id: str, pseudonym: str) -> dict[str, int]:
        """Delete what identifies the customer and cut the links from what must stay: orders
        and payments keep their amounts under a pseudonym, without name or address."""
        counts: dict[str, int] = {}

        async def deleted(table: type[Any], condition: Any) -> None:
            rows = await table.delete().where(condition).returning(
                table._meta.primary_key)
            counts[table._meta.tablename] = len(rows)

        await deleted(t.IdentityLink, t.IdentityLink.customer_id == customer_id)
        await deleted(t.AuthFlow, t.AuthFlow.customer_id == customer_id)
        await deleted(t.PendingLink, t.PendingLink.customer_id == customer_id)
        await deleted(t.AuthSession, t.AuthSession.customer_id == customer_id)
        await deleted(t.RealNameIdentity, t.RealNameIdentity.customer_id == customer_id)
        await deleted(t.Consent, t.Consent.customer_id == customer_id)
        await deleted(t.LoginFailure, t.LoginFailure.customer_id == customer_id)
        await deleted(t.PushDevice, t.PushDevice.customer_id == customer_id)
        await deleted(t.IdempotencyKey, t.IdempotencyKey.customer_id == customer_id)
        # A campaign's recipient row names the customer (and is what keeps a campaign from
        # sending them twice: nothing is sent to an erased customer anyway).
        await deleted(t.CampaignRecipient, t.CampaignRecipient.customer_id == customer_id)
        orders = await t.Order.select(t.Order.id, t.Order.shipping_address).where(
            t.Order.customer_id == customer_id)
        for order in orders:
            address = json.loads(order["shipping_address"])
            scrubbed = {key: (value if key == "country" else ERASED)
                        for key, value in address.items()}
            await t.Order.update({t.Order.customer_id: pseudonym, t.Order.note: "",
                                  t.Order.shipping_address: _dump(scrubbed)}).where(
                t.Order.id == order["id"])
        counts["orders"] = len(orders)
        for table in (t.Payment, t.Operation, t.FraudReview):
            moved = await table.update({table.customer_id: pseudonym}).where(
                table.customer_id == customer_id).returning(table._meta.primary_key)
            counts[table._meta.tablename] = len(moved)
        await t.FraudReview.update({t.FraudReview.note: ""}).where(
            t.FraudReview.customer_id == pseudonym)
        logged = await t.NotificationLog.update({t.NotificationLog.owner: pseudonym}).where(
            t.NotificationLog.owner == customer_id).returning(t.NotificationLog._meta.primary_key)
        counts["notification_log"] = len(logged)
        # Delivery records stay (the evidence names them) without any trace of the address.
        d = t.MessageDelivery
        kept = await d.update({d.customer_id: pseudonym, d.masked_address: "",
                               d.address_key: "", d.params: "{}"}).where(
            d.customer_id == customer_id).returning(d.message_id)
        counts["message_delivery"] = len(kept)
        # Work not yet done for the customer (a notice, an event) must not resurrect them.
        pending = await t.OutboxMessage.select(t.OutboxMessage.id, t.OutboxMessage.payload).where(
            WhereRaw("CAST(payload AS TEXT) LIKE {}", f"%{customer_id}%"))
        for message in pending:
            await t.OutboxMessage.update({
                t.OutboxMessage.payload: message["payload"].replace(customer_id, pseudonym),
            }).where(t.OutboxMessage.id == message["id"])
        counts["outbox_message"] = len(pending)
        # What the dev mailbox kept for the customer (the sandbox's stand-in for providers).
        who = await t.Customer.select(t.Customer.email, t.Customer.phone).where(
            t.Customer.id == customer_id).first()
        if who is not None:
            addresses = [a for a in (who["email"], who["phone"]) if a]
            await deleted(t.MailboxMessage, t.MailboxMessage.recipient.is_in(addresses))
        await deleted(t.Customer, t.Customer.id == customer_id)
        return counts

    async def merge(self, from_customer: str, to_customer: str) -> dict[str, int]:
        """Move everything of one customer to another, then close the first account."""
        counts: dict[str, int] = {}
        for table in (t.Order, t.Payment, t.Operation, t.FraudReview, t.IdentityLink,
                      t.LoginFailure, t.MessageDelivery, t.PushDevice):
            moved = await table.update({table.customer_id: to_customer}).where(
                table.customer_id == from_customer).returning(table._meta.primary_key)
            counts[table._meta.tablename] = len(moved)
        kept = await t.Consent.select(t.Consent.purpose).where(
            t.Consent.customer_id == to_customer)
        mine = {row["purpose"] for row in kept}
        theirs = await t.Consent.select().where(t.Consent.customer_id == from_customer)
        for row in theirs:
            if row["purpose"] not in mine:
                await t.Consent.insert(t.Consent(
                    dedupe_key=f"{to_customer}|{row['purpose']}", customer_id=to_customer,
                    purpose=row["purpose"], granted=row["granted"],
                    updated_at=row["updated_at"]))
        await t.Consent.delete().where(t.Consent.customer_id == from_customer)
        counts["consent"] = len(theirs)
        if await t.RealNameIdentity.count().where(
                t.RealNameIdentity.customer_id == to_customer) == 0:
            await t.RealNameIdentity.update({t.RealNameIdentity.customer_id: to_customer}).where(
                t.RealNameIdentity.customer_id == from_customer)
        await t.NotificationLog.update({t.NotificationLog.owner: to_customer}).where(
            t.NotificationLog.owner == from_customer)
        for owned in (t.AuthSession, t.AuthFlow, t.PendingLink, t.IdempotencyKey,
                      t.RealNameIdentity):
            await owned.delete().where(owned.customer_id == from_customer)
        await t.Customer.delete().where(t.Customer.id == from_customer)
        return counts

    async def keep(self, record_class: str, subject: str, jurisdiction: str,
                   payload: dict[str, Any], retain_until: datetime) -> None:
        await t.RetainedRecord.insert(t.RetainedRecord(
            id=card_safe_id("ret"), record_class=record_class, subject=subject,
            jurisdiction=jurisdiction, payload=_dump(payload),
            created_at=self._clock.now(), retain_until=retain_until))

    async def retained(self, subject: str) -> list[dict[str, Any]]:
        rows = await t.RetainedRecord.select().where(t.RetainedRecord.subject == subject)
        # As before: the creation time in ISO-8601, the end of retention in epoch seconds.
        return [{**row, "payload": json.loads(row["payload"]),
                 "created_at": _at(row["created_at"]).isoformat(),
                 "retain_until": _at(row["retain_until"]).timestamp()} for row in rows]

    async def purge_retained(self, now: datetime) -> int:
        return await self._delete_in_batches(
            t.RetainedRecord, t.RetainedRecord.retain_until <= now)

    async def purge_access_logs(self, jurisdiction: str, before: datetime) -> int:
        """Access logs of the jurisdiction's customers older than its retention period."""
        # Asked of each log due, by its customer's key: the few logs due are read, not every
        # customer of the jurisdiction.
        of_jurisdiction = WhereRaw(
            "(SELECT jurisdiction FROM customer WHERE customer.id = login_failure.customer_id)"
            " = {}", jurisdiction)
        return await self._delete_in_batches(
            t.LoginFailure, (t.LoginFailure.at < before) & of_jurisdiction)

    async def purge_finished_work(self, before: datetime) -> int:
        """Outbox work done and callbacks settled long ago: their payloads name customers
        and nothing needs them any more (providers stop re-sending within days). Analytics
        events sent long ago too: the analytics service keeps them; dead letters stay until
        replayed or discarded."""
        done = await self._delete_in_batches(t.OutboxMessage, (
            t.OutboxMessage.status == "done") & (t.OutboxMessage.created_at < before))
        settled = await self._delete_in_batches(t.InboxMessage, t.InboxMessage.status.is_in(
            ["applied", "no_change", "ignored"]) & (t.InboxMessage.received_at < before))
        a = t.AnalyticsDelivery
        sent = await self._delete_in_batches(a, (a.status == "sent") & (a.sent_at < before))
        return done + settled + sent

    async def purge_sign_in_leftovers(self, before: datetime) -> int:
        flows = await self._delete_in_batches(t.AuthFlow, t.AuthFlow.created_at < before)
        links = await self._delete_in_batches(t.PendingLink, t.PendingLink.created_at < before)
        return flows + links

    async def _delete_in_batches(self, table: type[Table], condition: Combinable) -> int:
        """Delete the rows that meet `condition`, at most a batch per statement: a purge
        of many rows never holds them all in one statement, nor their keys in memory."""
        key = table._meta.primary_key
        batch = table.select(key).where(condition).limit(self._purge_batch)
        chosen: Combinable = key.is_in(batch)
        if table._meta.db.engine_type == "postgres":
            # As an array, the batch is looked up by key; PostgreSQL would join `IN` by
            # reading the whole table.
            chosen = WhereRaw(f'"{key._meta.db_column_name}" = ANY(ARRAY({{}}))',
                              batch.querystrings[0])
        removed = 0
        while True:
            gone = len(await table.delete().where(chosen).returning(key))
            removed += gone
            if gone < self._purge_batch:
                return removed
