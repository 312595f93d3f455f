"""Toss Payments callbacks: unsigned, so a deposit callback carries the payment's secret for
the application to check, and a status change is only a hint to look the payment up."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from multidict import CIMultiDict

from adapters.http import OutboundHttp
from adapters.payments.toss import (
    TRANSIENT_CODES,
    TossGateway,
    failure_reason_of,
    payment_update,
)
from application.ports import InboundEvent
from domain.errors import InvalidSignature
from domain.failures import FailureReason
from domain.money import Money
from domain.payments import EventType, Payment, PaymentStatus
from domain.redaction import redact

GATEWAY = TossGateway(cast(OutboundHttp, object()), "test_sk_unit_0123")

DEPOSIT = {
    "createdAt": "2026-11-26T10:15:00.000000",
    "secret": "ps_Zk2mPz9Lw3Nb4Yq7Xk",
    "status": "DONE",
    "transactionKey": "9FF15E1A29D0E77C218F57262BFA4986",
    "orderId": "pay_0123",
}

STATUS_CHANGED = {
    "eventType": "PAYMENT_STATUS_CHANGED",
    "createdAt": "2026-11-26T10:15:00.000000",
    "data": {
        "paymentKey": "tgen_20261126101500abcd", "orderId": "pay_0123", "status": "DONE",
        "lastTransactionKey": "B7103F204998813B889C77C043D09502", "totalAmount": 15000,
        "secret": None, "approvedAt": "2026-11-26T10:15:00+09:00",
    },
}


def verify(body: Any, headers: Any = None) -> InboundEvent:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return GATEWAY.verify_webhook(headers if headers is not None else {}, raw)


# --- DEPOSIT_CALLBACK ----------------------------------------------------------------------


def test_a_deposit_is_a_capture_carrying_the_secret_to_check() -> None:
    event = verify(DEPOSIT)
    assert event.kind == "DEPOSIT_CALLBACK"
    assert event.event_id == "deposit:9FF15E1A29D0E77C218F57262BFA4986:DONE"
    translated = GATEWAY.translate_webhook(event)
    assert translated is not None
    reference, update = translated
    assert reference == "pay_0123"  # no paymentKey in it: the payment is found by its id
    assert update.merchant_reference == "pay_0123"
    assert update.provider_reference is None
    assert update.callback_secret == DEPOSIT["secret"]
    assert not update.needs_lookup
    [captured] = update.events
    assert captured.type == EventType.CAPTURED and captured.amount is None  # the whole amount
    assert captured.occurred_at is not None


def test_a_cancelled_deposit_is_a_cancellation() -> None:
    event = verify({**DEPOSIT, "status": "CANCELED"})
    assert event.event_id.endswith(":CANCELED")
    translated = GATEWAY.translate_webhook(event)
    assert translated is not None
    assert [e.type for e in translated[1].events] == [EventType.CANCELLED]
    assert translated[1].callback_secret == DEPOSIT["secret"]


def test_newer_deposit_callbacks_name_their_type() -> None:
    event = verify({**DEPOSIT, "eventType": "DEPOSIT_CALLBACK"})
    assert event.kind == "DEPOSIT_CALLBACK"
    nested = verify({"eventType": "DEPOSIT_CALLBACK", "createdAt": DEPOSIT["createdAt"],
                     "data": {k: v for k, v in DEPOSIT.items() if k != "createdAt"}})
    translated = GATEWAY.translate_webhook(nested)
    assert translated is not None and translated[1].callback_secret == DEPOSIT["secret"]


def test_the_secret_authenticates_only_its_own_payment() -> None:
    payment = Payment("pay_0123", "ord_1", "cus_1", "toss", Money(15000, "KRW"),
                      "virtual_account", "idem")
    payment.apply(payment_update({  # the issuance answer: the secret's hash is kept
        "paymentKey": "tviva_1", "orderId": "pay_0123", "status": "WAITING_FOR_DEPOSIT",
        "totalAmount": 15000, "currency": "KRW", "secret": DEPOSIT["secret"],
        "requestedAt": "2026-11-26T10:00:00+09:00",
        "virtualAccount": {"accountNumber": "X0123456", "bankCode": "20",
                           "customerName": "cus_1", "dueDate": "2026-11-29T10:00:00+09:00",
                           "refundStatus": "NONE"}}))
    assert payment.status == PaymentStatus.AWAITING_DEPOSIT
    assert payment.callback_secret_hash and DEPOSIT["secret"] not in payment.callback_secret_hash
    assert DEPOSIT["secret"] not in json.dumps(payment.deposit_account)
    deposited = GATEWAY.translate_webhook(verify(DEPOSIT))
    assert deposited is not None
    assert payment.accepts_callback_secret(deposited[1].callback_secret or "")
    forged = GATEWAY.translate_webhook(verify({**DEPOSIT, "secret": "ps_guessed"}))
    assert forged is not None
    assert not payment.accepts_callback_secret(forged[1].callback_secret or "")
    payment.apply(deposited[1])
    assert payment.status == PaymentStatus.CAPTURED


def test_the_stored_copy_with_its_secret_masked_still_translates() -> None:
    event = verify(DEPOSIT)
    stored = InboundEvent(event.event_id, event.kind, redact(event.payload))
    assert stored.payload["secret"] != DEPOSIT["secret"]
    translated = GATEWAY.translate_webhook(stored)
    assert translated is not None
    assert [e.type for e in translated[1].events] == [EventType.CAPTURED]


@pytest.mark.parametrize("missing", ["secret", "status", "transactionKey", "orderId"])
def test_a_deposit_callback_without_its_fields_is_refused(missing: str) -> None:
    with pytest.raises(InvalidSignature):
        verify({k: v for k, v in DEPOSIT.items() if k != missing})
    with pytest.raises(InvalidSignature):
        verify({**DEPOSIT, missing: ""})


def test_a_deposit_status_we_do_not_know_is_ignored() -> None:
    assert GATEWAY.translate_webhook(verify({**DEPOSIT, "status": "PARTIAL_CANCELED"})) is None


# --- PAYMENT_STATUS_CHANGED -----------------------------------------------------------------


def test_a_status_change_is_only_a_hint_to_look_the_payment_up() -> None:
    event = verify(STATUS_CHANGED)
    assert event.kind == "PAYMENT_STATUS_CHANGED"
    assert event.event_id == ("status:tgen_20261126101500abcd:DONE:"
                              "B7103F204998813B889C77C043D09502")
    translated = GATEWAY.translate_webhook(event)
    assert translated is not None
    reference, update = translated
    assert reference == "tgen_20261126101500abcd"
    assert update.needs_lookup
    assert update.events == ()  # nothing in the body is believed
    assert update.provider_reference == "tgen_20261126101500abcd"
    assert update.merchant_reference == "pay_0123"
    assert update.callback_secret is None


def test_the_transmission_id_names_the_event_whatever_the_header_case() -> None:
    event = verify(STATUS_CHANGED, CIMultiDict({"TossPayments-Webhook-Transmission-Id": "wh_1"}))
    assert event.event_id == "wh_1"
    assert verify(STATUS_CHANGED, {"Tosspayments-Webhook-Transmission-Id": "wh_2"}).event_id \
        == "wh_2"
    data = dict(cast(dict[str, Any], STATUS_CHANGED["data"]), lastTransactionKey=None)
    without_key = {**STATUS_CHANGED, "data": data}
    assert verify(without_key).event_id == (
        "status:tgen_20261126101500abcd:DONE:2026-11-26T10:15:00.000000")


@pytest.mark.parametrize("data", [None, "x", {}, {"paymentKey": "tgen_1"}, {"status": "DONE"}])
def test_a_status_change_without_a_payment_is_refused(data: Any) -> None:
    with pytest.raises(InvalidSignature):
        verify({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "x", "data": data})


# --- everything else ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2]", b'"DONE"', b"\xff\xfe",
    json.dumps({"id": "evt_1", "type": "payment.succeeded"}).encode(),
    json.dumps({"eventType": 7, "data": {}}).encode(),
])
def test_what_is_not_a_toss_callback_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidSignature, match="not a Toss Payments webhook"):
        verify(body)


def test_other_toss_events_are_kept_but_never_applied() -> None:
    body = {"eventType": "PAYOUT_STATUS_CHANGED", "createdAt": "2026-11-26T10:15:00.000000",
            "data": {"payoutKey": "po_1", "status": "COMPLETED"}}
    event = verify(body)
    assert event.kind == "PAYOUT_STATUS_CHANGED"
    assert event.event_id.startswith("payout_status_changed:")
    assert event.event_id == verify(body).event_id  # a redelivery is recognised
    assert GATEWAY.translate_webhook(event) is None
    assert GATEWAY.translate_webhook(InboundEvent("x", "UNKNOWN", {})) is None


# --- error codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [
    ("REJECT_CARD_COMPANY", FailureReason.DECLINED),
    ("INVALID_REJECT_CARD", FailureReason.DECLINED),
    ("REJECT_CARD_PAYMENT", FailureReason.INSUFFICIENT_FUNDS),
    ("REJECT_ACCOUNT_PAYMENT", FailureReason.INSUFFICIENT_FUNDS),
    ("EXCEED_MAX_AMOUNT", FailureReason.LIMIT_EXCEEDED),
    ("EXCEED_MAX_DAILY_PAYMENT_COUNT", FailureReason.LIMIT_EXCEEDED),
    ("EXCEED_MAX_ONE_DAY_AMOUNT", FailureReason.LIMIT_EXCEEDED),
    ("EXCEED_MAX_PAYMENT_AMOUNT", FailureReason.LIMIT_EXCEEDED),
    ("INVALID_CARD_EXPIRATION", FailureReason.EXPIRED_CARD),
    ("INVALID_CARD_NUMBER", FailureReason.INCORRECT_CARD_DETAILS),
    ("INVALID_PASSWORD", FailureReason.INCORRECT_CARD_DETAILS),
    ("INVALID_STOPPED_CARD", FailureReason.SUSPECTED_FRAUD),
    ("INVALID_CARD_LOST_OR_STOLEN", FailureReason.SUSPECTED_FRAUD),
    ("FDS_ERROR", FailureReason.SUSPECTED_FRAUD),
    ("NOT_FOUND_PAYMENT_SESSION", FailureReason.CANCELLED_BY_CUSTOMER),
    ("PAY_PROCESS_CANCELED", FailureReason.CANCELLED_BY_CUSTOMER),
    ("PAY_PROCESS_ABORTED", FailureReason.CANCELLED_BY_CUSTOMER),
    ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN", FailureReason.UNSUPPORTED_METHOD),
    ("PROVIDER_ERROR", FailureReason.PROCESSING_ERROR),
    ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", FailureReason.PROCESSING_ERROR),
    ("UNAUTHORIZED_KEY", FailureReason.INVALID_REQUEST),
    ("INVALID_REQUEST", FailureReason.INVALID_REQUEST),
    ("NOT_CANCELABLE_AMOUNT", FailureReason.INVALID_REQUEST),
    ("A_CODE_TOSS_ADDS_LATER", FailureReason.INVALID_REQUEST),
    (None, FailureReason.INVALID_REQUEST),
])
def test_error_codes_map_to_our_reasons(code: str | None, reason: FailureReason) -> None:
    assert failure_reason_of(code) == reason


def test_transient_codes_are_retried_not_failed() -> None:
    assert {"PROVIDER_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING",
            "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"} <= TRANSIENT_CODES
    assert all(failure_reason_of(code) == FailureReason.PROCESSING_ERROR
               for code in TRANSIENT_CODES)
