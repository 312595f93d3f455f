"""Toss Payments exchanges replayed from vcrpy cassettes through TossGateway: deterministic,
no network; and what the cassettes may and may not hold. The scenarios are also what
`tests/cassettes/record_toss.py` records (tests/integration/toss_scenarios.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml

from domain.payments import EventType
from domain.redaction import has_card_number, holds_card_number
from tests.integration.toss_scenarios import (
    CASSETTES,
    CUSTOMER,
    SECRET_PLACEHOLDER,
    STAND_IN_SECRET_KEY,
    account_issued,
    card_confirmed,
    card_declined,
    card_of,
    card_refunds,
    card_request,
    deposit_and_refund,
    first_body,
    interactions,
    kinds,
    lookups,
    only,
    refund_amounts,
    replay,
)

# --- replays -----------------------------------------------------------------------------------


async def test_a_confirmed_card_payment_is_captured_and_a_repeat_changes_nothing() -> None:
    card = card_of("toss_card_confirm.yaml")
    first, repeated, other_key = await replay(
        "toss_card_confirm.yaml", lambda gateway: card_confirmed(gateway, card))
    assert kinds(first) == [EventType.CAPTURED]
    assert only(first, EventType.CAPTURED).amount == card.amount
    assert first.provider_reference == card.payment_key
    assert first.merchant_reference is None  # a card's orderId is the order's, not a payment's
    assert first.failure_code is None and first.callback_secret is None
    assert only(first, EventType.CAPTURED).occurred_at
    assert repeated == first
    # ALREADY_PROCESSED_PAYMENT, then GET /v1/payments/orders/{orderId}: the same payment
    assert [e.key for e in other_key.events] == [e.key for e in first.events]
    assert other_key.provider_reference == card.payment_key
    recorded = interactions("toss_card_confirm.yaml")
    assert json.loads(recorded[2]["response"]["body"]["string"])["code"] == \
        "ALREADY_PROCESSED_PAYMENT"
    assert recorded[3]["request"]["uri"].endswith(f"/v1/payments/orders/{card.order_id}")


async def test_a_declined_card_is_a_failed_update_with_our_reason() -> None:
    card = card_of("toss_card_declined.yaml")
    [declined] = await replay("toss_card_declined.yaml",
                              lambda gateway: card_declined(gateway, card))
    assert kinds(declined) == [EventType.FAILED]
    assert declined.failure_code == "insufficient_funds"  # REJECT_CARD_PAYMENT
    # A refused paymentKey proves nothing: it is not kept as the payment's reference.
    assert declined.provider_reference is None
    assert declined.merchant_reference == card_request(card, "").payment_id


async def test_a_virtual_account_asks_for_a_deposit_and_keeps_its_secret_apart() -> None:
    body = first_body("toss_virtual_account.yaml")
    [issued] = await replay("toss_virtual_account.yaml", lambda gateway: account_issued(
        gateway, body["orderId"], body["amount"]))
    assert kinds(issued) == [EventType.DEPOSIT_REQUESTED]
    assert issued.merchant_reference == body["orderId"]
    assert issued.provider_reference
    assert issued.callback_secret == SECRET_PLACEHOLDER  # the recorded secret was filtered
    account = issued.deposit_account
    assert account is not None
    assert set(account) == {"bank", "account_number", "holder", "amount", "currency",
                            "expires_at"}
    assert account["bank"] == "우리은행" and account["account_number"]
    assert account["holder"] == CUSTOMER[:20]
    assert account["amount"] == body["amount"] and account["currency"] == "KRW"
    assert account["expires_at"].endswith("+00:00")
    assert SECRET_PLACEHOLDER not in json.dumps(account)
    assert body == {"amount": body["amount"], "orderId": body["orderId"],
                    "orderName": "Jeju green tea x2, Celadon cup",
                    "customerName": CUSTOMER[:20], "bank": "20", "validHours": 72}


async def test_partial_refunds_settle_their_requests_and_too_much_is_refused() -> None:
    card = card_of("toss_refunds.yaml")
    first_amount, second_amount, too_much = refund_amounts(card.amount)
    confirmed, first, second, refused = await replay(
        "toss_refunds.yaml", lambda gateway: card_refunds(gateway, card))
    assert kinds(confirmed) == [EventType.CAPTURED]

    assert kinds(first) == [EventType.CAPTURED, EventType.REFUNDED]
    first_refund = only(first, EventType.REFUNDED)
    assert first_refund.amount == first_amount
    assert first_refund.settles == f"rfd_{card.order_id}_1"

    assert kinds(second) == [EventType.CAPTURED, EventType.REFUNDED, EventType.REFUNDED]
    assert only(second, EventType.CAPTURED).amount == card.amount
    old, new = [e for e in second.events if e.type == EventType.REFUNDED]
    assert (old.reference, old.amount, old.settles) == (first_refund.reference, first_amount, "")
    assert (new.amount, new.settles) == (second_amount, f"rfd_{card.order_id}_2")
    assert new.reference != old.reference

    assert kinds(refused) == [EventType.REFUND_FAILED]
    failed = refused.events[0]
    assert (failed.reference, failed.amount) == (f"rfd_{card.order_id}_3", too_much)
    assert refused.failure_code == "invalid_request"  # NOT_CANCELABLE_AMOUNT
    recorded = interactions("toss_refunds.yaml")
    assert [json.loads(r["response"]["body"]["string"]).get("code")
            for r in recorded[1:]] == [None, None, "NOT_CANCELABLE_AMOUNT"]
    assert [r["request"]["body"]["cancelAmount"] for r in recorded[1:]] == \
        [first_amount, second_amount, too_much]


async def test_lookups_report_refunds_and_an_unpaid_cancel() -> None:
    recorded = interactions("toss_lookup.yaml")
    card_key = recorded[0]["request"]["uri"].rsplit("/", 1)[1]
    issue = recorded[1]["request"]["body"]
    card, issued, again, cancelled, looked_up = await replay(
        "toss_lookup.yaml",
        lambda gateway: lookups(gateway, card_key, issue["orderId"], issue["amount"]))
    assert kinds(card) == [EventType.CAPTURED, EventType.REFUNDED, EventType.REFUNDED]
    assert card.provider_reference == card_key
    assert kinds(issued) == [EventType.DEPOSIT_REQUESTED]
    assert again.provider_reference == issued.provider_reference  # found by its orderId
    assert kinds(again) == [EventType.DEPOSIT_REQUESTED]
    # cancelled before any deposit: nothing was paid, so nothing is refunded
    assert kinds(cancelled) == [EventType.CANCELLED]
    assert cancelled.failure_code is None
    assert kinds(looked_up) == [EventType.CANCELLED]


async def test_a_paid_virtual_account_is_captured_and_refunds_need_an_account() -> None:
    issue = first_body("toss_deposit.yaml")
    issued, paid, without_account, with_account = await replay(
        "toss_deposit.yaml",
        lambda gateway: deposit_and_refund(gateway, issue["orderId"], issue["amount"], None))
    assert kinds(issued) == [EventType.DEPOSIT_REQUESTED]
    assert kinds(paid) == [EventType.CAPTURED]
    assert only(paid, EventType.CAPTURED).amount == issue["amount"]
    assert kinds(without_account) == [EventType.REFUND_FAILED]
    assert without_account.failure_code == "invalid_request"
    refund = only(with_account, EventType.REFUNDED)
    assert (refund.amount, refund.settles) == (issue["amount"], f"rfd_{issue['orderId']}_2")
    body = interactions("toss_deposit.yaml")[-1]["request"]["body"]
    assert body["refundReceiveAccount"] == {"bank": "88", "accountNumber": "110-000-000000",
                                            "holderName": "Customer"}


# --- what the cassettes hold -----------------------------------------------------------------

TOSS_CASSETTES = sorted(CASSETTES.glob("toss_*.yaml"))


def test_there_are_toss_cassettes() -> None:
    assert {p.name for p in TOSS_CASSETTES} >= {
        "toss_card_confirm.yaml", "toss_card_declined.yaml", "toss_virtual_account.yaml",
        "toss_refunds.yaml", "toss_lookup.yaml", "toss_deposit.yaml"}


@pytest.mark.parametrize("path", TOSS_CASSETTES, ids=lambda p: p.name)
def test_a_cassette_holds_no_key_secret_card_number_or_security_code(path: Path) -> None:
    text = path.read_text()
    assert "test_sk_" not in text and "live_sk_" not in text
    assert base64.b64encode(f"{STAND_IN_SECRET_KEY}:".encode()).decode() not in text
    # nor any key's Basic credentials: base64 of "test_s" / "live_s" opens them
    assert "dGVzdF9z" not in text and "bGl2ZV9z" not in text
    for interaction in yaml.safe_load(text)["interactions"]:
        # judged as they would be kept: a provider's identifiers as identifiers (a hex
        # transactionKey may hold a Luhn-valid digit run), everything else as typed text
        request, response = interaction["request"], interaction["response"]
        assert not has_card_number(request["uri"])
        for body in (request["body"], response["body"].get("string") or "null"):
            assert not holds_card_number(json.loads(body) if isinstance(body, str) else body)
    assert not re.search(r"(?i)\b(cvc|cvv|cardPassword|cardNumber|securityCode)\b", text)
    for interaction in yaml.safe_load(text)["interactions"]:
        request = interaction["request"]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers.get("authorization") in (None, ["Basic [filtered]"])
        if request["method"] == "POST":
            assert headers["idempotency-key"] and headers["authorization"]
        body = interaction["response"]["body"].get("string") or "null"
        payment = json.loads(body)
        if isinstance(payment, dict) and payment.get("secret"):
            assert payment["secret"] == SECRET_PLACEHOLDER


@pytest.mark.parametrize("path", TOSS_CASSETTES, ids=lambda p: p.name)
def test_recorded_amounts_are_whole_won(path: Path) -> None:
    for interaction in interactions(path.name):
        body = interaction["request"]["body"]
        for name in ("amount", "cancelAmount"):
            if isinstance(body, dict) and name in body:
                assert type(body[name]) is int
        answer = json.loads(interaction["response"]["body"].get("string") or "null")
        if isinstance(answer, dict) and "totalAmount" in answer:
            assert answer["currency"] == "KRW"
            assert type(answer["totalAmount"]) is int and type(answer["balanceAmount"]) is int
