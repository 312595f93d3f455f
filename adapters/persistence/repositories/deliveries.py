"""Delivery records of messages and suppressed addresses in and out of their tables."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, json_row_here
from adapters.persistence.repositories.customers import REACHABLE_ARRAYS, CustomerRepository
from application.ports import Clock
from application.ports.message_store import ClaimReaching
from domain.deliveries import Delivery
from domain.messages import DeliveryStatus

D = t.MessageDelivery


def _row(delivery: Delivery) -> dict[str, Any]:
    return {
        "message_id": delivery.message_id, "customer_id": delivery.customer_id,
        "template": delivery.template, "template_version": delivery.template_version,
        "channel": delivery.channel, "provider": delivery.provider,
        "provider_message_id": delivery.provider_message_id,
        "masked_address": delivery.masked_address, "address_key": delivery.address_key,
        "status": delivery.status.value, "consent": delivery.consent,
        "error_code": delivery.error_code, "not_before": delivery.not_before,
        "params": _dump(delivery.params), "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
    }


def _delivery(row: dict[str, Any]) -> Delivery:
    params = row["params"]
    return Delivery(
        message_id=row["message_id"], customer_id=row["customer_id"],
        template=row["template"], status=DeliveryStatus(row["status"]),
        created_at=_at(row["created_at"]), updated_at=_at(row["updated_at"]),
        template_version=row["template_version"], channel=row["channel"],
        provider=row["provider"], provider_message_id=row["provider_message_id"],
        masked_address=row["masked_address"], address_key=row["address_key"],
        consent=row["consent"], error_code=row["error_code"],
        not_before=_at(row["not_before"]) if row["not_before"] else None,
        params=json.loads(params) if isinstance(params, str) else dict(params or {}),
    )


_COLUMNS = tuple(column._meta.db_column_name for column in D._meta.columns)


@functools.cache
def _claim_reaching() -> str:
    """The delivery stored unless its message id is known, its customer as
    CustomerRepository.reachable reads them, the keys of the customer's addresses on the
    channels given (the last argument) made as domain.deliveries.address_key makes them,
    and the suppressed ones among those: one statement."""
    insert = raw.insert_of(D)
    customer, channels = f"${len(_COLUMNS) + 1}", f"${len(_COLUMNS) + 2}::varchar[]"

    def key(channel: str, address: str) -> str:
        return f"encode(sha256(convert_to('{channel}|' || {address}, 'UTF8')), 'hex')"

    return (  # only names, placeholders and the channels' own names are formatted in
        f"WITH claimed AS ({insert} ON CONFLICT (message_id) DO NOTHING "  # noqa: S608
        "RETURNING message_id), "
        f"c AS (SELECT * FROM customer WHERE id = {customer}), "
        f"keys AS (SELECT {key('email', 'lower(btrim(c.email))')} AS k FROM c "
        f"WHERE 'email' = ANY({channels}) AND c.email NOT LIKE '%.invalid' "
        f"UNION ALL SELECT {key('sms', 'btrim(c.phone)')} FROM c "
        f"WHERE 'sms' = ANY({channels}) AND COALESCE(c.phone, '') <> '' "
        f"UNION ALL SELECT {key('push', 'btrim(d.token)')} FROM push_device d "
        f"WHERE 'push' = ANY({channels}) AND d.customer_id = {customer}) "
        f"SELECT c.*, {REACHABLE_ARRAYS}, EXISTS (SELECT 1 FROM claimed) AS claimed, "
        "ARRAY(SELECT k FROM keys) AS address_keys, "
        "(SELECT COALESCE(jsonb_object_agg(address_key, reason), '{}')::text "
        "FROM message_suppression WHERE address_key IN (SELECT k FROM keys)) AS suppressed "
        "FROM (VALUES (1)) AS one LEFT JOIN c ON true")


def _key_here(channel: str, address: str) -> str:
    return f"sha256_hex('{channel}|' || {address})"  # registered on every SQLite connection


# `_claim_reaching`'s read on SQLite, run right after the INSERT in the same trip (SQLite has
# no INSERT inside a WITH): the customer ?1 and the channels ?2 (a JSON array) as one JSON
# object; `claimed` is the rows the INSERT just added (changes()). Only column names go in.
_REACHING_HERE = (
    "WITH c AS (SELECT * FROM customer WHERE id = ?1), "  # noqa: S608
    "wanted AS (SELECT value AS channel FROM json_each(?2)), "
    f"keys AS (SELECT {_key_here('email', 'lower(trim(c.email))')} AS k FROM c "
    "WHERE 'email' IN wanted AND c.email NOT LIKE '%.invalid' "
    f"UNION ALL SELECT {_key_here('sms', 'trim(c.phone)')} FROM c "
    "WHERE 'sms' IN wanted AND coalesce(c.phone, '') <> '' "
    f"UNION ALL SELECT {_key_here('push', 'trim(d.token)')} FROM push_device d "
    "WHERE 'push' IN wanted AND d.customer_id = ?1) "
    f"SELECT json_object('customer', json((SELECT {json_row_here(t.Customer, 'c')} FROM c)), "
    "'claimed', changes(), "
    "'granted_purposes', json((SELECT json_group_array(purpose) FROM consent "
    "WHERE customer_id = ?1 AND granted)), "
    "'withdrawn_purposes', json((SELECT json_group_array(purpose) FROM consent "
    "WHERE customer_id = ?1 AND NOT granted)), "
    "'device_tokens', json((SELECT json_group_array(token) FROM "
    "(SELECT token FROM push_device WHERE customer_id = ?1 ORDER BY registered_at DESC))), "
    "'address_keys', json((SELECT json_group_array(k) FROM keys)), "
    "'suppressed', json((SELECT json_group_object(address_key, reason) "
    "FROM message_suppression "
    "WHERE address_key IN (SELECT k FROM keys))))")


class DeliveryRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def claim(self, delivery: Delivery) -> Delivery | None:
        # One statement decides who sends a message id, on both engines.
        inserted = await D.insert(D(**_row(delivery))).on_conflict(
            target=D.message_id, action="DO NOTHING").returning(D.message_id)
        return None if inserted else await self.get(delivery.message_id)

    async def claim_reaching(self, delivery: Delivery, channels: list[str]) -> ClaimReaching:
        customers = CustomerRepository()
        if raw.on_postgres():
            values = _row(delivery)
            [row] = await raw.fetch(_claim_reaching(), *(values[name] for name in _COLUMNS),
                                    delivery.customer_id, channels)
            row = dict(row)
        else:
            row = await self._claim_reaching_here(delivery, channels)
        claimed = row.pop("claimed")
        keys, suppressed = list(row.pop("address_keys")), row.pop("suppressed")
        if isinstance(suppressed, str):  # PostgreSQL's text; SQLite's JSON is read already
            suppressed = json.loads(suppressed)
        reachable = customers.reached(row)
        if reachable is None:
            if claimed:  # erased: nobody to tell, nothing to keep
                await self.remove(delivery.message_id)
            return ClaimReaching(None, None, [], {})
        found = None if claimed else await self.get(delivery.message_id)
        return ClaimReaching(found, reachable, keys, suppressed)

    async def _claim_reaching_here(self, delivery: Delivery, channels: list[str]
                                   ) -> dict[str, Any]:
        """`_claim_reaching`'s row on SQLite: the INSERT and the read in one transaction of
        their own, sent in one trip with its COMMIT."""
        read: dict[str, Any] = {}

        def keep(value: str) -> None:
            read.update(json.loads(value))

        async with raw.together():
            await raw.later(D.insert(D(**_row(delivery))).on_conflict(
                target=D.message_id, action="DO NOTHING"))
            await raw.later_sql(_REACHING_HERE, delivery.customer_id, json.dumps(channels),
                                then=keep)
        if not read:  # the block joined a running transaction: both wait there, unsent
            await raw.flush()
        customer = read.pop("customer") or {"id": None}
        return {**customer, **read, "claimed": bool(read["claimed"])}

    async def take_over(self, message_id: str, now: datetime, claimed_before: datetime) -> bool:
        # Compare-and-swap: of several retries at once, one takes it.
        taken = await D.update({D.status: DeliveryStatus.SENDING.value, D.updated_at: now}).where(
            (D.message_id == message_id) & (
                ((D.status == DeliveryStatus.DEFERRED.value)
                 & (D.not_before.is_null() | (D.not_before <= now)))
                | ((D.status == DeliveryStatus.SENDING.value) & (D.updated_at <= claimed_before)))
        ).returning(D.message_id)
        return bool(taken)

    async def get(self, message_id: str) -> Delivery | None:
        row = await D.select().where(D.message_id == message_id).first()
        return _delivery(row) if row else None

    async def save(self, delivery: Delivery) -> None:
        values = _row(delivery)
        values.pop("message_id")
        # gathered on PostgreSQL (raw.py): the outcome commits with its evidence
        await raw.update(D, {getattr(D, name): value for name, value in values.items()},
                         delivery.message_id)

    async def remove(self, message_id: str) -> None:
        await D.delete().where(D.message_id == message_id)

    async def by_provider_id(self, provider: str,
                             provider_message_id: str) -> Delivery | None:
        row = await D.select().where((D.provider_message_id == provider_message_id)
                                     & (D.provider == provider)).first()
        return _delivery(row) if row else None

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        rows = await D.select().where(
            (D.status == DeliveryStatus.DEFERRED.value) & (D.not_before <= now)
        ).order_by(D.not_before).limit(limit)
        return [_delivery(row) for row in rows]

    async def suppress(self, address_key: str, channel: str, reason: str) -> None:
        s = t.MessageSuppression
        await s.insert(s(address_key=address_key, channel=channel, reason=reason[:24],
                         created_at=self._clock.now())).on_conflict(
            target=s.address_key, action="DO NOTHING")

    async def suppression(self, address_key: str) -> str | None:
        s = t.MessageSuppression
        row = await s.select(s.reason).where(s.address_key == address_key).first()
        return str(row["reason"]) if row else None

    async def suppressions(self, address_keys: list[str]) -> dict[str, str]:
        if not address_keys:
            return {}
        s = t.MessageSuppression
        rows = await s.select(s.address_key, s.reason).where(s.address_key.is_in(address_keys))
        return {row["address_key"]: str(row["reason"]) for row in rows}

    async def known(self, message_ids: list[str]) -> set[str]:
        if not message_ids:
            return set()
        rows = await D.select(D.message_id).where(D.message_id.is_in(message_ids))
        return {row["message_id"] for row in rows}
