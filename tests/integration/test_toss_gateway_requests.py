"""What TossGateway sends without any cassette (a scripted HTTP client keeps it), and how it
reads Toss's Payment object."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, cast

import pytest

from adapters.http import HttpResponse, OutboundHttp
from adapters.payments.toss import TossGateway, basic_authorization, payment_update
from application.ports import PaymentRequest, ProviderCall
from domain.errors import ProviderUnavailable
from domain.money import Money
from domain.payments import EventType, PaymentUpdate
from tests.integration.toss_scenarios import (
    CUSTOMER,
    Card,
    call,
    card_request,
    kinds,
    only,
)

# --- without cassettes: what the gateway sends -------------------------------------------------


class FakeHttp:
    """Answers from a script and keeps what was sent."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    async def request(self, provider: str, method: str, url: str, *, subject: str,
                      json_body: Any = None, headers: Mapping[str, str] | None = None,
                      idempotent: bool | None = None, **_: Any) -> HttpResponse:
        self.sent.append({"provider": provider, "method": method, "url": url,
                          "body": json_body, "headers": dict(headers or {}),
                          "idempotent": idempotent, "subject": subject})
        status, body = self.answers.pop(0)
        return HttpResponse(status, {}, json.dumps(body).encode())

    async def available(self, provider: str) -> bool:
        return provider == "toss"


def fake_gateway(*answers: tuple[int, Any]) -> tuple[TossGateway, FakeHttp]:
    http = FakeHttp(*answers)
    gateway = TossGateway(cast(OutboundHttp, http), "test_sk_unit_0123",
                          base_url="https://toss.test")
    return gateway, http


PAID = {"paymentKey": "tgen_success_x", "orderId": "pay_1", "status": "DONE",
        "totalAmount": 15000, "balanceAmount": 15000, "currency": "KRW",
        "requestedAt": "2026-11-26T10:00:00+09:00", "approvedAt": "2026-11-26T10:00:05+09:00"}


def test_basic_authorization_is_the_key_and_an_empty_password() -> None:
    header = basic_authorization("test_sk_unit_0123")
    assert header == "Basic " + base64.b64encode(b"test_sk_unit_0123:").decode()
    assert base64.b64decode(header.removeprefix("Basic ")) == b"test_sk_unit_0123:"


async def test_every_call_is_authenticated_and_every_post_carries_its_key() -> None:
    gateway, http = fake_gateway((200, PAID), (200, PAID), (200, PAID))
    await gateway.authorize(card_request(Card("tgen_success_x", "ord_1", 15000), "idem-1"))
    await gateway.lookup("tgen_success_x")
    await gateway.capture(call("tgen_success_x", 15000, "cap-1"))
    expected = "Basic " + base64.b64encode(b"test_sk_unit_0123:").decode()
    assert all(sent["headers"]["Authorization"] == expected for sent in http.sent)
    confirm, get, captured = http.sent
    assert confirm["url"] == "https://toss.test/v1/payments/confirm"
    assert confirm["body"] == {"paymentKey": "tgen_success_x", "orderId": "ord_1",
                               "amount": 15000}
    assert type(confirm["body"]["amount"]) is int
    assert confirm["headers"]["Idempotency-Key"] == "idem-1" and confirm["idempotent"]
    assert confirm["subject"] == "order:ord_1"
    assert get["method"] == "GET" and "Idempotency-Key" not in get["headers"]
    assert captured["url"] == get["url"] == "https://toss.test/v1/payments/tgen_success_x"
    assert await gateway.available()


async def test_other_currencies_are_refused_without_asking_toss() -> None:
    gateway, http = fake_gateway()
    request = PaymentRequest("pay_1", "ord_1", Money(1500, "USD"), "card", "tgen_success_x",
                             "idem-1", CUSTOMER)
    update = await gateway.authorize(request)
    assert kinds(update) == [EventType.FAILED]
    assert update.failure_code == "unsupported_method"
    refund = await gateway.refund(ProviderCall("tgen_success_x", Money(100, "USD"), "rfd_1"))
    assert kinds(refund) == [EventType.REFUND_FAILED]
    assert http.sent == []


async def test_a_transient_toss_error_is_provider_unavailable_after_sending() -> None:
    gateway, _ = fake_gateway((400, {"code": "PROVIDER_ERROR", "message": "일시적인 오류"}))
    with pytest.raises(ProviderUnavailable) as caught:
        await gateway.authorize(card_request(Card("tgen_success_x", "pay_1", 15000), "idem"))
    assert caught.value.request_sent


async def test_a_refund_with_a_refund_account_sends_it_in_tosss_names() -> None:
    refunded = {**PAID, "status": "PARTIAL_CANCELED", "balanceAmount": 10000, "cancels": [
        {"transactionKey": "TK1", "cancelAmount": 5000, "cancelStatus": "DONE",
         "canceledAt": "2026-11-26T11:00:00+09:00"}]}
    gateway, http = fake_gateway((200, refunded))
    update = await gateway.refund(call("tgen_success_x", 5000, "rfd_1", "damaged"),
                                  refund_account={"bank": "88", "account_number": "1",
                                                  "holder": "H"})
    assert only(update, EventType.REFUNDED).settles == "rfd_1"
    assert http.sent[0]["body"] == {
        "cancelReason": "damaged", "cancelAmount": 5000,
        "refundReceiveAccount": {"bank": "88", "accountNumber": "1", "holderName": "H"}}
    assert http.sent[0]["headers"]["Idempotency-Key"] == "rfd_1"


async def test_a_refused_cancel_reports_the_payment_as_it_stands() -> None:
    gateway, http = fake_gateway(
        (403, {"code": "NOT_CANCELABLE_PAYMENT", "message": "취소 할 수 없는 결제 입니다."}),
        (200, PAID))
    update = await gateway.cancel(call("tgen_success_x", 15000, "cnl_1"))
    assert kinds(update) == [EventType.CAPTURED]
    assert http.sent[0]["body"] == {"cancelReason": "Payment cancelled"}
    assert http.sent[1]["method"] == "GET"


@pytest.mark.parametrize(("reason", "words"), [
    ("fraudulent", "Order rejected in fraud review"),
    ("abandoned", "Payment abandoned before it was completed"),
    ("duplicate", "Duplicate payment for an order already settled"),
    ("requested_by_customer", "Cancelled at the customer's request"),
    ("Customer changed their mind", "Customer changed their mind"),
])
async def test_a_cancel_always_gives_toss_its_required_reason_in_words(
    reason: str, words: str,
) -> None:
    gateway, http = fake_gateway((200, PAID))
    await gateway.cancel(call("tgen_success_x", 15000, "cnl_1", reason))
    assert http.sent[0]["body"] == {"cancelReason": words}


async def test_a_reference_toss_does_not_know_is_looked_up_as_an_order() -> None:
    gateway, http = fake_gateway(
        (404, {"code": "NOT_FOUND_PAYMENT", "message": "존재하지 않는 결제 정보 입니다."}),
        (200, PAID))
    update = await gateway.lookup("pay_1")
    assert update.provider_reference == "tgen_success_x"
    assert http.sent[1]["url"] == "https://toss.test/v1/payments/orders/pay_1"


# --- translating Toss's Payment object ---------------------------------------------------------


def test_status_mapping() -> None:
    def of(**fields: Any) -> PaymentUpdate:
        return payment_update({**PAID, **fields})

    assert kinds(of(status="READY", approvedAt=None)) == [EventType.PROCESSING]
    assert kinds(of(status="IN_PROGRESS", approvedAt=None)) == [EventType.PROCESSING]
    assert kinds(of(status="DONE")) == [EventType.CAPTURED]
    assert only(of(status="DONE"), EventType.CAPTURED).occurred_at == 1795654805.0
    aborted = of(status="ABORTED", approvedAt=None,
                 failure={"code": "INVALID_CARD_EXPIRATION", "message": "..."})
    assert kinds(aborted) == [EventType.FAILED] and aborted.failure_code == "expired_card"
    expired_card = of(status="EXPIRED", approvedAt=None)
    assert kinds(expired_card) == [EventType.CANCELLED]
    assert expired_card.failure_code == "authentication_abandoned"
    account = {"accountNumber": "X1234567", "bankCode": "88", "customerName": "C",
               "dueDate": "2026-11-29T10:00:00+09:00", "refundStatus": "NONE"}
    expired_account = of(status="EXPIRED", approvedAt=None, virtualAccount=account)
    assert expired_account.failure_code == "deposit_expired"
    waiting = of(status="WAITING_FOR_DEPOSIT", approvedAt=None, virtualAccount=account,
                 secret="ps_secret_value")
    assert kinds(waiting) == [EventType.DEPOSIT_REQUESTED]
    assert waiting.callback_secret == "ps_secret_value"
    assert waiting.deposit_account == {
        "bank": "신한은행", "account_number": "X1234567", "holder": "C", "amount": 15000,
        "currency": "KRW", "expires_at": "2026-11-29T01:00:00+00:00"}
    cancel = {"transactionKey": "TK1", "cancelAmount": 15000, "cancelStatus": "DONE",
              "canceledAt": "2026-11-27T10:00:00+09:00"}
    unpaid = of(status="CANCELED", approvedAt=None, virtualAccount=account, cancels=[cancel])
    assert kinds(unpaid) == [EventType.CANCELLED]
    refunded_account = of(status="CANCELED", virtualAccount={**account,
                                                             "refundStatus": "COMPLETED"},
                          cancels=[cancel], balanceAmount=0)
    assert kinds(refunded_account) == [EventType.CAPTURED, EventType.REFUNDED]
    card_cancelled = of(status="CANCELED", cancels=[cancel], balanceAmount=0)
    assert [(e.type, e.amount, e.reference) for e in card_cancelled.events] == [
        (EventType.CAPTURED, 15000, ""), (EventType.REFUNDED, 15000, "TK1")]
    naive = of(status="DONE", approvedAt="2026-11-26T10:00:05")  # no offset: KST
    assert only(naive, EventType.CAPTURED).occurred_at == 1795654805.0
