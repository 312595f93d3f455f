"""Delivery Tracker (tracker.delivery): where a Korean domestic parcel is, through its GraphQL
tracking API, for the carriers of `domain.carriers`.

One query, `track(carrierId, trackingNumber)`, and one mutation, `registerTrackWebhook`
(tracker.delivery's hosted API: a callback to our URL when the parcel changes, until an
expiration time we extend by registering again), sent through OutboundHttp (evidence, retries,
circuit breaker) with the `TRACKQL-API-KEY <client id>:<client secret>` authorization that
tracker.delivery's authentication page documents (a self-hosted server needs none). The query
asks for events and their status only, never the sender, recipient or contact fields; since a
carrier's event description can still name a courier's phone number, the answer's body is
withheld from the HTTP evidence and a summary with phone numbers masked is kept instead. The
callback URL carries the secret that authenticates callbacks: it never reaches the evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from adapters.http import HttpResponse, OutboundHttp
from application.ports import EvidenceLedger
from domain.carriers import normalise_tracking_number
from domain.errors import DomainError, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.shipments import DeliveryProblem, ShipmentStatus, TrackingUpdate

PROVIDER = "delivery-tracker"
DEFAULT_URL = "https://apis.tracker.delivery/graphql"

# Written for this client from the published schema: the fields it reads, nothing personal.
TRACK_QUERY = """
query TrackParcel($carrierId: ID!, $trackingNumber: String!, $last: Int) {
  track(carrierId: $carrierId, trackingNumber: $trackingNumber) {
    lastEvent { time status { code name } description }
    events(last: $last) {
      edges { node { time status { code name } description location { name } } }
    }
  }
}
"""

# The published (hosted) schema's one mutation: register, or extend, a tracking webhook.
REGISTER_WEBHOOK_MUTATION = """
mutation RegisterTrackWebhook($input: RegisterTrackWebhookInput!) {
  registerTrackWebhook(input: $input)
}
"""

# Delivery Tracker's status codes in our words; UNKNOWN (and any code added later) moves
# nothing. The codes whose description says what went wrong keep it as the update's detail.
_STATUS = {
    "INFORMATION_RECEIVED": ShipmentStatus.CREATED,
    "AT_PICKUP": ShipmentStatus.CREATED,
    "IN_TRANSIT": ShipmentStatus.IN_TRANSIT,
    "OUT_FOR_DELIVERY": ShipmentStatus.OUT_FOR_DELIVERY,
    "AVAILABLE_FOR_PICKUP": ShipmentStatus.OUT_FOR_DELIVERY,
    "ATTEMPT_FAIL": ShipmentStatus.EXCEPTION,
    "EXCEPTION": ShipmentStatus.EXCEPTION,
    "DELIVERED": ShipmentStatus.DELIVERED,
}
_DETAILED = frozenset({"ATTEMPT_FAIL", "EXCEPTION", "AVAILABLE_FOR_PICKUP"})
FINAL_CODES = frozenset({"DELIVERED"})

# Korean phone numbers as carriers print them (010-1234-5678, 02 123 4567, +82 10...).
_PHONE = re.compile(r"(?:\+82[-. ]?|\b0)\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}\b")
PHONE_PLACEHOLDER = "[phone withheld]"
KOREAN_TIME = timezone(timedelta(hours=9))


@dataclass(frozen=True)
class Tracking:
    """What Delivery Tracker knows of one parcel."""

    carrier_id: str
    tracking_number: str
    registered: bool  # False: the carrier has no record of the number yet
    updates: tuple[TrackingUpdate, ...] = ()  # oldest first, UNKNOWN events left out
    status_code: str = ""  # Delivery Tracker's code of its most likely current event
    final: bool = False  # nothing will change any more: stop polling

    @property
    def explanation(self) -> str:
        if self.registered:
            return f"last status {self.status_code or 'not given yet'}"
        return (f"{self.carrier_id} tracking number {self.tracking_number} is not registered "
                "with the carrier yet; ask again later")


def mask_phones(text: str) -> str:
    return _PHONE.sub(PHONE_PLACEHOLDER, text)


def update_of(tracking_number: str, event: dict[str, Any]) -> TrackingUpdate | None:
    """One Delivery Tracker event in our words; None when it says nothing we can use."""
    code = str((event.get("status") or {}).get("code") or "UNKNOWN")
    status, time = _STATUS.get(code), event.get("time")
    if status is None or not time:
        return None  # without a time an event cannot be ordered against the others
    detail = ""
    if code in _DETAILED:
        said = event.get("description") or (event.get("status") or {}).get("name") or ""
        detail = mask_phones(str(said)) or code.lower().replace("_", " ")
        if code == "AVAILABLE_FOR_PICKUP":
            detail = f"available for pickup: {detail}"
    occurred_at = _moment(str(time))
    if occurred_at is None:
        return None
    # A failed attempt says so by its code; an exception only in its carrier's words.
    problem = (DeliveryProblem.FAILED_ATTEMPT if code == "ATTEMPT_FAIL"
               else DeliveryProblem.from_detail(detail) if code == "EXCEPTION" else None)
    return TrackingUpdate(tracking_number, status, occurred_at, detail, problem)


def _moment(text: str) -> datetime | None:
    """An RFC 3339 time; one without its offset is Korean time, where these parcels are."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=KOREAN_TIME)


class DeliveryTrackerClient:
    def __init__(self, http: OutboundHttp, ledger: EvidenceLedger, client_id: str = "",
                 client_secret: str = "", base_url: str = DEFAULT_URL, events: int = 50) -> None:
        if bool(client_id) != bool(client_secret):
            raise ValueError("Delivery Tracker needs both a client id and a client secret "
                             "(or neither, for a self-hosted server)")
        self._http, self._ledger = http, ledger
        self._headers = ({"Authorization": f"TRACKQL-API-KEY {client_id}:{client_secret}"}
                         if client_id else {})
        self._url, self._events = base_url, events

    async def track(self, carrier_id: str, tracking_number: str, *, subject: str) -> Tracking:
        """Where the parcel is. A malformed number or an unknown carrier is a DomainError
        before anything is sent; Delivery Tracker failing is ProviderUnavailable."""
        number = normalise_tracking_number(carrier_id, tracking_number)
        response = await self._http.request(
            PROVIDER, "POST", self._url, subject=subject, idempotent=True,
            json_body={"query": TRACK_QUERY, "variables": {
                "carrierId": carrier_id, "trackingNumber": number, "last": self._events}},
            headers=self._headers, personal_response=True)
        tracking = read_tracking(response, carrier_id, number)
        await self._ledger.record(EvidenceDraft(
            source=PROVIDER, kind="tracking.read", subject=subject,
            context={"carrier_id": carrier_id}, payload=summary(tracking)))
        return tracking

    async def register_webhook(self, carrier_id: str, tracking_number: str, callback_url: str,
                               expires_at: datetime, *, subject: str) -> None:
        """Have Delivery Tracker call `callback_url` when the parcel changes, until
        `expires_at` (registering again extends it; a time already past removes it)."""
        number = normalise_tracking_number(carrier_id, tracking_number)
        response = await self._http.request(
            PROVIDER, "POST", self._url, subject=subject, idempotent=True,
            json_body={"query": REGISTER_WEBHOOK_MUTATION, "variables": {"input": {
                "carrierId": carrier_id, "trackingNumber": number, "callbackUrl": callback_url,
                "expirationTime": expires_at.isoformat()}}},
            # The callback URL holds the secret that authenticates callbacks.
            headers=self._headers, secret_fields=("variables",))
        body = read_document(response)
        errors = body.get("errors") or []
        if errors or (body.get("data") or {}).get("registerTrackWebhook") is not True:
            codes = sorted({str(((e or {}).get("extensions") or {}).get("code", "")) for e in
                            errors} - {""})
            messages = "; ".join(str((e or {}).get("message", "")) for e in errors)
            if "BAD_REQUEST" in codes:
                raise DomainError(f"Delivery Tracker refused a webhook for {carrier_id} "
                                  f"tracking number {number}: {messages or 'bad request'}")
            raise ProviderUnavailable(f"Delivery Tracker did not register the webhook "
                                      f"({', '.join(codes) or 'no answer'}); try again later")
        await self._ledger.record(EvidenceDraft(
            source=PROVIDER, kind="tracking.webhook_registered", subject=subject,
            context={"carrier_id": carrier_id},
            payload={"carrier_id": carrier_id, "tracking_number": number,
                     "expires_at": expires_at.isoformat()}))


def read_document(response: HttpResponse) -> dict[str, Any]:
    """The GraphQL document Delivery Tracker answered, or why there is none, in our terms."""
    if response.status in (401, 403):
        raise ProviderUnavailable(
            f"Delivery Tracker refused our credentials (HTTP {response.status}): check "
            "MALL_DELIVERY_TRACKER_CLIENT_ID and MALL_DELIVERY_TRACKER_CLIENT_SECRET")
    body = response.json_object()
    if body is None or (response.status >= 400 and not body.get("errors")):
        raise ProviderUnavailable(f"Delivery Tracker answered HTTP {response.status} "
                                  "without a GraphQL document; try again later")
    return body


def read_tracking(response: HttpResponse, carrier_id: str, number: str) -> Tracking:
    """Delivery Tracker's answer as a Tracking, or the error it says in our terms."""
    body = read_document(response)
    errors = body.get("errors") or []
    codes = [str(((e or {}).get("extensions") or {}).get("code", "")) for e in errors]
    messages = "; ".join(str((e or {}).get("message", "")) for e in errors)
    if "BAD_REQUEST" in codes:
        raise DomainError(f"Delivery Tracker refused {carrier_id} tracking number {number}: "
                          f"{messages or 'bad request'}")
    if errors and set(codes) != {"NOT_FOUND"}:
        raise ProviderUnavailable(f"Delivery Tracker could not track the parcel "
                                  f"({', '.join(codes)}: {messages}); try again later")
    track = (body.get("data") or {}).get("track")
    if errors or not isinstance(track, dict):
        return Tracking(carrier_id, number, registered=False)
    edges = ((track.get("events") or {}).get("edges")) or []
    updates = [update_of(number, (edge or {}).get("node") or {}) for edge in edges]
    last = track.get("lastEvent") or {}
    code = str((last.get("status") or {}).get("code") or "")
    return Tracking(carrier_id, number, registered=True,
                    updates=tuple(u for u in updates if u is not None),
                    status_code=code, final=code in FINAL_CODES)


def summary(tracking: Tracking) -> dict[str, Any]:
    """What the evidence keeps of an answer: statuses, times and masked details."""
    return {"carrier_id": tracking.carrier_id, "tracking_number": tracking.tracking_number,
            "registered": tracking.registered, "status_code": tracking.status_code,
            "final": tracking.final,
            "updates": [{"status": u.status.value, "occurred_at": u.occurred_at.isoformat(),
                         "detail": u.detail} for u in tracking.updates]}
