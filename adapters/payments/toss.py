"""Toss Payments (api.tosspayments.com, v1 API, Payment object version 2022-11-16).

The storefront opens Toss's payment widget with orderId = our order id (it knows no payment id
before it calls us; Toss accepts the same orderId again until one payment for it is approved).
Once the customer has authenticated there, the browser brings back a paymentKey, and
`authorize` confirms it (POST /v1/payments/confirm). Virtual accounts are issued from the
server instead (POST /v1/virtual-accounts), under orderId = our payment id. Toss has no
separate capture: a confirmed payment is paid, and every later movement is a cancel (full or
partial) of it.

Toss's payment webhooks are not signed. A DEPOSIT_CALLBACK carries the per-payment `secret`
Toss returned when it issued the virtual account; the application keeps its hash and compares.
A PAYMENT_STATUS_CHANGED is only a hint to ask Toss for the payment.

Refunds of a virtual account that was paid must name the account the money goes back to
(`refundReceiveAccount`): pass it as `refund_account={"bank", "account_number", "holder"}`
to `refund` or `cancel`. Without it Toss refuses, and the refusal is a REFUND_FAILED update.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from adapters.http import HttpResponse, OutboundHttp
from application.ports import InboundEvent, PaymentRequest, ProviderCall
from domain.errors import InvalidSignature, ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import CancellationReason, EventType, PaymentEvent, PaymentUpdate

PROVIDER = "toss"
CURRENCY = "KRW"  # the only currency Toss's domestic API takes; the won has no minor unit
KST = timezone(timedelta(hours=9), "KST")  # Toss writes times without an offset in KST
TRANSMISSION_ID_HEADER = "tosspayments-webhook-transmission-id"

DEPOSIT_CALLBACK = "DEPOSIT_CALLBACK"
PAYMENT_STATUS_CHANGED = "PAYMENT_STATUS_CHANGED"

# Toss error codes (docs.tosspayments.com/reference/error-codes) whose reason is not simply
# "the request was wrong": anything not listed here is INVALID_REQUEST.
_FAILURES: dict[str, FailureReason] = {
    **dict.fromkeys((
        "REJECT_CARD_COMPANY", "INVALID_REJECT_CARD", "REJECT_TOSSPAY_INVALID_ACCOUNT",
        "EXCEED_MAX_AUTH_COUNT", "NOT_ALLOWED_POINT_USE", "UNKNOWN_PAYMENT_ERROR",
        "RESTRICTED_TRANSFER_ACCOUNT", "INVALID_ACCOUNT_INFO_RE_REGISTER", "REFUND_REJECTED",
    ), FailureReason.DECLINED),
    # "한도초과 혹은 잔액부족" / "잔액부족": the card's limit or the balance ran out.
    **dict.fromkeys(("REJECT_CARD_PAYMENT", "REJECT_ACCOUNT_PAYMENT"),
                    FailureReason.INSUFFICIENT_FUNDS),
    **dict.fromkeys((
        "EXCEED_MAX_AMOUNT", "EXCEED_MAX_DAILY_PAYMENT_COUNT", "EXCEED_MAX_ONE_DAY_AMOUNT",
        "EXCEED_MAX_PAYMENT_AMOUNT", "EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT",
        "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT", "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT",
    ), FailureReason.LIMIT_EXCEEDED),
    "INVALID_CARD_EXPIRATION": FailureReason.EXPIRED_CARD,
    **dict.fromkeys(("INVALID_CARD_NUMBER", "INVALID_PASSWORD"),
                    FailureReason.INCORRECT_CARD_DETAILS),
    **dict.fromkeys(("INVALID_STOPPED_CARD", "INVALID_CARD_LOST_OR_STOLEN", "FDS_ERROR"),
                    FailureReason.SUSPECTED_FRAUD),
    "INVALID_AUTHORIZE_AUTH": FailureReason.AUTHENTICATION_REQUIRED,
    **dict.fromkeys(("NOT_FOUND_PAYMENT_SESSION", "PAY_PROCESS_CANCELED", "PAY_PROCESS_ABORTED"),
                    FailureReason.CANCELLED_BY_CUSTOMER),
    **dict.fromkeys((
        "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN",
        "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN_BELOW_AMOUNT",
    ), FailureReason.UNSUPPORTED_METHOD),
    **dict.fromkeys((
        "PROVIDER_ERROR", "CARD_PROCESSING_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING",
        "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", "COMMON_ERROR", "NOT_AVAILABLE_PAYMENT",
        "NOT_AVAILABLE_BANK", "FAILED_REFUND_PROCESS", "FAILED_PARTIAL_REFUND",
        "FAILED_METHOD_HANDLING_CANCEL", "FORBIDDEN_CONSECUTIVE_REQUEST",
        "IDEMPOTENT_REQUEST_PROCESSING",
    ), FailureReason.PROCESSING_ERROR),
}

# Toss says "try again in a while": no answer about the payment came back, so the call raises
# ProviderUnavailable and is retried with the same Idempotency-Key instead of failing.
TRANSIENT_CODES = frozenset({
    "PROVIDER_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", "COMMON_ERROR", "FAILED_REFUND_PROCESS",
    "FAILED_PARTIAL_REFUND", "FAILED_METHOD_HANDLING_CANCEL", "FORBIDDEN_CONSECUTIVE_REQUEST",
    "IDEMPOTENT_REQUEST_PROCESSING",
})

# The order was confirmed or issued already (a repeat whose first answer we lost): Toss's
# record of the order is the answer.
_ALREADY_DONE = frozenset({"ALREADY_PROCESSED_PAYMENT", "DUPLICATED_ORDER_ID"})

# Toss's bank codes for virtual accounts, shown to the customer by name.
BANK_NAMES = {
    "02": "KDB산업은행", "03": "IBK기업은행", "06": "KB국민은행", "07": "Sh수협은행",
    "11": "NH농협은행", "12": "단위농협", "20": "우리은행", "23": "SC제일은행", "27": "씨티은행",
    "31": "iM뱅크(대구)", "32": "부산은행", "34": "광주은행", "35": "제주은행", "37": "전북은행",
    "39": "경남은행", "45": "새마을금고", "48": "신협", "50": "저축은행중앙회", "64": "산림조합",
    "71": "우체국", "81": "하나은행", "88": "신한은행", "89": "케이뱅크", "90": "카카오뱅크",
    "92": "토스뱅크",
}

# `cancelReason` is required and shown in Toss's console and to the customer's bank: our
# reasons in words; an operator's own words (a refund reason) are sent as they are.
CANCEL_REASONS = {
    CancellationReason.FRAUDULENT.value: "Order rejected in fraud review",
    CancellationReason.ABANDONED.value: "Payment abandoned before it was completed",
    CancellationReason.DUPLICATE.value: "Duplicate payment for an order already settled",
    CancellationReason.REQUESTED_BY_CUSTOMER.value: "Cancelled at the customer's request",
    FailureReason.REJECTED_IN_REVIEW.value: "Order rejected in fraud review",
    FailureReason.AUTHENTICATION_ABANDONED.value: "Payment abandoned before it was completed",
    FailureReason.DEPOSIT_EXPIRED.value: "Deposit deadline passed",
    FailureReason.CANCELLED_BY_CUSTOMER.value: "Cancelled at the customer's request",
}


def cancel_reason(reason: str, default: str) -> str:
    return (CANCEL_REASONS.get(reason) or reason or default)[:200]


# A virtual account's refund status once money went back to a customer who had paid.
_REFUNDED_DEPOSIT = frozenset({"PENDING", "FAILED", "PARTIAL_FAILED", "COMPLETED"})


def failure_reason_of(code: str | None) -> FailureReason:
    """Our reason for a Toss error code; codes not known to mean more are invalid requests."""
    return _FAILURES.get(code or "", FailureReason.INVALID_REQUEST)


def basic_authorization(secret_key: str) -> str:
    """Toss's Basic scheme: the secret key is the user name and the password is empty."""
    return "Basic " + base64.b64encode(f"{secret_key}:".encode()).decode("ascii")


class TossGateway:
    name = PROVIDER
    supports_manual_capture = False  # Toss's standard API confirms and captures in one step

    def __init__(
        self,
        http: OutboundHttp,
        secret_key: str,
        base_url: str = "https://api.tosspayments.com",
        virtual_account_hours: int = 72,
        virtual_account_bank: str = "20",
    ) -> None:
        if not secret_key:
            raise ValueError("a Toss Payments secret key is required")
        if not 1 <= virtual_account_hours <= 2160:
            raise ValueError("Toss keeps a virtual account open for 1 to 2160 hours")
        self._http = http
        self._authorization = basic_authorization(secret_key)
        self._base = base_url.rstrip("/")
        self._hours = virtual_account_hours
        self._bank = virtual_account_bank

    # --- payments ----------------------------------------------------------------------------

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate:
        """Confirm a widget payment, or issue a virtual account for `virtual_account`."""
        if request.amount.currency != CURRENCY:
            return _failed(FailureReason.UNSUPPORTED_METHOD, request.payment_id)
        subject = f"order:{request.order_id}"
        if request.method == "virtual_account":
            path = "/v1/virtual-accounts"
            body: dict[str, Any] = {
                "amount": request.amount.amount, "orderId": request.payment_id,
                "orderName": (request.description or "Order")[:100],
                "customerName": request.customer_reference[:20] or "Customer",
                "bank": self._bank, "validHours": self._hours,
            }
        else:
            if not request.method_token:
                return _failed(FailureReason.INVALID_REQUEST, request.payment_id)
            path = "/v1/payments/confirm"
            body = {"paymentKey": request.method_token, "orderId": request.order_id,
                    "amount": request.amount.amount}
        response = await self._post(path, body, request.idempotency_key, subject)
        if _succeeded(response):
            return payment_update(_payment_of(response))
        code, _ = _refusal(response)
        if code in _ALREADY_DONE:
            return await self._lookup_order(body["orderId"], subject)
        # A refused confirm proves nothing about the paymentKey the customer sent: it is not
        # kept as this payment's reference (it may be another payment's).
        return _failed(failure_reason_of(code), request.payment_id)

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        """Nothing to capture at Toss: a confirmed payment is paid. Report where it stands."""
        return await self.lookup(call.provider_reference)

    async def cancel(
        self, call: ProviderCall, *, refund_account: Mapping[str, str] | None = None
    ) -> PaymentUpdate:
        """Cancel the whole payment: CANCELLED when it was never paid (a virtual account still
        waiting), a full REFUNDED otherwise. A refusal answers with the payment as it stands."""
        body: dict[str, Any] = {"cancelReason": cancel_reason(call.reason, "Payment cancelled")}
        if refund_account:
            body["refundReceiveAccount"] = _refund_receive_account(refund_account)
        response = await self._post(self._cancel_path(call.provider_reference), body,
                                    call.idempotency_key, call.subject)
        if _succeeded(response):
            return payment_update(_payment_of(response))
        return await self.lookup(call.provider_reference)

    async def refund(
        self, call: ProviderCall, *, refund_account: Mapping[str, str] | None = None
    ) -> PaymentUpdate:
        """Cancel `call.amount` of a paid payment. The answer lists every cancel so far; the
        one this call made (the newest of its amount) settles `call.idempotency_key`."""
        if call.amount.currency != CURRENCY:
            return _refund_failed(call, FailureReason.UNSUPPORTED_METHOD)
        body: dict[str, Any] = {"cancelReason": cancel_reason(call.reason, "Refund requested"),
                                "cancelAmount": call.amount.amount}
        if refund_account:
            body["refundReceiveAccount"] = _refund_receive_account(refund_account)
        response = await self._post(self._cancel_path(call.provider_reference), body,
                                    call.idempotency_key, call.subject)
        if not _succeeded(response):
            code, _ = _refusal(response)
            return _refund_failed(call, failure_reason_of(code))
        update = payment_update(_payment_of(response))
        refunds = [e for e in update.events if e.type == EventType.REFUNDED
                   and e.amount == call.amount.amount]
        if not refunds:
            raise ProviderUnavailable(
                "Toss Payments accepted the refund but listed no cancel of its amount; "
                "look the payment up before trying again", request_sent=True)
        ours = max(enumerate(refunds), key=lambda item: (item[1].occurred_at or 0.0, item[0]))[1]
        events = tuple(replace(e, settles=call.idempotency_key) if e is ours else e
                       for e in update.events)
        return replace(update, events=events)

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        """GET /v1/payments/{paymentKey}; a reference Toss does not know as a paymentKey is
        tried as an orderId (our payment id), for attempts whose first answer was lost."""
        if not provider_reference:
            raise ProviderUnavailable("there is no Toss payment to look up", request_sent=False)
        subject = _subject(provider_reference)
        response = await self._get(f"/v1/payments/{_segment(provider_reference)}", subject)
        if response.status == 404:
            return await self._lookup_order(provider_reference, subject)
        if not _succeeded(response):
            code, message = _refusal(response)
            raise ProviderUnavailable(
                f"Toss Payments would not show payment {provider_reference} ({code}: {message})",
                request_sent=True)
        return payment_update(_payment_of(response))

    async def available(self) -> bool:
        return await self._http.available(PROVIDER)

    # --- webhooks ----------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """Toss signs none of these: check that the body is a Toss payment callback and name
        it. A DEPOSIT_CALLBACK is then authenticated by its secret, the rest are hints."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidSignature("not a Toss Payments webhook") from exc
        if not isinstance(payload, dict):
            raise InvalidSignature("not a Toss Payments webhook")
        event_type = payload.get("eventType")
        transmission_id = _header(headers, TRANSMISSION_ID_HEADER)
        if event_type in (None, DEPOSIT_CALLBACK):
            deposit = _deposit_fields(payload)
            if deposit is None:
                raise InvalidSignature("not a Toss Payments webhook")
            event_id = f"deposit:{deposit['transactionKey']}:{deposit['status']}"
            return InboundEvent(event_id, DEPOSIT_CALLBACK, payload)
        if event_type == PAYMENT_STATUS_CHANGED:
            data = payload.get("data")
            if not (isinstance(data, dict) and _text(data.get("paymentKey"))
                    and _text(data.get("status"))):
                raise InvalidSignature("not a Toss Payments webhook")
            moment = _text(data.get("lastTransactionKey")) or _text(payload.get("createdAt"))
            event_id = transmission_id or (
                f"status:{data['paymentKey']}:{data['status']}:{moment}")
            return InboundEvent(event_id, PAYMENT_STATUS_CHANGED, payload)
        if isinstance(event_type, str) and event_type and "data" in payload:
            # Another Toss event (payouts, BrandPay): stored and acknowledged, never applied.
            digest = hashlib.sha256(body).hexdigest()[:32]
            return InboundEvent(transmission_id or f"{event_type.lower()}:{digest}", event_type,
                                payload)
        raise InvalidSignature("not a Toss Payments webhook")

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        if event.kind == DEPOSIT_CALLBACK:
            return _translate_deposit(event.payload)
        if event.kind == PAYMENT_STATUS_CHANGED:
            data = event.payload.get("data")
            if not isinstance(data, dict) or not _text(data.get("paymentKey")):
                return None
            payment_key = _text(data["paymentKey"])
            return payment_key, PaymentUpdate(
                provider_reference=payment_key,
                merchant_reference=_ours(data.get("orderId")), needs_lookup=True)
        return None

    # --- plumbing ----------------------------------------------------------------------------

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": self._authorization}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def _post(self, path: str, body: dict[str, Any], idempotency_key: str,
                    subject: str) -> HttpResponse:
        response = await self._http.request(
            PROVIDER, "POST", self._base + path, subject=subject, json_body=body,
            headers=self._headers(idempotency_key), idempotent=bool(idempotency_key))
        _raise_if_transient(response)
        return response

    async def _get(self, path: str, subject: str) -> HttpResponse:
        response = await self._http.request(PROVIDER, "GET", self._base + path,
                                            subject=subject, headers=self._headers())
        _raise_if_transient(response)
        return response

    async def _lookup_order(self, order_id: str, subject: str) -> PaymentUpdate:
        response = await self._get(f"/v1/payments/orders/{_segment(order_id)}", subject)
        if not _succeeded(response):
            code, message = _refusal(response)
            raise ProviderUnavailable(
                f"Toss Payments would not show order {order_id} ({code}: {message})",
                request_sent=True)
        return payment_update(_payment_of(response))

    @staticmethod
    def _cancel_path(payment_key: str) -> str:
        return f"/v1/payments/{_segment(payment_key)}/cancel"


# --- translating Toss's Payment object ---------------------------------------------------------


def payment_update(payment: Mapping[str, Any]) -> PaymentUpdate:
    """Our facts for a Toss Payment object, whatever call or lookup returned it."""
    status = _text(payment.get("status"))
    total = _amount(payment.get("totalAmount"))
    requested_at = _epoch(payment.get("requestedAt"))
    failure_code: FailureReason | None = None
    deposit_account: dict[str, Any] | None = None
    events: list[PaymentEvent]
    if status in ("READY", "IN_PROGRESS"):
        events = [PaymentEvent(EventType.PROCESSING, occurred_at=requested_at)]
    elif status == "WAITING_FOR_DEPOSIT":
        events = [PaymentEvent(EventType.DEPOSIT_REQUESTED, occurred_at=requested_at)]
        deposit_account = _deposit_account(payment, total)
    elif status == "DONE":
        events = [PaymentEvent(EventType.CAPTURED, total,
                               occurred_at=_epoch(payment.get("approvedAt")))]
    elif status in ("CANCELED", "PARTIAL_CANCELED"):
        cancels = _cancel_events(payment)
        if _was_paid(payment, status):
            events = [PaymentEvent(EventType.CAPTURED, total,
                                   occurred_at=_epoch(payment.get("approvedAt"))), *cancels]
        else:
            last = max((e.occurred_at for e in cancels if e.occurred_at), default=None)
            events = [PaymentEvent(EventType.CANCELLED, occurred_at=last or requested_at)]
    elif status == "ABORTED":
        failure = payment.get("failure")
        code = _text(failure.get("code")) if isinstance(failure, Mapping) else ""
        failure_code = failure_reason_of(code) if code else FailureReason.PROCESSING_ERROR
        events = [PaymentEvent(EventType.FAILED, occurred_at=requested_at)]
    elif status == "EXPIRED":
        failure_code = (FailureReason.DEPOSIT_EXPIRED if _is_virtual_account(payment)
                        else FailureReason.AUTHENTICATION_ABANDONED)
        events = [PaymentEvent(EventType.CANCELLED, occurred_at=requested_at)]
    else:
        raise ProviderUnavailable(f"Toss Payments reported an unknown payment status {status!r}",
                                  request_sent=True)
    return PaymentUpdate(
        events=tuple(events),
        provider_reference=_text(payment.get("paymentKey")) or None,
        failure_code=failure_code.value if failure_code else None,
        deposit_account=deposit_account,
        merchant_reference=_ours(payment.get("orderId")),
        callback_secret=_text(payment.get("secret")) or None,
    )


def _cancel_events(payment: Mapping[str, Any]) -> list[PaymentEvent]:
    """One REFUNDED per completed cancel, keyed by its transactionKey."""
    events = []
    for cancel in payment.get("cancels") or ():
        if not isinstance(cancel, Mapping) or cancel.get("cancelStatus") not in (None, "DONE"):
            continue
        reference = _text(cancel.get("transactionKey"))
        if reference:
            events.append(PaymentEvent(EventType.REFUNDED, _amount(cancel.get("cancelAmount")),
                                       reference, occurred_at=_epoch(cancel.get("canceledAt"))))
    return events


def _was_paid(payment: Mapping[str, Any], status: str) -> bool:
    """Did money reach Toss before the cancel? A virtual account cancelled or expired before
    the deposit was never paid; Toss says so by its refund status (nothing to send back)."""
    if status == "PARTIAL_CANCELED":
        return True
    account = payment.get("virtualAccount")
    if isinstance(account, Mapping) and account.get("refundStatus") is not None:
        return account.get("refundStatus") in _REFUNDED_DEPOSIT
    return bool(payment.get("approvedAt"))


def _is_virtual_account(payment: Mapping[str, Any]) -> bool:
    return bool(payment.get("virtualAccount")) or payment.get("method") in (
        "가상계좌", "VIRTUAL_ACCOUNT")


def _deposit_account(payment: Mapping[str, Any], total: int) -> dict[str, Any] | None:
    """Where the customer transfers the money. Never the `secret`: that one is kept only as
    a hash, to authenticate Toss's deposit callbacks."""
    account = payment.get("virtualAccount")
    if not isinstance(account, Mapping):
        return None
    bank = _text(account.get("bankCode")) or _text(account.get("bank"))
    due = _epoch(account.get("dueDate"))
    return {
        "bank": BANK_NAMES.get(bank, bank),
        "account_number": _text(account.get("accountNumber")),
        "holder": _text(account.get("customerName")),
        "amount": total,
        "currency": _text(payment.get("currency")) or CURRENCY,
        "expires_at": datetime.fromtimestamp(due, UTC).isoformat() if due else None,
    }


def _deposit_fields(payload: Mapping[str, Any]) -> dict[str, str] | None:
    """The fields of a DEPOSIT_CALLBACK (top level, or under `data` in newer deliveries)."""
    fields = payload
    nested = payload.get("data")
    if "secret" not in payload and isinstance(nested, dict):
        fields = nested
    picked = {name: fields.get(name) for name in ("secret", "status", "transactionKey",
                                                   "orderId")}
    if not all(isinstance(value, str) and value for value in picked.values()):
        return None
    picked["createdAt"] = _text(fields.get("createdAt")) or _text(payload.get("createdAt"))
    return {name: str(value) for name, value in picked.items()}


def _translate_deposit(payload: Mapping[str, Any]) -> tuple[str, PaymentUpdate] | None:
    deposit = _deposit_fields(payload)
    if deposit is None:
        return None
    event_type = {"DONE": EventType.CAPTURED, "CANCELED": EventType.CANCELLED,
                  "WAITING_FOR_DEPOSIT": EventType.DEPOSIT_REQUESTED}.get(deposit["status"])
    if event_type is None:
        return None
    order_id = deposit["orderId"]
    # The callback names no paymentKey: the payment is found by its id (Toss's orderId), and
    # only if the secret matches the one Toss gave us for it.
    return order_id, PaymentUpdate(
        events=(PaymentEvent(event_type, occurred_at=_epoch(deposit["createdAt"])),),
        merchant_reference=_ours(order_id), callback_secret=deposit["secret"])


# --- small helpers -------------------------------------------------------------------------


def _succeeded(response: HttpResponse) -> bool:
    return 200 <= response.status < 300


def _raise_if_transient(response: HttpResponse) -> None:
    if _succeeded(response):
        return
    code, message = _refusal(response)
    if response.status >= 500 or response.status == 409 or code in TRANSIENT_CODES:
        raise ProviderUnavailable(
            f"Toss Payments could not act right now ({code}: {message}); try again later",
            request_sent=True)


def _refusal(response: HttpResponse) -> tuple[str, str]:
    """Toss's error object {code, message}."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("code"):
        return str(body["code"]), str(body.get("message") or "")
    return f"HTTP_{response.status}", ""


def _payment_of(response: HttpResponse) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("status"):
        raise ProviderUnavailable("Toss Payments answered with something that is not a payment",
                                  request_sent=True)
    return body


def _failed(reason: FailureReason, payment_id: str) -> PaymentUpdate:
    return PaymentUpdate.of(EventType.FAILED, failure_code=reason.value,
                            merchant_reference=_ours(payment_id))


def _refund_failed(call: ProviderCall, reason: FailureReason) -> PaymentUpdate:
    return PaymentUpdate(
        events=(PaymentEvent(EventType.REFUND_FAILED, call.amount.amount, call.idempotency_key,
                             settles=call.idempotency_key),),
        provider_reference=call.provider_reference, failure_code=reason.value)


def _refund_receive_account(account: Mapping[str, str]) -> dict[str, str]:
    return {"bank": account["bank"], "accountNumber": account["account_number"],
            "holderName": account["holder"]}


def _subject(payment_key: str) -> str:
    return f"toss:{payment_key}"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _amount(value: Any) -> int:
    """Toss writes KRW amounts as JSON numbers of whole won."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ProviderUnavailable(f"Toss Payments reported an amount that is not whole won: "
                                  f"{value!r}", request_sent=True)
    return int(value)


def _epoch(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time; Toss leaves the offset out of some (KST then)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    return moment.timestamp()


def _ours(order_id: object) -> str | None:
    """Toss's orderId when it is one of our payment ids (virtual accounts); a card payment's
    orderId is the order's id, which names no single payment."""
    text = _text(order_id)
    return text if text.startswith("pay_") else None
