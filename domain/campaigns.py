"""Promotional campaigns: who may receive one, how fast it goes out, and where it stands.

A campaign sends one promotional template on one channel to an audience: customers who
granted that channel's marketing consent and match its simple criteria (jurisdiction,
language, an order since a date). It moves draft → scheduled → sending → done, and may be
cancelled before it is done. Each recipient gets one row, keyed by the message id
`cmp:<campaign id>:<customer id>`, that moves pending → queued (its message handed to the
dispatcher) → sent or failed, or to skipped (cancelled before it was queued).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import DomainError, InvalidTransition
from domain.messages import MARKETING_CONSENT, NIGHT_CONSENT, Channel, message_type

# Promotional sends wait outside these hours of the recipient's day unless they gave
# night-time consent (the Korean rule, applied to every campaign recipient).
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
DEFAULT_TIME_ZONE = {"KR": "Asia/Seoul"}  # by jurisdiction, when the customer gave none
MAX_NAME = 120
# Params the campaign sets on each message itself.
RESERVED_PARAMS = frozenset({"message_id", "campaign_id", "channel"})


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    PENDING = "pending"  # in the audience, not handed over yet
    QUEUED = "queued"  # its SendNotification is in the outbox
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # the campaign was cancelled before its turn


_MOVES: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED}),
    CampaignStatus.SCHEDULED: frozenset({CampaignStatus.SENDING, CampaignStatus.CANCELLED,
                                         CampaignStatus.DRAFT}),
    CampaignStatus.SENDING: frozenset({CampaignStatus.DONE, CampaignStatus.CANCELLED}),
    CampaignStatus.DONE: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}


def message_id(campaign_id: str, customer_id: str) -> str:
    """The one message a campaign sends a customer: the dispatcher sends an id once."""
    return f"cmp:{campaign_id}:{customer_id}"


@dataclass(frozen=True)
class Audience:
    """Who a campaign is for, besides the channel's marketing consent (always required).
    An empty tuple means any."""

    jurisdictions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    ordered_since: date | None = None  # placed an order on or after this day (UTC)

    def as_dict(self) -> dict[str, Any]:
        return {"jurisdictions": list(self.jurisdictions), "languages": list(self.languages),
                "ordered_since": self.ordered_since.isoformat() if self.ordered_since else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Audience:
        since = data.get("ordered_since")
        return cls(tuple(data.get("jurisdictions") or ()), tuple(data.get("languages") or ()),
                   date.fromisoformat(since) if since else None)


@dataclass(frozen=True)
class Candidate:
    """What the audience rules look at for one customer."""

    customer_id: str
    consents: Mapping[str, bool]
    jurisdiction: str = "default"
    language: str = ""
    time_zone: str = ""
    last_order_at: datetime | None = None


def in_audience(candidate: Candidate, audience: Audience, channel: Channel) -> bool:
    if not candidate.consents.get(MARKETING_CONSENT[channel], False):
        return False
    if audience.jurisdictions and candidate.jurisdiction not in audience.jurisdictions:
        return False
    if audience.languages and candidate.language not in audience.languages:
        return False
    if audience.ordered_since is not None:
        since = datetime.combine(audience.ordered_since, time(0), UTC)
        if candidate.last_order_at is None or candidate.last_order_at < since:
            return False
    return True


def recipient_zone(candidate: Candidate) -> ZoneInfo:
    """The recipient's time zone: theirs, else their jurisdiction's, else UTC."""
    for name in (candidate.time_zone, DEFAULT_TIME_ZONE.get(candidate.jurisdiction, "")):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(candidate: Candidate, now: datetime) -> datetime | None:
    """When a promotional message may reach `candidate` if `now` is in their quiet hours
    (the next 08:00 their time) and they gave no night-time consent; None to send now."""
    if candidate.consents.get(NIGHT_CONSENT, False):
        return None
    local = now.astimezone(recipient_zone(candidate))
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, local.tzinfo).astimezone(UTC)


def batch_size(per_minute: int, queued_last_minute: int, every: timedelta,
               largest: int) -> int:
    """How many recipients one run, repeated `every` so long, may queue on a channel allowed
    `per_minute` messages a minute, when `queued_last_minute` were queued in the minute
    before (by every campaign on the channel): the minute's share of one run, never past
    what is left of the minute's allowance, nor past `largest`."""
    share = max(1, int(per_minute * every.total_seconds() // 60))
    return max(0, min(largest, share, per_minute - queued_last_minute))


@dataclass
class Campaign:
    id: str
    name: str
    channel: Channel
    template: str
    audience: Audience
    created_by: str
    created_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    status: CampaignStatus = CampaignStatus.DRAFT
    send_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def define(cls, *, campaign_id: str, name: str, channel: Channel, template: str,
               audience: Audience, params: dict[str, Any], created_by: str,
               now: datetime) -> Campaign:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise DomainError(f"give the campaign a name of 1 to {MAX_NAME} characters")
        taken = sorted(RESERVED_PARAMS & set(params))
        if taken:
            raise DomainError(f"params may not set {', '.join(taken)}: the campaign sets "
                              "them on each message")
        kind = message_type(template)
        if not kind.promotional:
            raise DomainError(f"template {template!r} is not a promotional message; a "
                              "campaign sends promotional ones only (for example "
                              "'promotion')")
        if channel not in kind.channels:
            raise DomainError(f"template {template!r} is not sent by {channel.value}; its "
                              f"channels are {', '.join(c.value for c in kind.channels)}")
        missing = [p for p in kind.needs if not str(params.get(p, "")).strip()]
        if missing:
            raise DomainError(f"template {template!r} needs {', '.join(missing)} in params: "
                              "the text every recipient reads")
        return cls(campaign_id, name, channel, template, audience, created_by, now,
                   dict(params))

    def _move(self, to: CampaignStatus) -> None:
        if to not in _MOVES[self.status]:
            raise InvalidTransition(f"a {self.status.value} campaign cannot become "
                                    f"{to.value}")
        self.status = to

    def schedule(self, send_at: datetime, now: datetime) -> None:
        """Send from `send_at` on (now if it is past); a scheduled campaign moves its time."""
        if self.status != CampaignStatus.SCHEDULED:
            self._move(CampaignStatus.SCHEDULED)
        self.send_at = max(send_at, now)

    def unschedule(self) -> None:
        """Back to a draft, before it started."""
        self._move(CampaignStatus.DRAFT)
        self.send_at = None

    def due(self, now: datetime) -> bool:
        return (self.status == CampaignStatus.SCHEDULED and self.send_at is not None
                and self.send_at <= now)

    def start(self, now: datetime) -> None:
        if not self.due(now):
            raise InvalidTransition("only a scheduled campaign whose time has come starts")
        self._move(CampaignStatus.SENDING)
        self.started_at = now

    def finish(self, now: datetime) -> None:
        self._move(CampaignStatus.DONE)
        self.finished_at = now

    def cancel(self, now: datetime) -> None:
        self._move(CampaignStatus.CANCELLED)
        self.finished_at = now

    @property
    def final(self) -> bool:
        return not _MOVES[self.status]
