"""Google Analytics 4's Measurement Protocol: `POST {base}/mp/collect?measurement_id=...&
api_secret=...` with `{"client_id", "events": [{"name", "params", "timestamp_micros"}]}`.

The client id is the event's pseudonymous id (never a customer id). One request carries the
events of one client id, at most 25. GA4's rules are checked before sending, since its
collect endpoint answers 2xx even to what it then drops: an event name is at most 40
letters, digits and underscores starting with a letter and not one GA4 reserves; a parameter
name likewise and without a reserved prefix, at most 25 of them, a text value at most 100
characters; an event at most 72 hours old. An event that breaks a rule is refused (set aside
and logged by id).

The API secret travels in the query string: the evidence keeps only the path of each call,
and no log line of ours writes the URL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from adapters.analytics import send_in_order
from adapters.http import OutboundHttp
from application.ports import AnalyticsEvent
from application.ports.analytics import BatchReceipt
from domain.errors import ProviderUnavailable

MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_NAME = 40
MAX_VALUE = 100
MAX_AGE = timedelta(hours=72)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_EVENTS = frozenset({
    "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
    "adunit_exposure", "app_background", "app_clear_data", "app_exception", "app_remove",
    "app_store_refund", "app_store_subscription_cancel", "app_store_subscription_convert",
    "app_store_subscription_renew", "app_uninstall", "app_update", "app_upgrade",
    "dynamic_link_app_open", "dynamic_link_app_update", "dynamic_link_first_open", "error",
    "first_open", "first_visit", "in_app_purchase", "notification_dismiss",
    "notification_foreground", "notification_open", "notification_receive", "os_update",
    "session_start", "session_start_with_rollout", "user_engagement"})
RESERVED_PREFIXES = ("google_", "ga_", "firebase_")


def ga4_name(name: str) -> str:
    """Our event or property name as GA4 spells names: "Order Placed" → "order_placed"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").lower()


def name_problem(name: str, *, event: bool) -> str:
    """Why GA4 would not take `name` as an event (or parameter) name; "" when it would."""
    if not 0 < len(name) <= MAX_NAME or not _NAME.match(name):
        return f"{name!r} is not 1-{MAX_NAME} letters, digits and underscores from a letter"
    if name.startswith(RESERVED_PREFIXES):
        return f"{name!r} starts with a prefix GA4 reserves"
    if event and name in RESERVED_EVENTS:
        return f"{name!r} is an event name GA4 reserves"
    return ""


def ga4_event(event: AnalyticsEvent, now: datetime) -> tuple[dict[str, Any] | None, str]:
    """The event as GA4 takes it, or None and why not."""
    name = ga4_name(event.name)
    problem = name_problem(name, event=True)
    if problem:
        return None, problem
    if now - event.occurred_at > MAX_AGE:
        return None, "older than the 72 hours GA4 accepts"
    params: dict[str, Any] = {}
    for key, value in event.properties.items():
        param = ga4_name(key)
        problem = name_problem(param, event=False)
        if problem:
            return None, problem
        if isinstance(value, str) and len(value) > MAX_VALUE:
            return None, f"the value of {param!r} is over {MAX_VALUE} characters"
        params[param] = value
    if event.key_id:
        params["pseudonym_key_id"] = event.key_id
    if len(params) > MAX_PARAMS:
        return None, f"{len(params)} parameters; GA4 takes at most {MAX_PARAMS}"
    micros = int(event.occurred_at.timestamp() * 1_000_000)
    return {"name": name, "params": params, "timestamp_micros": micros}, ""


def requests_for(events: Sequence[AnalyticsEvent], now: datetime,
                 ) -> tuple[list[tuple[dict[str, Any], list[str]]], dict[str, str]]:
    """The request bodies carrying `events` (per client id, at most 25 each) with the message
    ids of their events, and the events refused (by message id, with why)."""
    refused: dict[str, str] = {}
    by_client: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for event in events:
        shaped, problem = ga4_event(event, now)
        if shaped is None:
            refused[event.message_id] = problem
            continue
        by_client.setdefault(event.anonymous_id, []).append((event.message_id, shaped))
    bodies = []
    for client, events_of_client in by_client.items():
        for start in range(0, len(events_of_client), MAX_EVENTS):
            chunk = events_of_client[start:start + MAX_EVENTS]
            bodies.append(({"client_id": client, "events": [e for _, e in chunk]},
                           [message_id for message_id, _ in chunk]))
    return bodies, refused


class Ga4Destination:
    """Sends events to a GA4 web data stream through the Measurement Protocol."""

    name = "ga4"
    batch_size = 100

    def __init__(self, http: OutboundHttp, base_url: str, measurement_id: str,
                 api_secret: str) -> None:
        if not (measurement_id and api_secret):
            raise ValueError("ga4 is an analytics provider: set MALL_GA4_MEASUREMENT_ID and "
                             "MALL_GA4_API_SECRET")
        query = urlencode({"measurement_id": measurement_id, "api_secret": api_secret})
        self._http, self._url = http, f"{base_url.rstrip('/')}/mp/collect?{query}"
        self._secret = api_secret

    async def send_batch(self, events: Sequence[AnalyticsEvent]) -> BatchReceipt:
        bodies, refused = requests_for(events, datetime.now(UTC))
        return await send_in_order(bodies, self._post, refused)

    async def _post(self, body: dict[str, Any]) -> str:
        """"" when GA4 took the events; else "retry: ..." or why it refused them."""
        try:
            # GA4 has no dedupe key: each request is sent once (no retry inside the call),
            # and one that failed is tried again later with its events.
            response = await self._http.request(
                "ga4", "POST", self._url, subject="analytics", json_body=body,
                idempotent=False)
        except ProviderUnavailable as exc:
            # Kept with the events and logged: never with the secret (an error naming the URL).
            return "retry: " + exc.detail.replace(self._secret, "[api_secret withheld]")
        if response.status >= 500 or response.status in (408, 429):
            return f"retry: ga4 answered HTTP {response.status}"
        if response.status >= 400:
            return f"ga4 refused the events with HTTP {response.status}"
        return ""
