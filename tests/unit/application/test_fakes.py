"""The fakes keep the contracts of the ports they stand for, so tests on them mean something."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator

import pytest

from application import ports
from domain.money import Money
from domain.orders import Order, OrderLine, OrderStatus, ShippingAddress
from tests.fakes import FakeClock, FakeDatabase, FakeUnitOfWork, FakeUnitOfWorkFactory


def _order(order_id: str = "ord_1") -> Order:
    return Order.place(
        order_id=order_id, customer_id="cus_1", currency="KRW",
        lines=[OrderLine("A", "a", "s", 1, Money(1000, "KRW"))],
        shipping_address=ShippingAddress("R", "l1", "", "Seoul", "04524", "KR"),
        carrier="sandbox-express", note="", now=FakeClock().now())


@pytest.fixture
def uow() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(FakeDatabase(), FakeClock())


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if callable(member) and not name.startswith("_")}


def _is_protocol(hint: object) -> bool:
    return isinstance(hint, type) and getattr(hint, "_is_protocol", False)


def _fakes_of(holder: object, port: type) -> Iterator[tuple[object, type]]:
    """Each repository `port` names, as `holder` holds it, with its port; and those the
    repository holds in turn (the customer's parts, the sign-in and message stores)."""
    for name, hint in typing.get_type_hints(port).items():
        assert hasattr(holder, name), f"{type(holder).__name__} has no {name}"
        if _is_protocol(hint):
            fake = getattr(holder, name)
            yield fake, hint
            yield from _fakes_of(fake, hint)


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    """Name, kind and default of each parameter but `self`: how a caller may pass them."""
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()
            if p.name != "self"]


def test_the_fake_unit_of_work_has_a_repository_for_every_one_the_port_names() -> None:
    unit = FakeUnitOfWork(FakeDatabase(), FakeClock())
    checked = 0
    for fake, protocol in _fakes_of(unit, ports.UnitOfWork):
        for method, signature in _methods(protocol).items():
            assert hasattr(fake, method), f"{type(fake).__name__} lacks {method}"
            mine = inspect.signature(getattr(fake, method))
            assert _parameters(mine) == _parameters(signature), \
                f"{type(fake).__name__}.{method}"
            checked += 1
    assert checked >= 90  # with the stores the customer's, sign-ins and messages hold


async def test_get_save_and_add_take_their_arguments_by_the_port_names_too(
        uow: FakeUnitOfWorkFactory) -> None:
    async with uow() as unit:
        await unit.orders.add(order=_order())
        order = await unit.orders.get(order_id="ord_1")
        assert order is not None
        order.cancel()
        await unit.orders.save(order=order)
        assert (await unit.orders.get("ord_1")).status == OrderStatus.CANCELLED  # type: ignore[union-attr]
        with pytest.raises(TypeError):
            await unit.orders.get(key="ord_1")  # type: ignore[call-arg]


async def test_changes_are_kept_on_commit(uow: FakeUnitOfWorkFactory) -> None:
    async with uow() as unit:
        await unit.orders.add(_order())
        await unit.commit()
    async with uow() as unit:
        assert await unit.orders.get("ord_1") is not None


async def test_leaving_without_commit_rolls_everything_back(
        uow: FakeUnitOfWorkFactory) -> None:
    async with uow() as unit:
        await unit.orders.add(_order())
        await unit.messages.outbox.add("RaiseAlert", {"severity": "warning", "source": "t",
                                             "summary": "s", "detail": {}})
        assert await unit.orders.get("ord_1") is not None  # it reads its own writes
    async with uow() as unit:
        assert await unit.orders.get("ord_1") is None
    assert uow.db.outbox() == []


async def test_an_error_inside_rolls_back_too(uow: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(ValueError, match="boom"):
        async with uow() as unit:
            await unit.orders.add(_order())
            raise ValueError("boom")
    async with uow() as unit:
        assert await unit.orders.get("ord_1") is None


async def test_what_a_repository_hands_out_is_a_copy_until_saved(
        uow: FakeUnitOfWorkFactory) -> None:
    async with uow() as unit:
        await unit.orders.add(_order())
        await unit.commit()
    async with uow() as unit:
        order = await unit.orders.get("ord_1")
        assert order is not None and order.events == []  # raised events are not stored
        order.cancel()
        assert (await unit.orders.get("ord_1")).status == OrderStatus.PENDING_PAYMENT  # type: ignore[union-attr]
        await unit.orders.save(order)
        await unit.commit()
    async with uow() as unit:
        assert (await unit.orders.get("ord_1")).status == OrderStatus.CANCELLED  # type: ignore[union-attr]


async def test_a_unit_of_work_opened_inside_another_in_one_task_is_an_error(
        uow: FakeUnitOfWorkFactory) -> None:
    async with uow():
        with pytest.raises(RuntimeError, match="inside another"):
            async with uow():
                pass


async def test_outbox_messages_are_claimed_once_until_their_lease_runs_out() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(FakeDatabase(), clock)
    async with uow() as unit:
        message_id = await unit.messages.outbox.add("CapturePayment", {"payment_id": "pay_1"})
        assert unit.new_outbox_ids == [message_id]
        await unit.commit()
    async with uow() as unit:
        assert await unit.messages.outbox.claim(message_id, lease_seconds=10) is not None
        assert await unit.messages.outbox.claim(message_id, lease_seconds=10) is None
        await unit.commit()
    clock.advance(seconds=11)
    async with uow() as unit:
        again = await unit.messages.outbox.claim(message_id, lease_seconds=10)
        assert again is not None and again.status == "processing"
        await unit.messages.outbox.release(message_id, "boom", dead=False)
        await unit.messages.outbox.complete(message_id)
        assert await unit.messages.outbox.claim(message_id, lease_seconds=10) is None
        await unit.commit()
    assert [(m.status, m.attempts) for m in uow.db.outbox()] == [("done", 1)]


async def test_an_inbox_message_is_stored_once_per_provider_event(
        uow: FakeUnitOfWorkFactory) -> None:
    event = ports.InboundEvent("evt_1", "captured", {"reference": "r"})
    async with uow() as unit:
        first = await unit.messages.inbox.add("sandbox", event)
        assert first is not None
        assert await unit.messages.inbox.add("sandbox", event) is None
        assert await unit.messages.inbox.add("other", event) is not None
        await unit.commit()


async def test_the_evidence_chain_links_each_record_to_the_one_before(
        uow: FakeUnitOfWorkFactory) -> None:
    from domain.evidence import EvidenceDraft

    async with uow() as unit:
        await unit.evidence.append(EvidenceDraft("t", "k", "order:1", {}, {"a": 1}))
        await unit.evidence.append(EvidenceDraft("t", "k", "order:1", {}, {"a": 2}))
        assert await unit.evidence.chain(0, 10) == []  # pending until sealed
        one, two = await unit.evidence.seal(10)
        await unit.commit()
    assert (one.seq, two.seq, two.prev_hash) == (1, 2, one.hash)
    async with uow() as unit:
        assert (await unit.evidence.head()).hash == two.hash
