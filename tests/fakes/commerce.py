"""Repositories of what is bought and paid for: customers (with the parts of them kept in
records of their own), orders, payments, their fraud reviews and shipments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from application import ports
from application.ports import FraudReview
from application.ports.persistence import ScreeningRecord
from domain.customers import Customer
from domain.orders import Order
from domain.payments import UNSETTLED, Payment
from domain.shipments import Shipment
from tests.fakes import identity_store
from tests.fakes.clock import START
from tests.fakes.storage import AggregateRepository
from tests.helpers import PAID_OR_LATER

if TYPE_CHECKING:
    from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeCustomers(AggregateRepository[Customer], key="customer_id", value="customer"):
    """The customer, and the parts of it kept in records of their own."""

    name = "customers"

    def __init__(self, unit: FakeUnitOfWork) -> None:
        super().__init__(unit)
        self.identities: ports.IdentityLinks = identity_store.FakeIdentityLinks(unit)
        self.real_names: ports.RealNames = identity_store.FakeRealNames(unit)
        self.consents: ports.Consents = identity_store.FakeConsents(unit)

    # Unlike the other ports' `add`, this one says whether the email was free.
    async def add(self, customer: Customer) -> bool:  # type: ignore[override]
        if any(c.email == customer.email for c in self._rows.values()):
            return False
        self._put(customer.id, customer)
        return True

    async def signed_in(self, customer_id: str, session_id: str) -> Customer | None:
        session = await self._unit.sign_ins.sessions.get(session_id)
        if session is None or session.customer_id != customer_id or session.status == "revoked":
            return None
        return await self.get(customer_id)

    async def by_email(self, email: str) -> Customer | None:
        return self._find(lambda c: c.email == email)

    async def reachable(self, customer_id: str) -> tuple[Customer, dict[str, bool],
                                                         list[str]] | None:
        customer = await self.get(customer_id)
        if customer is None:
            return None
        devices = await self._unit.devices.of_customer(customer_id)
        return (customer, await self.consents.of_customer(customer_id),
                [device.token for device in devices])

    async def lock(self, customer_id: str) -> None:
        return None  # one unit of work writes at a time already

    async def set_identity_verified(self, customer_id: str, verified: bool) -> None:
        customer = await self.get(customer_id)
        if customer is not None:
            customer.identity_verified = verified
            self._put(customer_id, customer)

    async def record_login_failure(self, customer_id: str, at: datetime) -> None:
        failures = self._unit.table("login_failures")
        failures[len(failures)] = (customer_id, at)

    async def login_failures_since(self, customer_id: str, since: datetime) -> int:
        return sum(1 for who, at in self._unit.table("login_failures").values()
                   if who == customer_id and at >= since)


class FakeOrders(AggregateRepository[Order], key="order_id", value="order"):
    name, added_once = "orders", True

    async def lock(self, order_id: str) -> Order | None:
        return await self.get(order_id)  # one unit of work writes at a time already

    async def lock_for_payment(self, payment_id: str) -> Order | None:
        payment = await self._unit.payments.get(payment_id)
        return await self.get(payment.order_id) if payment is not None else None

    async def of_customer(self, customer_id: str, limit: int,
                          before: str | None = None) -> list[Order]:
        cursor = datetime.fromisoformat(before) if before else None
        mine = [o for o in self._all() if o.customer_id == customer_id
                and (cursor is None or (o.created_at is not None and o.created_at < cursor))]
        mine.sort(key=lambda o: o.created_at or START, reverse=True)
        return mine[:limit]

    async def paid_totals(self, limit: int) -> list[tuple[str, int]]:
        paid = [o for o in self._all() if o.status.value in
                (*PAID_OR_LATER, "partially_refunded")]
        paid.sort(key=lambda o: o.created_at or START, reverse=True)
        return [(o.currency, o.total.amount) for o in paid[:limit]]


class FakePayments(AggregateRepository[Payment], key="payment_id"):
    name, added_once = "payments", True

    async def add(self, payment: Payment) -> None:
        await super().add(payment)
        payment.new_events.clear()  # appended to the log, as the real repository does

    async def by_reference(self, provider: str, reference: str) -> Payment | None:
        return self._find(lambda p: p.provider == provider and p.provider_reference == reference)

    async def for_event(self, provider: str, reference: str,
                        merchant_reference: str) -> Payment | None:
        found = await self.by_reference(provider, reference) if reference else None
        if found is None and merchant_reference:
            found = await self.get(merchant_reference)
        return found if found is not None and found.provider == provider else None

    async def save(self, payment: Payment) -> None:
        if payment.id in self._rows:
            self._put(payment.id, payment)
            payment.new_events.clear()

    def _oldest_first(self, matches: Callable[[Payment], bool]) -> list[Payment]:
        return sorted((p for p in self._all() if matches(p)),
                      key=lambda p: p.created_at or START)

    async def of_order(self, order_id: str) -> list[Payment]:
        return self._oldest_first(lambda p: p.order_id == order_id)

    async def waiting_on_customer(self, created_before: datetime, limit: int) -> list[Payment]:
        return self._oldest_first(lambda p: p.status.value in (
            "awaiting_deposit", "requires_action") and _before(p, created_before))[:limit]

    async def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        return self._oldest_first(
            lambda p: p.status in UNSETTLED and _before(p, created_before))[:limit]

    async def failures_of_customer(self, customer_id: str, since: datetime) -> int:
        return sum(1 for p in self._all() if p.customer_id == customer_id
                   and p.status.value == "failed" and p.created_at is not None
                   and p.created_at >= since)


def _before(payment: Payment, moment: datetime) -> bool:
    return payment.created_at is not None and payment.created_at < moment


class FakeFraudReviews(AggregateRepository[FraudReview], key="order_id", value="review"):
    name, key_field = "reviews", "order_id"

    async def add(self, review: FraudReview) -> None:
        if review.order_id not in self._rows:  # one review per order
            self._put(review.order_id, review)

    async def screening(self, order_id: str, customer_id: str,
                        since: datetime) -> ScreeningRecord:
        return ScreeningRecord(
            await self.get(order_id),
            await self._unit.customers.login_failures_since(customer_id, since),
            await self._unit.payments.failures_of_customer(customer_id, since))

    async def pending(self, limit: int) -> list[FraudReview]:
        waiting = [r for r in self._all() if r.status == "pending"]
        return sorted(waiting, key=lambda r: r.opened_at)[:limit]


class FakeShipments(AggregateRepository[Shipment], key="shipment_id", value="shipment"):
    name, added_once = "shipments", True

    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None:
        return self._find(lambda s: s.carrier == carrier and s.tracking_number == tracking_number)

    async def with_order(self, shipment_id: str) -> tuple[Shipment, Order] | None:
        shipment = await self.get(shipment_id)
        order = await self._unit.orders.get(shipment.order_id) if shipment else None
        return (shipment, order) if shipment and order else None

    async def of_order(self, order_id: str) -> list[Shipment]:
        return sorted((s for s in self._all() if s.order_id == order_id),
                      key=lambda s: s.seller_id)
