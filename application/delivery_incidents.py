"""Delivery incidents, as the customer acts on them and as the operators follow them.

The customer reads their order's incidents with what each allows, and chooses: a corrected
address (the order's, for what ships from now on), another delivery date, a reshipment of the
same goods, or a refund of them through the payment's refund flow. The periodic check escalates
every incident left alone past its deadline to the operators. Every step is evidence; an
address never is (only that it was corrected).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from application.payments.refunds import refund_id_for
from application.ports import Clock, TaskQueue, UnitOfWork, UnitOfWorkFactory
from application.transactions import commit_and_dispatch, new_id, send
from domain.commands import CreateShipment, RaiseAlert, RefundPayment, SendNotification
from domain.delivery_incidents import (
    DEFAULT_DEADLINES,
    CustomerOption,
    DeliveryIncident,
    IncidentStatus,
    check_delivery_date,
    parcel_value,
)
from domain.errors import InvalidTransition, NotFound
from domain.evidence import EvidenceDraft
from domain.orders import Order, ShippingAddress
from domain.shipments import DeliveryProblem, Shipment

# Korean domestic carriers ("kr.<name>") take no booking from us: the seller hands a parcel
# over and registers its tracking number.
SELLER_BOOKED_PREFIX = "kr."
ESCALATION_BATCH = 200
_ESCALATABLE = [IncidentStatus.OPEN.value, IncidentStatus.AWAITING_CUSTOMER.value,
                IncidentStatus.AWAITING_SELLER.value]


class DeliveryIncidents:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, queue: TaskQueue,
                 deadline_hours: Mapping[str, float] | None = None) -> None:
        """`deadline_hours`: how long an incident may wait on its owner, by problem (the
        domain's defaults for the others)."""
        self._uow, self._clock, self._queue = uow, clock, queue
        self._deadlines = {**DEFAULT_DEADLINES, **{
            DeliveryProblem(problem): timedelta(hours=hours)
            for problem, hours in (deadline_hours or {}).items()}}

    # --- the customer -----------------------------------------------------------------------

    async def of_order(self, customer_id: str, order_id: str) -> list[dict[str, Any]]:
        async with self._uow(snapshot=True) as uow:
            order = await uow.orders.get(order_id)
            if order is None or order.customer_id != customer_id:
                raise NotFound(f"order {order_id} not found")
            incidents = await uow.incidents.deliveries_of_order(order_id)
        return [self.view(incident) for incident in incidents]

    async def correct_address(self, customer_id: str, order_id: str, incident_id: str,
                              address: ShippingAddress) -> dict[str, Any]:
        async with self._uow() as uow:
            order, incident = await self._mine(uow, customer_id, order_id, incident_id)
            now = self._clock.now()
            incident.correct_address(now)
            order.correct_shipping_address(address)
            await uow.orders.save(order)
            await self._record(uow, incident, "address_corrected",
                               {"country": address.country})
            await commit_and_dispatch(uow, self._queue)
        return self.view(incident)

    async def reschedule(self, customer_id: str, order_id: str, incident_id: str,
                         delivery_date: date) -> dict[str, Any]:
        async with self._uow() as uow:
            _, incident = await self._mine(uow, customer_id, order_id, incident_id)
            now = self._clock.now()
            incident.check_option(CustomerOption.RESCHEDULE)
            check_delivery_date(delivery_date, now.date())
            incident.resolve(CustomerOption.RESCHEDULE, now,
                             delivery_date=delivery_date.isoformat())
            # The seller arranges the redelivery with the carrier that holds the parcel.
            await self._tell_seller(uow, incident, "delivery_rescheduled_seller",
                                    delivery_date=delivery_date.isoformat())
            await self._record(uow, incident, "rescheduled",
                               {"delivery_date": delivery_date.isoformat()})
            await commit_and_dispatch(uow, self._queue)
        return self.view(incident)

    async def reship(self, customer_id: str, order_id: str, incident_id: str
                     ) -> dict[str, Any]:
        """The same goods again, in a new shipment with the same carrier and service, to
        the order's (possibly corrected) address."""
        async with self._uow() as uow:
            _, incident = await self._mine(uow, customer_id, order_id, incident_id)
            incident.check_option(CustomerOption.RESHIPMENT)
            old = await uow.shipments.get(incident.shipment_id)
            if old is None:
                raise NotFound(f"shipment {incident.shipment_id} not found")
            shipment = Shipment(new_id("shp"), old.order_id, old.seller_id, old.carrier,
                                lines=dict(old.lines), service=old.service)
            await uow.shipments.add(shipment)
            seller_books = shipment.carrier.startswith(SELLER_BOOKED_PREFIX)
            if not seller_books:
                await send(uow, CreateShipment(shipment.id))
            incident.resolve(CustomerOption.RESHIPMENT, self._clock.now(),
                             shipment_id=shipment.id)
            # A parcel to hand over (and register) anew, or one we booked for the seller.
            await self._tell_seller(
                uow, incident,
                "reshipment_handover_seller" if seller_books else "reshipment_booked_seller",
                new_shipment_id=shipment.id, carrier=shipment.carrier)
            await self._record(uow, incident, "reshipped",
                               {"new_shipment_id": shipment.id, "carrier": shipment.carrier,
                                "replaces": old.id})
            await commit_and_dispatch(uow, self._queue)
        return self.view(incident)

    async def refund(self, customer_id: str, order_id: str, incident_id: str
                     ) -> dict[str, Any]:
        """The goods of the undelivered parcel paid back, through the payment's refund flow
        (reserved now, asked of the provider by the outbox); one refund per incident."""
        async with self._uow() as uow:
            order, incident = await self._mine(uow, customer_id, order_id, incident_id)
            incident.check_option(CustomerOption.REFUND)
            shipment = await uow.shipments.get(incident.shipment_id)
            if shipment is None:
                raise NotFound(f"shipment {incident.shipment_id} not found")
            refund_id = refund_id_for(order.id, f"delivery-incident:{incident.id}")
            payments = sorted((p for p in await uow.payments.of_order(order.id)
                               if p.refundable > 0), key=lambda p: -p.refundable)
            if not payments:
                raise InvalidTransition(f"order {order.id} has nothing left to refund")
            payment = payments[0]
            amount = min(parcel_value(order, shipment).amount, payment.refundable)
            payment.request_refund(refund_id, amount)
            await uow.payments.save(payment)
            reason = f"delivery incident {incident.id}: {incident.problem.value}"
            await send(uow, RefundPayment(payment.id, refund_id, amount, reason))
            incident.resolve(CustomerOption.REFUND, self._clock.now(), refund_id=refund_id)
            await self._tell_seller(uow, incident, "delivery_refunded_seller",
                                    amount_minor=amount, currency=order.currency)
            await self._record(uow, incident, "refunded",
                               {"refund_id": refund_id, "payment_id": payment.id,
                                "amount": amount, "currency": order.currency})
            await commit_and_dispatch(uow, self._queue)
        return self.view(incident)

    # --- the operators ----------------------------------------------------------------------

    async def escalate_overdue(self) -> int:
        """Escalate every incident left alone past its deadline: the operators are alerted
        and it is listed for them (the customer can still settle it). The number escalated."""
        now = self._clock.now()
        moved_by = now - min(self._deadlines.values())
        async with self._uow() as uow:
            found = await uow.incidents.unresolved_deliveries(moved_by, ESCALATION_BATCH,
                                                              _ESCALATABLE)
            overdue = [i for i in found if i.is_overdue(now, self._deadlines)]
            for incident in overdue:
                detail = {"incident_id": incident.id, "order_id": incident.order_id,
                          "problem": incident.problem.value, "owner": incident.owner.value,
                          "deadline": incident.deadline(self._deadlines).isoformat()}
                incident.escalate(now)
                await uow.incidents.save_delivery(incident)
                await send(uow, RaiseAlert(
                    "warning", "logistics",
                    f"delivery incident {incident.id} on order {incident.order_id} is past "
                    "its deadline unresolved", detail))
                await uow.evidence.append(EvidenceDraft(
                    source="mall", kind="incident.escalated",
                    subject=f"order:{incident.order_id}",
                    context={"incident_id": incident.id}, payload=detail))
            if overdue:
                await commit_and_dispatch(uow, self._queue)
        return len(overdue)

    async def listing(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Unresolved delivery incidents (or those of one status), oldest move first."""
        statuses = [status] if status else [*_ESCALATABLE, IncidentStatus.ESCALATED.value]
        async with self._uow(read_only=True) as uow:
            found = await uow.incidents.unresolved_deliveries(self._clock.now(), limit,
                                                              statuses)
        return [self.view(incident) for incident in found]

    # --- shared -----------------------------------------------------------------------------

    def view(self, incident: DeliveryIncident) -> dict[str, Any]:
        resolved = incident.status == IncidentStatus.RESOLVED
        return {
            "id": incident.id, "order_id": incident.order_id,
            "shipment_id": incident.shipment_id, "seller_id": incident.seller_id,
            "problem": incident.problem.value, "reason": incident.reason,
            "owner": incident.owner.value, "status": incident.status.value,
            "options": [option.value for option in incident.options],
            "opened_at": incident.opened_at.isoformat(),
            "deadline": None if resolved else incident.deadline(self._deadlines).isoformat(),
            "address_corrected": incident.address_corrected,
            "resolution": incident.resolution.value if incident.resolution else None,
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "steps": [dict(step) for step in incident.steps],
        }

    @staticmethod
    async def _mine(uow: UnitOfWork, customer_id: str, order_id: str, incident_id: str
                    ) -> tuple[Order, DeliveryIncident]:
        """The order (locked: its shipments and money change with the incident) and the
        incident, when both are the customer's; another's look the same as none."""
        incident = await uow.incidents.delivery(incident_id)
        order = await uow.orders.lock(order_id) if incident is not None else None
        if (incident is None or order is None or incident.order_id != order_id
                or order.customer_id != customer_id):
            raise NotFound(f"no delivery incident {incident_id} on your order {order_id}")
        # Read again under the order's lock: a concurrent choice on it is seen.
        incident = await uow.incidents.delivery(incident_id)
        assert incident is not None
        return order, incident

    async def _tell_seller(self, uow: UnitOfWork, incident: DeliveryIncident, template: str,
                           **params: object) -> None:
        await send(uow, SendNotification(
            template, {"incident_id": incident.id, "order_id": incident.order_id,
                       "shipment_id": incident.shipment_id, **params},
            audience="seller", seller_id=incident.seller_id))

    async def _record(self, uow: UnitOfWork, incident: DeliveryIncident, step: str,
                      payload: dict[str, Any]) -> None:
        """Save the incident and keep the step as evidence (never an address)."""
        await uow.incidents.save_delivery(incident)
        await uow.evidence.append(EvidenceDraft(
            source="customer", kind=f"incident.{step}", subject=f"order:{incident.order_id}",
            context={"incident_id": incident.id},
            payload={"status": incident.status.value, "problem": incident.problem.value,
                     **payload}))

