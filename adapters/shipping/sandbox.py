"""The sandbox carrier: books parcels and reports tracking by signed webhooks over time.

Each parcel plays a journey (adapters/shipping/sandbox_scenarios.py): `scenario:<name>` in the
second address line picks one, a postal code of 00000 plays an address error, any other parcel
the configured default, and a reshipment a normal journey. The journey's events are planned in
the database when the parcel is booked and sent when due (adapters/shipping/sandbox_tracking.py),
so a restart resumes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.persistence import raw
from adapters.persistence.repositories.evidence import append_each, appended
from adapters.persistence.tables import SandboxParcel, SandboxParcelEvent
from adapters.shipping.sandbox_scenarios import JOURNEYS, Step, choose_scenario, known_scenario
from adapters.shipping.sandbox_tracking import SandboxTrackingPlan, plan_each
from adapters.signing import verified_event
from application.ports import Clock, EvidenceLedger, InboundEvent, ShipmentRequest
from domain.evidence import EvidenceDraft
from domain.redaction import card_safe_id
from domain.shipments import DeliveryProblem, ShipmentStatus, TrackingUpdate

SIGNATURE_HEADER = "Sandbox-Carrier-Signature"
PROBLEM_STATUSES = frozenset({ShipmentStatus.EXCEPTION.value, ShipmentStatus.RETURNED.value})
BOOKED = """
SELECT p.*, EXISTS (
    SELECT 1 FROM sandbox_parcel_event e
    JOIN sandbox_parcel earlier ON earlier.tracking_number = e.tracking_number
    WHERE earlier.order_id = $2 AND e.sent_at IS NOT NULL
      AND e.event -> 'data' ->> 'status' = ANY($3::varchar[])) AS reshipment
FROM (VALUES (1)) AS one LEFT JOIN sandbox_parcel p ON p.idempotency_key = $1
"""



# Insert a parcel unless its key is known, and only then its journey and the evidence of the
# booking: one statement.
_WIDTH = len(SandboxParcel._meta.columns)
BOOK = (f"WITH parcel AS ({raw.insert_of(SandboxParcel)} "  # noqa: S608
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING tracking_number), "
        f"journey AS ({plan_each('parcel', _WIDTH + 1)}), "
        f"evidence AS ({append_each('parcel', _WIDTH + 5)}) SELECT * FROM parcel")

class SandboxCarrier:
    name = "sandbox-express"

    def __init__(
        self, tracking: SandboxTrackingPlan, ledger: EvidenceLedger, secrets: Sequence[str],
        step_seconds: float, clock: Clock, scenario: str = "normal",
    ) -> None:
        self._tracking, self._ledger, self._secrets = tracking, ledger, list(secrets)
        self._step, self._clock = step_seconds, clock
        self._default = known_scenario(scenario)

    async def create_shipment(self, request: ShipmentRequest) -> str:
        existing, reshipment = await self._booked(request)
        if existing is None:
            choice = choose_scenario(request.address, self._default, reshipment=reshipment)
            tracking = f"SBX{uuid.uuid4().int % 10**12:012d}"
            parcel = SandboxParcel(
                idempotency_key=request.idempotency_key, tracking_number=tracking,
                scenario=choice.scenario, order_id=request.order_id,
                created_at=self._clock.now())
            # What the carrier was asked, without the address: its country is enough.
            asked = EvidenceDraft(
                source=self.name, kind="provider.parcel", subject=f"order:{request.order_id}",
                context={"shipment_id": request.shipment_id},
                payload={"tracking_number": tracking, "items": request.items,
                         "destination_country": request.address.country,
                         "scenario": choice.scenario, "scenario_chosen_by": choice.chosen_by})
            if await (self._book if raw.on_postgres() else self._book_here)(parcel, asked):
                return tracking
            # Booked twice at once: the other booking's parcel is the answer.
            existing = existing or await SandboxParcel.select().where(
                SandboxParcel.idempotency_key == request.idempotency_key).first()
            assert existing is not None
        # Planned again on a retried booking: a crash between the two writes loses no journey.
        await self._tracking.plan(str(existing["tracking_number"]), self.journey(
            str(existing["tracking_number"]), str(existing["order_id"]),
            str(existing["scenario"]), existing["created_at"]))
        return str(existing["tracking_number"])

    async def _book(self, parcel: SandboxParcel, asked: EvidenceDraft) -> bool:
        """The parcel, its journey and the evidence of what was asked in one statement, all
        or nothing (PostgreSQL); False when its key was booked already."""
        journey = self.journey(parcel.tracking_number, parcel.order_id, parcel.scenario,
                               parcel.created_at)
        _, evidence = appended(asked, self._clock.now())
        booked = await raw.fetch(
            BOOK, *raw.values_of(parcel),
            *SandboxTrackingPlan.plan_values(parcel.tracking_number, journey), *evidence)
        return bool(booked)

    async def _book_here(self, parcel: SandboxParcel, asked: EvidenceDraft) -> bool:
        """As `_book`, on SQLite: the parcel, the evidence and the journey in one
        transaction, sent with its COMMIT in one trip."""
        async def with_it() -> None:
            await self._ledger.record(asked)
            await self._tracking.plan(parcel.tracking_number, self.journey(
                parcel.tracking_number, parcel.order_id, parcel.scenario, parcel.created_at))

        return await raw.insert_new(parcel, SandboxParcel.idempotency_key, with_it)

    async def _booked(self, request: ShipmentRequest) -> tuple[dict[str, Any] | None, bool]:
        """The parcel booked under the request's key, if any, and whether an earlier parcel
        of the order reported a problem: one statement on PostgreSQL."""
        if not raw.on_postgres():
            existing = await SandboxParcel.select().where(
                SandboxParcel.idempotency_key == request.idempotency_key).first()
            return existing, (existing is None
                              and await self._reported_a_problem(request.order_id))
        [row] = await raw.fetch(BOOKED, request.idempotency_key, request.order_id,
                                sorted(PROBLEM_STATUSES))
        found = dict(row)
        reshipment = bool(found.pop("reshipment"))
        return (found if found["idempotency_key"] else None), reshipment

    @staticmethod
    async def _reported_a_problem(order_id: str) -> bool:
        """Whether an earlier parcel of the order already reported an exception or a return
        (a parcel booked now replaces it)."""
        parcels = SandboxParcel.select(SandboxParcel.tracking_number).where(
            SandboxParcel.order_id == order_id)
        e = SandboxParcelEvent
        sent = await e.select(e.event).where(
            e.tracking_number.is_in(parcels) & e.sent_at.is_not_null()).output(load_json=True)
        return any(row["event"]["data"]["status"] in PROBLEM_STATUSES for row in sent)

    def journey(self, tracking: str, order_id: str, scenario: str,
                booked_at: datetime) -> list[tuple[datetime, dict[str, Any]]]:
        """The parcel's tracking events, each with the time it happens (and is sent)."""
        events: list[tuple[datetime, dict[str, Any]]] = []
        at = booked_at
        for step in JOURNEYS.get(scenario, JOURNEYS["normal"]):
            at += timedelta(seconds=self._step * step.wait)
            events.append((at, self._event(tracking, order_id, step, at)))
        return events

    @staticmethod
    def _event(tracking: str, order_id: str, step: Step, occurred_at: datetime) -> dict[str, Any]:
        return {
            "id": card_safe_id("trk"), "type": "tracking.updated",
            "data": {"tracking_number": tracking, "order_id": order_id,
                     "status": step.status.value, "detail": step.detail,
                     "problem": step.problem.value if step.problem else None,
                     "occurred_at": occurred_at.isoformat()},
        }

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return verified_event(headers.get(SIGNATURE_HEADER), body, self._secrets,
                              "sandbox carrier")

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None:
        data = event.payload.get("data")
        if not isinstance(data, dict):
            return None
        if event.kind != "tracking.updated":
            return None
        try:
            return TrackingUpdate(
                tracking_number=str(data["tracking_number"]),
                status=ShipmentStatus(data["status"]),
                occurred_at=datetime.fromisoformat(data["occurred_at"]),
                detail=str(data.get("detail", "")),
                problem=_problem(data.get("problem")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _problem(code: Any) -> DeliveryProblem | None:
    """The problem an event names; an unknown or missing code leaves it to the detail."""
    try:
        return DeliveryProblem(code) if code else None
    except ValueError:
        return None
