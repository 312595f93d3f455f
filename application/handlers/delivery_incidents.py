"""What follows a parcel's news for its delivery incidents, inside the transaction that
recorded the news."""

from __future__ import annotations

from application.ports import UnitOfWork
from domain import events as ev
from domain.evidence import EvidenceDraft


async def parcel_delivered(event: ev.ShipmentStatusChanged, uow: UnitOfWork) -> None:
    """A parcel delivered after all resolves the incidents still open about it, so none of
    them escalates to the operators for nothing."""
    if event.status != "delivered":
        return
    incidents = [i for i in await uow.incidents.deliveries_of_order(event.order_id)
                 if i.shipment_id == event.shipment_id]
    if not incidents:
        return
    shipment = await uow.shipments.get(event.shipment_id)
    if shipment is None or shipment.last_event_at is None:
        return
    for incident in incidents:
        if incident.parcel_delivered(shipment.last_event_at):
            await uow.incidents.save_delivery(incident)
            await uow.evidence.append(EvidenceDraft(
                source=shipment.carrier, kind="incident.delivered",
                subject=f"order:{incident.order_id}", context={"incident_id": incident.id},
                payload={"status": incident.status.value, "problem": incident.problem.value,
                         "shipment_id": incident.shipment_id}))
