"""The analytics queue (application/ports/analytics.py) on the `analytics_delivery` table:
one row per event and destination, kept once whatever how often the event is given."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from adapters.persistence import raw
from adapters.persistence.repositories._rows import _at
from adapters.persistence.tables import AnalyticsDelivery as Row
from application.ports import AnalyticsEvent
from application.ports.analytics import ConsentRule, ConsentSeen, PendingEvent

PENDING, SENT, DEAD = "pending", "sent", "dead"

# The customer ($1) and their consent to the purpose ($2), or none of either; the rule's
# answer for them ($3: the opt-in jurisdictions; $4-$6 its answers there, $7-$9 elsewhere,
# each for a consent granted, withdrawn, never given). No customer: the default jurisdiction.
_CUSTOMER = ("FROM (SELECT 1) AS one LEFT JOIN customer c ON c.id = $1 "
             "LEFT JOIN consent k ON k.customer_id = c.id AND k.purpose = $2")
_ANSWER = ("CASE WHEN coalesce(c.jurisdiction, 'default') = ANY($3::text[]) "
           "THEN (CASE k.granted WHEN true THEN $4::boolean WHEN false THEN $5::boolean "
           "ELSE $6::boolean END) "
           "ELSE (CASE k.granted WHEN true THEN $7::boolean WHEN false THEN $8::boolean "
           "ELSE $9::boolean END) END")
SEEN = ("SELECT json_build_array(coalesce(c.jurisdiction, 'default'), k.granted, "
        f"{_ANSWER})::text {_CUSTOMER}")
# The event for each destination ($15), only if the rule lets it be sent.
KEEP_IF_ALLOWED = (
    "INSERT INTO analytics_delivery (id, message_id, destination, name, anonymous_id, "  # noqa: S608
    "key_id, properties, occurred_at, status, attempts, next_attempt_at, last_error) "
    "SELECT d || ':' || $10, $10, d, $11, $12, $13, $14, $16, 'pending', 0, $16, '' "
    f"FROM unnest($15::text[]) AS d WHERE (SELECT {_ANSWER} {_CUSTOMER}) "
    "ON CONFLICT DO NOTHING")
# The same two on SQLite: numbered parameters (?n is $n), JSON arrays for the lists, and
# 1/0 for true/false.
_CUSTOMER_HERE = _CUSTOMER.replace("$", "?")
_ANSWER_HERE = ("CASE WHEN coalesce(c.jurisdiction, 'default') IN (SELECT value FROM "
                "json_each(?3)) "
                "THEN (CASE WHEN k.granted IS NULL THEN ?6 WHEN k.granted THEN ?4 ELSE ?5 END) "
                "ELSE (CASE WHEN k.granted IS NULL THEN ?9 WHEN k.granted THEN ?7 ELSE ?8 END) "
                "END")
SEEN_HERE = ("SELECT json_array(coalesce(c.jurisdiction, 'default'), k.granted, "
             f"{_ANSWER_HERE}) {_CUSTOMER_HERE}")
KEEP_IF_ALLOWED_HERE = (
    "INSERT INTO analytics_delivery (id, message_id, destination, name, anonymous_id, "  # noqa: S608
    "key_id, properties, occurred_at, status, attempts, next_attempt_at, last_error) "
    "SELECT d.value || ':' || ?10, ?10, d.value, ?11, ?12, ?13, ?14, ?16, 'pending', 0, ?16, "
    f"'' FROM json_each(?15) AS d WHERE (SELECT {_ANSWER_HERE} {_CUSTOMER_HERE}) "
    "ON CONFLICT DO NOTHING")


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


def _event(row: dict[str, Any]) -> AnalyticsEvent:
    properties = row["properties"]
    return AnalyticsEvent(
        message_id=row["message_id"], name=row["name"], anonymous_id=row["anonymous_id"],
        occurred_at=_at(row["occurred_at"]),
        properties=json.loads(properties) if isinstance(properties, str) else properties,
        key_id=row["key_id"])


class PiccoloAnalyticsQueue:
    """Keeps each event for every configured destination (`destinations`)."""

    def __init__(self, destinations: Sequence[str]) -> None:
        self._destinations = list(destinations)

    async def track(self, event: AnalyticsEvent) -> None:
        rows = [Row(id=f"{name}:{event.message_id}", message_id=event.message_id,
                    destination=name, name=event.name, anonymous_id=event.anonymous_id,
                    key_id=event.key_id, properties=json.dumps(dict(event.properties)),
                    occurred_at=event.occurred_at, status=PENDING, attempts=0,
                    next_attempt_at=event.occurred_at, last_error="")
                for name in self._destinations]
        if rows:  # gathered on PostgreSQL with the unit of work's writes, if any (raw.py)
            await raw.insert(*rows, keep_existing=True)

    async def track_if_consented(self, event: AnalyticsEvent, customer_id: str,
                                 rule: ConsentRule) -> ConsentSeen:
        """Keep the event if the rule lets this customer's be sent, reading their consent in
        the same statement (gathered with the unit of work's writes); what was read is
        filled in once it ran."""
        seen = ConsentSeen()

        def read(value: str) -> None:
            jurisdiction, consent, kept = json.loads(value)
            seen.jurisdiction, seen.read = jurisdiction, True
            seen.consent = None if consent is None else bool(consent)
            seen.kept = bool(kept)

        here = not raw.on_postgres()  # SQLite: gathered by its unit of work's transaction
        write: Callable[..., Awaitable[Any]] = raw.later_sql if here else raw.write
        lists: Callable[[list[str]], Any] = _json_list if here else list
        decided = (customer_id, rule.purpose, lists(sorted(rule.opt_in)), *rule.required,
                   *rule.elsewhere)
        await write(SEEN_HERE if here else SEEN, *decided, then=read)
        if self._destinations:
            await write(KEEP_IF_ALLOWED_HERE if here else KEEP_IF_ALLOWED, *decided,
                        event.message_id, event.name, event.anonymous_id, event.key_id,
                        json.dumps(dict(event.properties)), lists(self._destinations),
                        event.occurred_at)
        return seen

    async def forget(self, message_id: str) -> None:
        await Row.delete().where((Row.message_id == message_id) & (Row.status == PENDING))

    async def claim_due(self, destination: str, now: datetime, hold_until: datetime,
                        limit: int) -> list[PendingEvent]:
        due = await Row.select(Row.id).where(
            (Row.destination == destination) & (Row.status == PENDING)
            & (Row.next_attempt_at <= now)
        ).order_by(Row.next_attempt_at).limit(limit)
        ids = [row["id"] for row in due]
        if not ids:
            return []
        # Only those still due: another worker may have claimed some in between.
        claimed = await Row.update({Row.next_attempt_at: hold_until}).where(
            Row.id.is_in(ids) & (Row.status == PENDING) & (Row.next_attempt_at <= now)
        ).returning(Row.id)
        mine = [row["id"] for row in claimed]
        if not mine:
            return []
        rows = await Row.select().where(Row.id.is_in(mine)).order_by(Row.occurred_at)
        return [PendingEvent(row["id"], _event(row), row["attempts"]) for row in rows]

    async def sent(self, ids: Sequence[str], now: datetime) -> None:
        if ids:
            await Row.update({Row.status: SENT, Row.sent_at: now, Row.last_error: ""}).where(
                Row.id.is_in(list(ids)))

    async def failed(self, ids: Sequence[str], error: str, next_attempt_at: datetime,
                     dead: bool) -> None:
        if ids:
            await Row.update({Row.status: DEAD if dead else PENDING,
                              Row.attempts: Row.attempts + 1, Row.last_error: error[:200],
                              Row.next_attempt_at: next_attempt_at}).where(
                Row.id.is_in(list(ids)))

    async def replay(self, destination: str, now: datetime) -> int:
        replayed = await Row.update({Row.status: PENDING, Row.attempts: 0,
                                     Row.next_attempt_at: now}).where(
            (Row.destination == destination) & (Row.status == DEAD)).returning(Row.id)
        return len(replayed)

    async def dead_letters(self) -> dict[str, int]:
        rows = await Row.select(Row.destination, Count()).where(
            Row.status == DEAD).group_by(Row.destination)
        return {row["destination"]: row["count"] for row in rows}

    async def counts(self, names: Sequence[str], start: datetime,
                     end: datetime) -> dict[str, int]:
        rows = await Row.select(Row.name, Count(distinct=[Row.message_id])).where(
            Row.name.is_in(list(names)) & (Row.occurred_at >= start) & (Row.occurred_at < end)
        ).group_by(Row.name)
        return {row["name"]: row["count"] for row in rows}
