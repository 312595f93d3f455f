"""The table of analytics events waiting for (or sent to) each analytics service."""

from __future__ import annotations

from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.table import Table

from adapters.persistence.columns import Json


class AnalyticsDelivery(Table, tablename="analytics_delivery"):
    """One analytics event for one destination, already filtered: pseudonymous ids, no
    personal data. `id` is `<destination>:<message id>`, so an event is kept once per
    destination however often it is given. pending → sent, or dead (a dead letter, until
    replayed)."""

    id = Varchar(length=160, primary_key=True)
    message_id = Varchar(length=120, index=True)
    destination = Varchar(length=16)
    name = Varchar(length=64, index=True)
    anonymous_id = Varchar(length=64)
    key_id = Varchar(length=32, default="")
    properties = Json(default="{}")
    occurred_at = Timestamptz(index=True)
    status = Varchar(length=8, index=True)  # pending | sent | dead
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(index=True)
    last_error = Varchar(length=200, default="")
    sent_at = Timestamptz(null=True, default=None)
