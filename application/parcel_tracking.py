"""Following Korean domestic parcels (Delivery Tracker) from their tracking number to a final
status.

A parcel is followed once the seller has given its carrier and tracking number (`FollowParcel`).
Each look asks the tracker for the parcel's whole event list and applies every event through
fulfilment, so the shipment's history is complete whatever was missed between looks. What
sets off a look: Delivery Tracker's webhook, where one is registered (its callback says only
which parcel changed, so it is a trigger, never a fact), or else a re-check scheduled with a
growing wait. The schedule is kept in the database (`ParcelWatches`): a restart resumes it.
Following stops at delivered or returned, or after a bounded time, when operators are told.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from application.ports import Clock, TaskQueue, UnitOfWork, UnitOfWorkFactory
from application.transactions import commit_and_dispatch, open_incident, send
from domain.carriers import KOREAN_CARRIERS, normalise_tracking_number
from domain.commands import FollowParcel
from domain.errors import DomainError, NotFound, ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.shipments import FINAL, Shipment, TrackingUpdate

log = logging.getLogger("mall.parcels")

SOURCE = "delivery-tracker"
FOLLOWING, FINISHED, ABANDONED, REFUSED = "following", "finished", "abandoned", "refused"


class TrackingReport(Protocol):
    """What the tracker knows of one parcel."""

    @property
    def registered(self) -> bool: ...  # False: the carrier has no record of the number yet

    @property
    def updates(self) -> tuple[TrackingUpdate, ...]: ...  # every event, oldest first

    @property
    def final(self) -> bool: ...


class ParcelTracker(Protocol):
    """A Delivery Tracker-compatible tracking API (adapters/shipping/delivery_tracker.py)."""

    async def track(self, carrier_id: str, tracking_number: str, *,
                    subject: str) -> TrackingReport:
        """The parcel's events. A number the tracker refuses is a DomainError; the tracker
        not answering is ProviderUnavailable."""
        ...

    async def register_webhook(self, carrier_id: str, tracking_number: str, callback_url: str,
                               expires_at: datetime, *, subject: str) -> None:
        """Be called back at `callback_url` when the parcel changes, until `expires_at`
        (registering again extends it)."""
        ...


class Fulfilment(Protocol):
    """What following asks of fulfilment (application/shipping.py)."""

    async def apply_tracking(self, uow: UnitOfWork, carrier: str,
                             update: TrackingUpdate) -> bool: ...


@dataclass
class ParcelWatch:
    """Where following one parcel stands: when to look next, and until when the webhook is
    registered."""

    shipment_id: str
    carrier: str
    tracking_number: str
    started_at: datetime
    next_check_at: datetime | None
    status: str = FOLLOWING
    quiet_checks: int = 0  # looks in a row that brought no news: the backoff's exponent
    webhook_expires_at: datetime | None = None
    reason: str = ""


class ParcelWatches(Protocol):
    """The watches, in the database; called inside a unit of work, they share its
    transaction."""

    async def get(self, shipment_id: str) -> ParcelWatch | None: ...

    async def save(self, watch: ParcelWatch) -> None:
        """Insert or update."""
        ...

    async def claim_due(self, now: datetime, until: datetime, limit: int) -> list[str]:
        """The shipments whose next look is due, their next look moved to `until` (so the
        look sent now is not sent again before it had its chance)."""
        ...


@dataclass(frozen=True)
class FollowPolicy:
    """How parcels are followed (settings MALL_DELIVERY_TRACKER_*)."""

    callback_url: str = ""  # empty: no webhook, polling only
    callback_token: str = ""
    webhook_lifetime: timedelta = timedelta(hours=48)
    first_poll: timedelta = timedelta(minutes=10)
    longest_poll: timedelta = timedelta(hours=6)
    follow_for: timedelta = timedelta(days=30)
    batch: int = 200  # due looks sent per run of the re-check job


def poll_wait(doublings: int, first: timedelta, longest: timedelta,
              draw: Callable[[], float] = random.random) -> timedelta:
    """The wait before the next look at a parcel: the first wait doubled `doublings` times,
    never past the longest; drawn between half and all of that, so parcels registered
    together are not all asked about at once."""
    ceiling = min(longest, first * (1 << min(max(doublings, 0), 32)))
    return ceiling / 2 + ceiling / 2 * draw()


class ParcelTracking:
    def __init__(self, uow: UnitOfWorkFactory, tracker: ParcelTracker, watches: ParcelWatches,
                 fulfilment: Fulfilment, clock: Clock, queue: TaskQueue, policy: FollowPolicy,
                 draw: Callable[[], float] = random.random) -> None:
        self._uow, self._tracker, self._watches = uow, tracker, watches
        self._fulfilment, self._clock, self._queue = fulfilment, clock, queue
        self._policy, self._draw = policy, draw

    async def follow(self, shipment_id: str) -> None:
        """Look at the parcel now, apply what the tracker says, and schedule the next look
        (or stop). Safe to repeat: events already heard change nothing."""
        async with self._uow(read_only=True) as uow:
            shipment = await uow.shipments.get(shipment_id)
            watch = await self._watches.get(shipment_id)
        if shipment is None:
            raise NotFound(f"shipment {shipment_id} not found")
        now = self._clock.now()
        if watch is not None and watch.status != FOLLOWING:
            return
        if not shipment.tracking_number or shipment.carrier not in KOREAN_CARRIERS:
            watch = watch or self._new_watch(shipment, now)
            await self._stop(watch, REFUSED, shipment, f"{shipment.carrier} parcels are not "
                             "followed through Delivery Tracker, or the shipment has no "
                             "tracking number")
            return
        watch = watch or self._new_watch(shipment, now)
        if shipment.status in FINAL:
            await self._stop(watch, FINISHED, shipment)
            return
        if now - watch.started_at >= self._policy.follow_for:
            await self._stop(watch, ABANDONED, shipment, "no final status after "
                             f"{self._policy.follow_for.days} days of following")
            return
        subject = f"order:{shipment.order_id}"
        await self._keep_webhook(watch, now, subject)
        try:
            report: TrackingReport | None = await self._tracker.track(
                watch.carrier, watch.tracking_number, subject=subject)
        except ProviderUnavailable as exc:
            log.warning("Delivery Tracker unavailable for shipment %s: %s", shipment_id,
                        exc.detail)
            report = None
        except DomainError as exc:
            await self._stop(watch, REFUSED, shipment, exc.detail)
            return
        await self._apply(watch, shipment, report, now)

    def _new_watch(self, shipment: Shipment, now: datetime) -> ParcelWatch:
        return ParcelWatch(shipment.id, shipment.carrier, shipment.tracking_number or "",
                           started_at=now, next_check_at=now)

    async def _keep_webhook(self, watch: ParcelWatch, now: datetime, subject: str) -> None:
        """Register the webhook, or extend it once half its lifetime is gone; without one
        the parcel is polled."""
        policy = self._policy
        expires = watch.webhook_expires_at
        if not policy.callback_url or (expires is not None
                                       and expires - now > policy.webhook_lifetime / 2):
            return
        expires_at = now + policy.webhook_lifetime
        try:
            await self._tracker.register_webhook(watch.carrier, watch.tracking_number,
                                                 policy.callback_url, expires_at, subject=subject)
        except DomainError as exc:  # ProviderUnavailable too: polling covers the parcel
            log.warning("no Delivery Tracker webhook for shipment %s: %s", watch.shipment_id,
                        exc.detail)
            return
        watch.webhook_expires_at = expires_at

    async def _apply(self, watch: ParcelWatch, shipment: Shipment,
                     report: TrackingReport | None, now: datetime) -> None:
        number = shipment.tracking_number or watch.tracking_number
        async with self._uow() as uow:
            news = False
            for update in report.updates if report is not None else ():
                # Under the number as the shipment holds it, which fulfilment finds it by.
                news |= await self._fulfilment.apply_tracking(
                    uow, shipment.carrier, dataclasses.replace(update, tracking_number=number))
            current = await uow.shipments.get(shipment.id)
            assert current is not None
            if current.status in FINAL:
                watch.status, watch.next_check_at = FINISHED, None
            else:
                watch.quiet_checks = 0 if news else watch.quiet_checks + 1
                watch.next_check_at = self._next_look(watch, now, answered=report is not None)
            await self._watches.save(watch)
            await commit_and_dispatch(uow, self._queue)

    def _next_look(self, watch: ParcelWatch, now: datetime, answered: bool) -> datetime:
        policy = self._policy
        expires = watch.webhook_expires_at
        renewal = expires - policy.webhook_lifetime / 2 if expires is not None else None
        if answered and renewal is not None and renewal > now:
            # The webhook reports; look again (and extend it) once half its lifetime is gone.
            due = renewal
        else:
            # The first wait after news, or after the first look without any; then doubling.
            due = now + poll_wait(watch.quiet_checks - 1, policy.first_poll,
                                  policy.longest_poll, self._draw)
        return min(due, watch.started_at + policy.follow_for)

    async def _stop(self, watch: ParcelWatch, status: str, shipment: Shipment,
                    reason: str = "") -> None:
        watch.status, watch.next_check_at, watch.reason = status, None, reason[:300]
        async with self._uow() as uow:
            await self._watches.save(watch)
            if status != FINISHED:
                await open_incident(
                    uow, f"parcel_{status}", f"shipment:{shipment.id}",
                    {"carrier": shipment.carrier, "reason": watch.reason}, severity="warning",
                    source=SOURCE, summary=f"shipment {shipment.id} is no longer followed: "
                                           f"{watch.reason}")
            await commit_and_dispatch(uow, self._queue)

    async def send_due_looks(self) -> int:
        """Send a look for every parcel whose next one is due (the periodic re-check); how
        many were sent."""
        now = self._clock.now()
        async with self._uow() as uow:
            # If a look is lost, the parcel is due again after the first wait.
            due = await self._watches.claim_due(now, now + self._policy.first_poll,
                                                self._policy.batch)
            for shipment_id in due:
                await send(uow, FollowParcel(shipment_id))
            await commit_and_dispatch(uow, self._queue)
        return len(due)

    async def callback(self, token: str, body: Any) -> str:
        """Delivery Tracker calling back: 'accepted' (a look is on its way) or 'ignored' (no
        parcel of ours), recorded either way. A wrong token is NotFound: the address does
        not exist for whoever does not know it."""
        expected = self._policy.callback_token
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise NotFound("no Delivery Tracker callback is expected at this address: check "
                           "the callback URL registered with Delivery Tracker")
        carrier_id, number = _named_parcel(body)
        async with self._uow() as uow:
            shipment = await _shipment_of(uow, carrier_id, number)
            outcome = "accepted" if shipment is not None else "ignored"
            await uow.evidence.append(EvidenceDraft(
                source=SOURCE, kind="webhook.received",
                subject=f"order:{shipment.order_id}" if shipment is not None else "unknown",
                context={"outcome": outcome},
                payload={"carrier_id": carrier_id, "tracking_number": number}))
            if shipment is not None:
                await send(uow, FollowParcel(shipment.id))
            await commit_and_dispatch(uow, self._queue)
        return outcome


def _named_parcel(body: Any) -> tuple[str, str]:
    """The carrier and number a callback names, as short strings (whatever else it holds is
    not kept)."""
    fields = body if isinstance(body, dict) else {}
    carrier_id, number = fields.get("carrierId"), fields.get("trackingNumber")
    return (carrier_id[:40] if isinstance(carrier_id, str) else "",
            number[:40] if isinstance(number, str) else "")


async def _shipment_of(uow: UnitOfWork, carrier_id: str, number: str) -> Shipment | None:
    try:
        normalised = normalise_tracking_number(carrier_id, number)
    except DomainError:
        return None  # not a carrier or a number of ours: nothing of ours to look at
    return await uow.shipments.by_tracking(carrier_id, normalised)


async def follow_parcel(command: FollowParcel, parcels: ParcelTracking) -> None:
    await parcels.follow(command.shipment_id)
