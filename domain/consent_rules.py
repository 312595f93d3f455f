"""Whether, when and how a message may be sent: consent, and the Korean rules for
promotional messages (Act on Promotion of Information and Communications Network
Utilization, art. 50).

Transactional messages need no consent. A promotional one needs the opt-in for its channel;
to a Korean recipient it starts with `(광고)`, names the sender and how to opt out, and is not
sent between 21:00 and 08:00 at the recipient's without a separate night-time opt-in: it
waits for 08:00. Every opt-in is confirmed to the customer every two years.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from domain.messages import MARKETING_CONSENT, NIGHT_CONSENT, Channel

PROMOTION_MARK = "(광고)"
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
REMINDER_EVERY = timedelta(days=730)  # art. 50(8): confirm the opt-in every two years


@dataclass(frozen=True)
class Verdict:
    """`send`: go ahead now; otherwise `not_before` says until when it waits (quiet hours),
    or, when None, it is not sent at all (`reason`). `consent`: the purposes relied on."""

    send: bool
    reason: str  # transactional | consented | no_consent | quiet_hours
    consent: tuple[str, ...] = ()
    not_before: datetime | None = None
    labelled: bool = False  # (광고), the sender and the way out: a Korean recipient


def in_quiet_hours(local: datetime) -> bool:
    moment = local.time()
    return moment >= QUIET_FROM or moment < QUIET_UNTIL


def next_morning(local: datetime) -> datetime:
    """08:00 at the recipient's after `local` (in the same time zone as `local`)."""
    morning = local.replace(hour=QUIET_UNTIL.hour, minute=0, second=0, microsecond=0)
    return morning if local < morning else morning + timedelta(days=1)


def decide(*, promotional: bool, channel: Channel, korean: bool,
           consents: Mapping[str, bool], local_now: datetime) -> Verdict:
    """What the rules allow for one message on one channel at `local_now` (aware, in the
    recipient's time zone)."""
    if not promotional:
        return Verdict(True, "transactional")
    purpose = MARKETING_CONSENT[channel]
    if not consents.get(purpose, False):
        return Verdict(False, "no_consent")
    if not korean:
        return Verdict(True, "consented", (purpose,))
    if in_quiet_hours(local_now):
        if not consents.get(NIGHT_CONSENT, False):
            return Verdict(False, "quiet_hours", (purpose,), next_morning(local_now), True)
        return Verdict(True, "consented", (purpose, NIGHT_CONSENT), labelled=True)
    return Verdict(True, "consented", (purpose,), labelled=True)


def marked(channel: Channel, subject: str, text: str) -> tuple[str, str]:
    """(subject, text) of a promotional message to a Korean recipient: `(광고)` first in the
    subject of an email, in the text of an SMS or a push notification."""
    if channel == Channel.EMAIL:
        return _marked(subject), text
    return subject, _marked(text)


def footer(*, sender: str, opt_out: str, korean: bool) -> str:
    """The sender's name and how to opt out, closing every promotional message in Korea."""
    if korean:
        return f"발신: {sender} · 수신거부: {opt_out}"
    return f"From: {sender} · To opt out: {opt_out}"


def _marked(line: str) -> str:
    return line if line.startswith(PROMOTION_MARK) else f"{PROMOTION_MARK} {line}".rstrip()


def reminder_due(granted_at: datetime, last_reminded: datetime | None, now: datetime) -> bool:
    """Whether an opt-in given at `granted_at` must be confirmed to the customer now."""
    return now - max(granted_at, last_reminded or granted_at) >= REMINDER_EVERY


def reminder_message_id(customer_id: str, purpose: str, granted_at: datetime,
                        now: datetime) -> str:
    """The one message id of the reminder due for this opt-in in its current two-year
    cycle: the same whoever computes it and however often, so it is sent once."""
    cycle = (now - granted_at) // REMINDER_EVERY
    return f"consent-reminder:{customer_id}:{purpose}:{granted_at:%Y%m%d}:{cycle}"
