"""Customers for the campaign tests, written straight into the tables (registering each
through the API would hash a password apiece), and what the outbox holds for a campaign."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.persistence import tables as t
from domain.commands import SendNotification


async def add_customers(count: int, *, now: datetime, prefix: str = "cus_",
                        consents: dict[str, bool] | None = None,
                        jurisdiction: str = "default") -> list[str]:
    """`count` customers with these consents; their ids, in order."""
    ids = [f"{prefix}{n:04d}" for n in range(count)]
    await t.Customer.insert(*[
        t.Customer(id=customer_id, email=f"{customer_id}@example.com", password_hash="",
                   created_at=now, jurisdiction=jurisdiction)
        for customer_id in ids])
    rows = [t.Consent(dedupe_key=f"{customer_id}|{purpose}", customer_id=customer_id,
                      purpose=purpose, granted=granted, updated_at=now)
            for customer_id in ids for purpose, granted in (consents or {}).items()]
    if rows:
        await t.Consent.insert(*rows)
    return ids


async def campaign_messages(campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's SendNotification commands in the outbox: customer, message id, status."""
    rows = await t.OutboxMessage.select(t.OutboxMessage.id, t.OutboxMessage.payload,
                                        t.OutboxMessage.status).where(
        t.OutboxMessage.topic == SendNotification.__name__)
    found = []
    for row in rows:
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(
            row["payload"])
        if payload["params"].get("campaign_id") == campaign_id:
            found.append({"outbox_id": row["id"], "customer_id": payload["customer_id"],
                          "message_id": payload["message_id"],
                          "template": payload["template"], "params": payload["params"],
                          "channel": payload.get("channel", ""),
                          "status": row["status"]})
    return found
