"""Toss Payments exchanges replayed from vcrpy cassettes through TossGateway: deterministic,
no network. The scenarios below are also what `tests/cassettes/record_toss.py` records."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import vcr
import yaml

from adapters.http import HttpResponse, OutboundHttp
from adapters.payments.toss import TossGateway, basic_authorization, payment_update
from application.ports import PaymentRequest, ProviderCall
from domain.errors import ProviderUnavailable
from domain.money import Money
from domain.payments import EventType, PaymentEvent, PaymentUpdate
from domain.redaction import has_card_number, holds_card_number
from tests.helpers import NoAlerts, RecordingLedger

CASSETTES = Path(__file__).parent.parent / "cassettes"
RECORDED_URL = "http://127.0.0.1:18767"
STAND_IN_SECRET_KEY = "test_sk_standin_4Yq7Xk2mPz9Lw3Nb"
SECRET_PLACEHOLDER = "[filtered-secret]"
CUSTOMER = "cus_pseudo_5f1e0c9a7b3d4e21aa"  # a keyed hash, as the application passes it

# --- recording configuration ---------------------------------------------------------------


def _mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (SECRET_PLACEHOLDER if k == "secret" and v else _mask_secrets(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets(v) for v in value]
    return value


def filter_secrets(response: dict[str, Any]) -> dict[str, Any]:
    """Virtual-account `secret`s authenticate Toss's deposit callbacks: never on disk."""
    raw = response.get("body", {}).get("string")
    if not raw:
        return response
    try:
        body = json.loads(raw)
    except ValueError:
        return response
    masked = json.dumps(_mask_secrets(body), ensure_ascii=False).encode()
    response["body"]["string"] = masked
    for name in list(response.get("headers", {})):
        if name.lower() == "content-length":
            response["headers"][name] = [str(len(masked))]
    return response


def skip_stand_in_controls(request: Any) -> Any:
    """The stand-in's own controls (a customer's deposit) are not Toss: never recorded."""
    return None if "/stand-in/" in request.path else request


def toss_vcr(record_mode: str = "none") -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "body"],
        filter_headers=[("authorization", "Basic [filtered]")],
        before_record_request=skip_stand_in_controls,
        before_record_response=filter_secrets, decode_compressed_response=True,
    )


Ledger, Alerts = RecordingLedger, NoAlerts


def outbound_http() -> OutboundHttp:
    return OutboundHttp(Ledger(), Alerts(), timeout_seconds=10, retries=0, breaker_threshold=5,
                        breaker_ttl_seconds=30)


# --- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A payment the widget authenticated: its paymentKey, our payment id, the amount."""

    payment_key: str
    order_id: str
    amount: int


Deposit = Callable[[str], Awaitable[None]]


def card_request(card: Card, idempotency_key: str) -> PaymentRequest:
    return PaymentRequest(
        payment_id="pay_" + card.order_id.removeprefix("ord_"), order_id=card.order_id,
        amount=Money(card.amount, "KRW"), method="card", method_token=card.payment_key,
        idempotency_key=idempotency_key, customer_reference=CUSTOMER, description="Jeju tea")


def account_request(order_id: str, amount: int, idempotency_key: str) -> PaymentRequest:
    return PaymentRequest(
        payment_id=order_id, order_id=f"ord_{order_id}", amount=Money(amount, "KRW"),
        method="virtual_account", method_token="", idempotency_key=idempotency_key,
        customer_reference=CUSTOMER, description="Jeju green tea x2, Celadon cup")


def call(reference: str, amount: int, key: str, reason: str = "") -> ProviderCall:
    return ProviderCall(reference, Money(amount, "KRW"), key, reason)


def refund_amounts(total: int) -> tuple[int, int, int]:
    """Two partial refunds, then one larger than what is left."""
    first, second = total // 3, total // 6
    return first, second, total - first


async def card_confirmed(gateway: TossGateway, card: Card) -> list[PaymentUpdate]:
    """Confirm; repeat with the same key (Toss answers the same); repeat with a new key (Toss
    says ALREADY_PROCESSED_PAYMENT, and the gateway asks for the order instead)."""
    return [await gateway.authorize(card_request(card, f"{card.order_id}:confirm")),
            await gateway.authorize(card_request(card, f"{card.order_id}:confirm")),
            await gateway.authorize(card_request(card, f"{card.order_id}:confirm-again"))]


async def card_declined(gateway: TossGateway, card: Card) -> list[PaymentUpdate]:
    return [await gateway.authorize(card_request(card, f"{card.order_id}:confirm"))]


async def account_issued(gateway: TossGateway, order_id: str,
                         amount: int) -> list[PaymentUpdate]:
    return [await gateway.authorize(account_request(order_id, amount, f"{order_id}:issue"))]


async def card_refunds(gateway: TossGateway, card: Card) -> list[PaymentUpdate]:
    confirmed = await gateway.authorize(card_request(card, f"{card.order_id}:confirm"))
    updates = [confirmed]
    for number, amount in enumerate(refund_amounts(card.amount), start=1):
        updates.append(await gateway.refund(call(
            card.payment_key, amount, f"rfd_{card.order_id}_{number}", "Customer returned items")))
    return updates


async def lookups(gateway: TossGateway, card_key: str, order_id: str,
                  amount: int) -> list[PaymentUpdate]:
    """A partly refunded card payment; a virtual account issued, issued again under a new
    key (Toss: the order exists), cancelled before any deposit, and looked up."""
    card = await gateway.lookup(card_key)
    issued = await gateway.authorize(account_request(order_id, amount, f"{order_id}:issue"))
    again = await gateway.authorize(account_request(order_id, amount, f"{order_id}:reissue"))
    assert issued.provider_reference
    return [card, issued, again,
            await gateway.cancel(call(issued.provider_reference, amount, f"{order_id}:cancel",
                                      "Order abandoned")),
            await gateway.lookup(issued.provider_reference)]


async def deposit_and_refund(gateway: TossGateway, order_id: str, amount: int,
                             deposit: Deposit | None) -> list[PaymentUpdate]:
    """A virtual account paid by the customer, then refunded: first without the account to
    send the money back to (Toss refuses), then with it."""
    issued = await gateway.authorize(account_request(order_id, amount, f"{order_id}:issue"))
    assert issued.provider_reference
    if deposit is not None:
        await deposit(order_id)
    key = issued.provider_reference
    return [issued, await gateway.lookup(key),
            await gateway.refund(call(key, amount, f"rfd_{order_id}_1")),
            await gateway.refund(call(key, amount, f"rfd_{order_id}_2"), refund_account={
                "bank": "88", "account_number": "110-000-000000", "holder": "Customer"})]


# --- replay helpers ----------------------------------------------------------------------------


def interactions(name: str) -> list[dict[str, Any]]:
    loaded = yaml.safe_load((CASSETTES / name).read_text())
    return list(loaded["interactions"])


def first_body(name: str) -> dict[str, Any]:
    body = interactions(name)[0]["request"]["body"]
    return body if isinstance(body, dict) else dict(json.loads(body))


def card_of(name: str) -> Card:
    body = first_body(name)
    return Card(body["paymentKey"], body["orderId"], body["amount"])


async def replay(name: str, scenario: Callable[[TossGateway], Awaitable[list[PaymentUpdate]]]
                 ) -> list[PaymentUpdate]:
    http = outbound_http()
    recorded_at = urlsplit(interactions(name)[0]["request"]["uri"])  # the stand-in or Toss
    gateway = TossGateway(http, "test_sk_replay_not_a_real_key",
                          base_url=f"{recorded_at.scheme}://{recorded_at.netloc}")
    try:
        with toss_vcr().use_cassette(name) as cassette:
            updates = await scenario(gateway)
            assert cassette.all_played, f"{name}: not every recorded exchange was asked for"
    finally:
        await http.close()
    return updates


def only(update: PaymentUpdate, event_type: EventType) -> PaymentEvent:
    [event] = [e for e in update.events if e.type == event_type]
    return event


def kinds(update: PaymentUpdate) -> list[EventType]:
    return [e.type for e in update.events]


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
