"""The production container, its use cases and its bus, with every port overridden by an
in-memory fake (tests/fakes.py): application tests that need no database, broker or network.

`Mall` is what a test holds: the container, the fakes, and the steps most tests take."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from dependency_injector import providers

import bootstrap
from adapters.checkpoints import checkpoint_keys
from application.evidence import EvidenceService
from application.ordering import LineInput, PlaceOrder
from application.payments.checkout import PaymentChoice, PaymentStarted
from application.transactions import commit_and_dispatch, send
from domain.commands import ApplyProviderEvent, Command
from domain.customers import Customer
from domain.orders import Order
from domain.payments import Payment
from tests.fakes import (
    FakeAlerts,
    FakeAnalytics,
    FakeCarrier,
    FakeCheckpointStore,
    FakeClock,
    FakeDatabase,
    FakeFraudScreen,
    FakeGateway,
    FakeIdentityProvider,
    FakeNotifier,
    FakePasswordHasher,
    FakeRealNameVerifier,
    FakeTaskQueue,
    FakeUnitOfWorkFactory,
)
from tests.helpers import ORDER

MAX_ATTEMPTS = 3


class Attempt(NamedTuple):
    """A new customer's order and the payment started on it, as they stand once the outbox
    has run."""

    customer: Customer
    order: Order
    started: PaymentStarted
    payment: Payment


@dataclass
class Mall:
    """The container with its fakes, and the steps most tests take."""

    container: bootstrap.Container
    db: FakeDatabase
    clock: FakeClock
    queue: FakeTaskQueue
    gateway: FakeGateway
    carrier: FakeCarrier
    notifier: FakeNotifier
    analytics: FakeAnalytics
    alerts: FakeAlerts
    fraud: FakeFraudScreen
    hasher: FakePasswordHasher
    identity: FakeIdentityProvider
    checkpoints: FakeCheckpointStore
    real_names: FakeRealNameVerifier

    async def customer(self, email: str | None = None, country: str | None = "KR") -> Customer:
        return await self.container.accounts().register(
            email or f"c{uuid.uuid4().hex[:8]}@example.com", "correct horse battery",
            country=country)

    async def place(self, customer: Customer, **changes: Any) -> Order:
        order = {**ORDER, **changes}
        return await self.container.ordering().place(PlaceOrder(
            customer_id=customer.id, currency=order["currency"],
            lines=[LineInput(**line) for line in order["lines"]],
            shipping_address={"line2": "", **order["shipping_address"]}, carrier=order["carrier"],
            note=order["note"]))

    async def pay(self, customer: Customer, order: Order, token: str = "tok_visa",
                  **choice: Any) -> PaymentStarted:
        return await self.container.payments().start(
            customer_id=customer.id, order_id=order.id, method_token=token,
            choice=PaymentChoice(token, **choice) if choice else None)

    async def run_outbox(self, rounds: int = 25) -> int:
        """Deliver every dispatched outbox message through the production relay, and what
        they cause, until nothing is left; the number delivered."""
        relay, delivered = self.container.outbox(), 0
        for _ in range(rounds):
            if not self.queue.outbox:
                return delivered
            batch, self.queue.outbox[:] = list(self.queue.outbox), []
            for message_id in batch:
                await relay.run(message_id)
                delivered += 1
        raise AssertionError("the outbox kept producing work")

    async def queued(self, *commands: Command) -> list[str]:
        """Commands written to the outbox in one transaction, as a use case writes them; the
        hand-off to the workers is dropped, for the test to deliver them itself."""
        async with self.container.uow()() as unit:
            ids = [await send(unit, command) for command in commands]
            await commit_and_dispatch(unit, self.queue)
        self.queue.outbox.clear()
        return ids

    async def run_inbox(self) -> None:
        """What the inbox actor does: each stored callback becomes a command on the bus."""
        bus = self.container.bus()
        batch, self.queue.inbox[:] = list(self.queue.inbox), []
        for message_id in batch:
            await bus.handle(ApplyProviderEvent(message_id))

    async def attempt(self, token: str = "tok_visa") -> Attempt:
        """A new customer places an order and pays with `token`; the outbox runs."""
        customer = await self.customer()
        order = await self.place(customer)
        started = await self.pay(customer, order, token)
        await self.run_outbox()
        [payment] = await self.payments_of(order.id)
        return Attempt(customer, order, started, payment)

    async def operation(self, customer: Customer, started: PaymentStarted) -> dict[str, Any]:
        """The operation a payment started, as its customer sees it."""
        return await self.container.operations().get(customer.id, started.operation["id"])

    async def paid_order(self, customer: Customer | None = None) -> tuple[Customer, Order]:
        """A customer and an order paid by card, with everything that follows delivered."""
        customer = customer or await self.customer()
        order = await self.place(customer)
        await self.pay(customer, order)
        await self.run_outbox()
        return customer, order

    async def order(self, order_id: str) -> Order:
        async with self.container.uow()() as unit:
            found = await unit.orders.get(order_id)
        assert found is not None
        return found

    async def payments_of(self, order_id: str) -> list[Any]:
        async with self.container.uow()() as unit:
            return await unit.payments.of_order(order_id)

    async def shipments_of(self, order_id: str) -> list[Any]:
        async with self.container.uow()() as unit:
            return await unit.shipments.of_order(order_id)


def build_mall(tmp_path: Path, db: FakeDatabase | None = None, **settings: Any) -> Mall:
    """A container on fakes; `db`: the rows of another one (another process, say)."""
    values: dict[str, Any] = {
        "secret_key": "unit-secret-" + "k" * 40, "pseudonym_key": "unit-pseudonym-" + "p" * 40,
        "sqlite_path": str(tmp_path / "never-opened.sqlite"),
        "keys_file": str(tmp_path / "keys.json"),
        "evidence_checkpoint_file": str(tmp_path / "checkpoints.jsonl"),
        "database_url": "", "redis_url": "",
        "payment_sync_wait_seconds": 0, "operation_slow_after_seconds": 15,
        "outbox_max_attempts": MAX_ATTEMPTS, "identity_providers": ["sandbox"],
        **settings,
    }
    container = bootstrap.build(bootstrap.Settings(**values))
    clock, db = FakeClock(), db or FakeDatabase()
    mall = Mall(container, db, clock, FakeTaskQueue(), FakeGateway(), FakeCarrier(),
                FakeNotifier(), FakeAnalytics(), FakeAlerts(), FakeFraudScreen(),
                FakePasswordHasher(), FakeIdentityProvider(), FakeCheckpointStore(),
                FakeRealNameVerifier())
    overrides = {
        "clock": clock, "uow": FakeUnitOfWorkFactory(db, clock), "queue": mall.queue,
        "payment_gateways": {"sandbox": mall.gateway},
        "carriers": {mall.carrier.name: mall.carrier},
        "notifier": mall.notifier, "analytics": mall.analytics, "alerts": mall.alerts,
        "fraud": mall.fraud, "hasher": mall.hasher,
        "identity_providers": {mall.identity.name: mall.identity},
        "real_name_verifier": mall.real_names,
    }
    for name, fake in overrides.items():
        getattr(container, name).override(providers.Object(fake))
    # The checkpoint store is built inside the evidence provider: rebuild that one around it.
    config = container.config
    container.evidence.override(providers.Singleton(
        EvidenceService, container.uow, container.clock, mall.checkpoints,
        providers.Singleton(checkpoint_keys, config.evidence_checkpoint_keys,
                            config.evidence_checkpoint_key_id, config.secret_key),
        container.alerts))
    return mall
