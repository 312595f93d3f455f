"""Provider callbacks on fakes: verified, kept once in the inbox, applied through the bus."""

from __future__ import annotations

from typing import Any

import pytest

from domain.commands import RaiseAlert
from domain.customers import Customer
from domain.errors import InvalidSignature, NotFound, ProviderUnavailable
from domain.orders import Order, OrderStatus
from domain.payments import EventType, Payment, PaymentStatus, PaymentUpdate
from tests.fakes import DEPOSIT, THREE_DS, FakeGateway, FakeOrders
from tests.unit.application.harness import Mall


async def _waiting(mall: Mall, token: str = THREE_DS) -> tuple[Customer, Order, Payment]:
    """An order whose payment waits for the provider's word (3-D Secure by default)."""
    customer, order, _, payment = await mall.attempt(token)
    return customer, order, payment


async def _deliver(mall: Mall, headers: dict[str, str], body: bytes,
                   provider: str = "sandbox") -> str:
    outcome = await mall.container.webhooks().receive(provider, headers, body)
    await mall.run_inbox()
    await mall.run_outbox()
    return outcome


def _status(mall: Mall) -> list[str]:
    return [m.status for m in mall.db.inbox()]


async def test_a_verified_callback_is_kept_once_with_its_evidence_and_handed_on(
        mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference)
    assert await mall.container.webhooks().receive("sandbox", headers, body) == "accepted"
    [message] = mall.db.inbox()
    assert (message.provider, message.event_id, message.status) == (
        "sandbox", "evt_1", "received")
    assert mall.queue.inbox == [message.id]
    [evidence] = mall.db.evidence("webhook.received")
    assert evidence.subject == f"order:{order.id}"
    assert evidence.context == {"event_id": "evt_1", "event_type": "captured"}


async def test_the_same_event_twice_is_a_duplicate_and_is_stored_once(mall: Mall) -> None:
    _, _, payment = await _waiting(mall)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference)
    webhooks = mall.container.webhooks()
    assert await webhooks.receive("sandbox", headers, body) == "accepted"
    assert await webhooks.receive("sandbox", headers, body) == "duplicate"
    assert len(mall.db.inbox()) == 1
    assert len(mall.queue.inbox) == 1


async def test_a_bad_signature_is_refused_and_nothing_is_stored(mall: Mall) -> None:
    _, _, payment = await _waiting(mall)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference)
    with pytest.raises(InvalidSignature):
        await mall.container.webhooks().receive("sandbox", {"x-fake-signature": "0" * 64},
                                                body)
    with pytest.raises(InvalidSignature):
        await mall.container.webhooks().receive("sandbox", headers, body + b" ")
    assert mall.db.inbox() == [] and mall.db.evidence("webhook.received") == []


async def test_a_callback_for_a_provider_we_do_not_use_is_not_found(mall: Mall) -> None:
    headers, body = mall.gateway.webhook("evt_1", "captured", reference="x")
    with pytest.raises(NotFound, match="no webhook endpoint"):
        await mall.container.webhooks().receive("paypal", headers, body)


async def test_a_capture_callback_pays_the_order_through_the_bus(mall: Mall) -> None:
    customer, order, payment = await _waiting(mall)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference)
    await _deliver(mall, headers, body)
    assert _status(mall) == ["applied"]
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CAPTURED
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert len(await mall.shipments_of(order.id)) == 2
    assert "order_paid" in mall.notifier.templates(customer.email)
    assert [e.payload["status"] for e in mall.db.evidence("payment.transition")][-1] == (
        "captured")


async def test_a_deposit_arriving_pays_an_order_that_waited_for_it(mall: Mall) -> None:
    _, order, payment = await _waiting(mall, DEPOSIT)
    headers, body = mall.gateway.webhook("evt_dep", "captured",
                                         reference=payment.provider_reference)
    await _deliver(mall, headers, body)
    assert (await mall.order(order.id)).status == OrderStatus.PAID


async def test_a_message_processed_twice_is_applied_once(mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference)
    await mall.container.webhooks().receive("sandbox", headers, body)
    [inbox_id] = mall.queue.inbox
    await mall.run_inbox()
    await mall.container.webhooks().process(inbox_id)  # the broker delivered it again
    await mall.run_outbox()
    assert _status(mall) == ["applied"]
    assert len(await mall.shipments_of(order.id)) == 2


async def test_a_fact_reported_again_under_another_event_id_changes_nothing(
        mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    for event_id in ("evt_1", "evt_2"):
        headers, body = mall.gateway.webhook(event_id, "captured",
                                             reference=payment.provider_reference)
        await _deliver(mall, headers, body)
    assert _status(mall) == ["applied", "no_change"]
    assert len(await mall.shipments_of(order.id)) == 2


async def test_a_late_processing_report_never_undoes_a_capture(mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    captured = mall.gateway.webhook("evt_1", "captured", reference=payment.provider_reference)
    late = mall.gateway.webhook("evt_0", "processing", reference=payment.provider_reference)
    await _deliver(mall, *captured)
    await _deliver(mall, *late)
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CAPTURED
    assert (await mall.order(order.id)).status == OrderStatus.PAID


async def test_an_event_about_no_payment_is_ignored(mall: Mall) -> None:
    headers, body = mall.gateway.webhook("evt_1", "customer.updated")
    await _deliver(mall, headers, body)
    assert _status(mall) == ["ignored"]


async def test_a_callback_that_overtook_our_record_is_retried_then_set_aside(
        mall: Mall) -> None:
    headers, body = mall.gateway.webhook("evt_1", "captured", reference="fk_unknown")
    await mall.container.webhooks().receive("sandbox", headers, body)
    [inbox_id] = mall.queue.inbox
    webhooks = mall.container.webhooks()
    with pytest.raises(NotFound):
        await webhooks.process(inbox_id)  # the actor retries it
    assert _status(mall) == ["received"]  # the failed attempt left nothing behind

    mall.clock.advance(minutes=16)  # past the grace period
    await webhooks.process(inbox_id)
    assert _status(mall) == ["unmatched"]
    [incident] = mall.db.incidents("webhook_unmatched")
    assert incident["subject"] == f"inbox:{inbox_id}"
    await mall.run_outbox()
    assert [a.source for a in mall.alerts.alerts] == ["sandbox"]


async def test_a_callback_that_contradicts_what_we_know_is_rejected_for_a_human(
        mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    # It names our payment but another provider reference: it cannot be about this payment.
    headers, body = mall.gateway.webhook("evt_1", "captured", reference="fk_someone_else",
                                         payment_id=payment.id)
    await _deliver(mall, headers, body)
    assert _status(mall) == ["rejected"]
    [incident] = mall.db.incidents("webhook_rejected")
    assert "does not belong" in incident["detail"]["reason"]
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION


async def test_an_unsigned_hint_is_checked_with_the_provider_before_anything_moves(
        mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    assert payment.provider_reference is not None
    # The body claims a capture; the provider says the payment was cancelled.
    mall.gateway.lookups[payment.provider_reference] = PaymentUpdate.of(
        EventType.CANCELLED, payment.provider_reference)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference, lookup=True)
    await _deliver(mall, headers, body)
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CANCELLED
    assert (await mall.order(order.id)).status != OrderStatus.PAID


async def test_a_hint_the_provider_cannot_confirm_is_retried_then_left_unconfirmed(
        mall: Mall) -> None:
    _, order, payment = await _waiting(mall)
    mall.gateway.lookup_error = ProviderUnavailable("down")
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference, lookup=True)
    await mall.container.webhooks().receive("sandbox", headers, body)
    [inbox_id] = mall.queue.inbox
    webhooks = mall.container.webhooks()
    with pytest.raises(ProviderUnavailable):
        await webhooks.process(inbox_id)
    mall.clock.advance(minutes=16)
    await webhooks.process(inbox_id)
    assert _status(mall) == ["unconfirmed"]
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION


async def test_a_chargeback_disputes_the_order_and_calls_the_operators(mall: Mall) -> None:
    _, order = await mall.paid_order()
    reference = FakeGateway.reference((await mall.payments_of(order.id))[0].id)
    headers, body = mall.gateway.webhook("evt_dp", "dispute_opened", reference=reference,
                                         fact="dp_1", amount=39000)
    await _deliver(mall, headers, body)
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.disputed) == (PaymentStatus.DISPUTED, 39000)
    assert (await mall.order(order.id)).status == OrderStatus.DISPUTED
    [incident] = mall.db.incidents("chargeback")
    assert incident["detail"]["evidence_bundle"].endswith(f"/orders/{order.id}/dispute-bundle")
    critical = [a for a in mall.alerts.alerts if a.severity == "critical"]
    assert [a.source for a in critical] == ["payments"]


async def test_a_won_dispute_brings_the_order_back_and_says_so(mall: Mall) -> None:
    _, order = await mall.paid_order()
    reference = FakeGateway.reference((await mall.payments_of(order.id))[0].id)
    for event_id, kind in (("evt_o", "dispute_opened"), ("evt_w", "dispute_won")):
        await _deliver(mall, *mall.gateway.webhook(event_id, kind, reference=reference,
                                                   fact="dp_1", amount=39000))
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    closed = [c for c in mall.db.commands(RaiseAlert, status="done") if "was won" in c.summary]
    assert len(closed) == 1


async def test_the_sweep_hands_on_callbacks_nobody_finished(mall: Mall) -> None:
    _, _, payment = await _waiting(mall)
    headers, body = mall.gateway.webhook("evt_1", "captured",
                                         reference=payment.provider_reference)
    await mall.container.webhooks().receive("sandbox", headers, body)
    mall.queue.inbox.clear()  # the broker lost it
    relay = mall.container.outbox()
    assert await relay.sweep(older_than_seconds=30) == 0
    mall.clock.advance(seconds=31)
    assert await relay.sweep(older_than_seconds=30) == 1
    assert len(mall.queue.inbox) == 1
    await mall.run_inbox()
    assert _status(mall) == ["applied"]


def _payload(mall: Mall) -> dict[str, Any]:
    return mall.db.inbox()[0].payload


async def test_card_numbers_in_a_callback_are_kept_only_redacted(mall: Mall) -> None:
    headers, body = mall.gateway.webhook("evt_1", "customer.updated",
                                         note="card 4242424242424242")
    await mall.container.webhooks().receive("sandbox", headers, body)
    assert "4242424242424242" not in str(_payload(mall))
    assert "4242424242424242" not in str(mall.db.evidence("webhook.received")[0].payload)


async def test_a_deposit_callback_carrying_its_payments_secret_is_accepted(
        mall: Mall) -> None:
    _, order, payment = await _waiting(mall, DEPOSIT)
    assert payment.callback_secret_hash is not None  # only a hash of the secret is kept
    headers, body = mall.gateway.webhook(
        "evt_dep", "captured", reference=payment.provider_reference,
        secret=FakeGateway.callback_secret(payment.id))
    assert await _deliver(mall, headers, body) == "accepted"
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert FakeGateway.callback_secret(payment.id) not in str(mall.db.inbox())


@pytest.mark.parametrize("secret", ["cbs_guess", "", "cbs_pay_of_another_order"])
async def test_a_deposit_callback_with_another_secret_is_refused(
        mall: Mall, secret: str) -> None:
    _, order, payment = await _waiting(mall, DEPOSIT)
    headers, body = mall.gateway.webhook("evt_dep", "captured",
                                         reference=payment.provider_reference, secret=secret)
    with pytest.raises(InvalidSignature, match="secret does not match"):
        await mall.container.webhooks().receive("sandbox", headers, body)
    assert mall.db.inbox() == []
    assert (await mall.order(order.id)).status == OrderStatus.AWAITING_DEPOSIT


async def test_a_callback_secret_for_no_payment_we_know_is_refused(mall: Mall) -> None:
    headers, body = mall.gateway.webhook("evt_dep", "captured", reference="fk_unknown",
                                         secret="cbs_whatever")
    with pytest.raises(InvalidSignature, match="names no payment"):
        await mall.container.webhooks().receive("sandbox", headers, body)
    assert mall.db.inbox() == []


async def test_a_fact_known_already_is_settled_without_locking_the_order(
        mall: Mall, monkeypatch: pytest.MonkeyPatch) -> None:
    _, order, payment = await _waiting(mall)
    await _deliver(mall, *mall.gateway.webhook("evt_1", "captured",
                                               reference=payment.provider_reference))
    locked: list[str] = []

    async def lock(self: FakeOrders, order_id: str) -> Order | None:
        locked.append(order_id)
        return await self.get(order_id)

    monkeypatch.setattr(FakeOrders, "lock", lock)
    await _deliver(mall, *mall.gateway.webhook("evt_2", "captured",
                                               reference=payment.provider_reference))
    assert _status(mall) == ["applied", "no_change"]
    assert locked == []
    # A fact it does not know yet still takes the lock.
    await _deliver(mall, *mall.gateway.webhook("evt_3", "refunded", amount=100,
                                               fact="re_1",
                                               reference=payment.provider_reference))
    assert locked == [order.id]
