"""The Toss gateway: calls to its v1 API (confirm, virtual accounts, cancels, lookups), each
with our idempotency key, and its unsigned webhooks checked as the module docstring says."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from adapters.http import HttpResponse, OutboundHttp
from adapters.payments.toss.translation import (
    CURRENCY,
    DEPOSIT_CALLBACK,
    PAYMENT_STATUS_CHANGED,
    PROVIDER,
    TRANSIENT_CODES,
    _deposit_fields,
    _failed,
    _ours,
    _refund_failed,
    _text,
    _translate_deposit,
    cancel_reason,
    failure_reason_of,
    payment_update,
)
from application.ports import InboundEvent, PaymentRequest, ProviderCall
from domain.errors import InvalidSignature, ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import EventType, PaymentUpdate

TRANSMISSION_ID_HEADER = "tosspayments-webhook-transmission-id"


# The order was confirmed or issued already (a repeat whose first answer we lost): Toss's
# record of the order is the answer.
_ALREADY_DONE = frozenset({"ALREADY_PROCESSED_PAYMENT", "DUPLICATED_ORDER_ID"})


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
        return _shown(response, f"payment {provider_reference}")

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
        return _shown(response, f"order {order_id}")

    @staticmethod
    def _cancel_path(payment_key: str) -> str:
        return f"/v1/payments/{_segment(payment_key)}/cancel"


# --- small helpers -------------------------------------------------------------------------


def _succeeded(response: HttpResponse) -> bool:
    return 200 <= response.status < 300


def _shown(response: HttpResponse, what: str) -> PaymentUpdate:
    """The payment a lookup answered with; a refusal means the provider would not say."""
    if not _succeeded(response):
        code, message = _refusal(response)
        raise ProviderUnavailable(f"Toss Payments would not show {what} ({code}: {message})",
                                  request_sent=True)
    return payment_update(_payment_of(response))


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
    body = response.json_object()
    if body is not None and body.get("code"):
        return str(body["code"]), str(body.get("message") or "")
    return f"HTTP_{response.status}", ""


def _payment_of(response: HttpResponse) -> Mapping[str, Any]:
    body = response.json_object()
    if body is None or not body.get("status"):
        raise ProviderUnavailable("Toss Payments answered with something that is not a payment",
                                  request_sent=True)
    return body


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
