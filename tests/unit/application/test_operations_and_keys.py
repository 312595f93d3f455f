"""Operations the customer follows, and idempotency keys, on fakes."""

from __future__ import annotations

import pytest

from application.idempotency import Fingerprint, KeyReused, Replay, RequestInFlight
from domain.errors import DomainError, NotFound
from tests.unit.application.harness import Mall

PAY = Fingerprint.of("POST", "/v1/orders/{id}/payments", {"id": "ord_1"}, b'{"m": "tok"}')


async def test_an_operation_says_it_is_still_processing_past_the_slow_threshold(
        mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    started = await mall.pay(customer, order)
    operations = mall.container.operations()
    view = await operations.get(customer.id, started.operation["id"])
    assert (view["status"], view["still_processing"]) == ("pending", False)
    mall.clock.advance(seconds=16)
    view = await operations.get(customer.id, started.operation["id"])
    assert view["still_processing"] is True and "Still processing" in view["message"]
    assert view["elapsed_seconds"] == 16.0
    await mall.run_outbox()
    view = await operations.get(customer.id, started.operation["id"])
    assert (view["status"], view["still_processing"]) == ("succeeded", False)


async def test_an_operation_is_only_shown_to_its_customer(mall: Mall) -> None:
    owner, stranger = await mall.customer(), await mall.customer()
    order = await mall.place(owner)
    started = await mall.pay(owner, order)
    with pytest.raises(NotFound):
        await mall.container.operations().get(stranger.id, started.operation["id"])


async def test_following_an_operation_ends_with_its_outcome(mall: Mall) -> None:
    customer, _, started, _ = await mall.attempt()
    views = [v async for v in mall.container.operations().follow(customer.id,
                                                                 started.operation["id"])]
    assert [v["status"] for v in views] == ["succeeded"]


async def test_a_key_reserved_then_answered_replays_the_first_answer(mall: Mall) -> None:
    guard = mall.container.idempotency()
    assert await guard.begin("cus_1", "key-1", PAY) is None
    with pytest.raises(RequestInFlight):
        await guard.begin("cus_1", "key-1", PAY)
    await guard.finish("cus_1", "key-1", 202, {"payment_id": "pay_1"})
    assert await guard.begin("cus_1", "key-1", PAY) == Replay(202, {"payment_id": "pay_1"})
    assert await guard.begin("cus_2", "key-1", PAY) is None  # keys belong to one customer


async def test_a_key_used_for_another_body_or_endpoint_is_refused(mall: Mall) -> None:
    guard = mall.container.idempotency()
    await guard.begin("cus_1", "key-1", PAY)
    await guard.finish("cus_1", "key-1", 201, {})
    other_body = Fingerprint.of("POST", "/v1/orders/{id}/payments", {"id": "ord_1"}, b"{}")
    with pytest.raises(KeyReused, match="different body"):
        await guard.begin("cus_1", "key-1", other_body)
    elsewhere = Fingerprint.of("POST", "/v1/orders/{id}/payments", {"id": "ord_2"},
                               b'{"m": "tok"}')
    with pytest.raises(KeyReused, match="ord_2"):
        await guard.begin("cus_1", "key-1", elsewhere)


async def test_a_server_error_frees_the_key_for_a_retry(mall: Mall) -> None:
    guard = mall.container.idempotency()
    await guard.begin("cus_1", "key-1", PAY)
    await guard.finish("cus_1", "key-1", 503, {"title": "unavailable"})
    assert await guard.begin("cus_1", "key-1", PAY) is None


async def test_a_request_abandoned_in_flight_lets_a_retry_in(mall: Mall) -> None:
    guard = mall.container.idempotency()
    await guard.begin("cus_1", "key-1", PAY)
    mall.clock.advance(minutes=3)
    assert await guard.begin("cus_1", "key-1", PAY) is None


async def test_expired_keys_are_purged_and_free_again(mall: Mall) -> None:
    guard = mall.container.idempotency()
    await guard.begin("cus_1", "key-1", PAY)
    await guard.finish("cus_1", "key-1", 201, {"n": 1})
    mall.clock.advance(hours=25)
    assert await guard.purge() == 1
    assert await guard.begin("cus_1", "key-1", PAY) is None


async def test_a_key_must_be_short(mall: Mall) -> None:
    with pytest.raises(DomainError, match="1 to 255"):
        await mall.container.idempotency().begin("cus_1", "k" * 256, PAY)
