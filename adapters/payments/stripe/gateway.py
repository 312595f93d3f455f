"""The Stripe gateway: calls to its REST API (every POST with our idempotency key, every
request pinned to the API version the adapter was checked against) and its signed webhooks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

from adapters.credentials import LiveSetting
from adapters.http import HttpResponse, OutboundHttp
from adapters.payments.stripe.translation import (
    _DISPUTE_WEBHOOKS,
    _INTENT_WEBHOOKS,
    _OUR_CANCELLATION_REASONS,
    _REFUND_FAILURES,
    _TRANSIENT_CODES,
    CANCELLATION_REASONS,
    REFUND_REASONS,
    _amount,
    _error_of,
    _id,
    _intent_webhook,
    _number,
    _payment_id,
    dispute_facts,
    failure_reason,
    intent_facts,
    refunded_of_captured,
)
from adapters.signing import verify
from application.ports import InboundEvent, PaymentRequest, ProviderCall
from domain.errors import InvalidSignature, ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import EventType, PaymentEvent, PaymentUpdate

# `info.version` of the spec in /work/shared/provider-specs (stripe/openapi, spec3).
STRIPE_VERSION = "2023-08-16"


SIGNATURE_HEADER = "Stripe-Signature"


SIGNATURE_TOLERANCE_SECONDS = 300


class StripeGateway:
    """Card payments through Stripe PaymentIntents, confirmed server-side with a PaymentMethod
    the storefront collected through Stripe.js (we never see card data)."""

    name = "stripe"
    supports_manual_capture = True

    def __init__(
        self,
        http: OutboundHttp,
        api_key: str | LiveSetting,
        webhook_secrets: Sequence[str],
        base_url: str | LiveSetting = "https://api.stripe.com",
        return_url: str = "",
    ) -> None:
        # A key, secrets or base URL rotated in (adapters/credentials.py) apply at once.
        self._http, self._key = http, api_key
        self._secrets = webhook_secrets
        self._base_url = base_url
        self._return_url = return_url

    @property
    def _base(self) -> str:
        return str(self._base_url).rstrip("/")

    # --- calls --------------------------------------------------------------------------------

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate:
        form = {
            "amount": str(request.amount.amount),
            "currency": request.amount.currency.lower(),
            "payment_method": request.method_token,
            "payment_method_types[0]": "card",
            "confirm": "true",
            "capture_method": "automatic" if request.capture else "manual",
            "metadata[payment_id]": request.payment_id,
            "metadata[order_id]": request.order_id,
            "metadata[customer_ref]": request.customer_reference,
        }
        if request.description:
            form["description"] = request.description
        if self._return_url:
            # Without it Stripe answers 3-D Secure with `use_stripe_sdk`, which needs Stripe.js
            # on the page; with it the customer can be sent to the bank's page.
            form["return_url"] = self._return_url
        response = await self._post("/v1/payment_intents", form, request.idempotency_key,
                                    f"order:{request.order_id}")
        return self._intent_answer(response)

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        response = await self._post(
            f"/v1/payment_intents/{_segment(call.provider_reference)}/capture",
            {"amount_to_capture": str(call.amount.amount)}, call.idempotency_key,
            call.subject)
        return self._intent_answer(response)

    async def cancel(self, call: ProviderCall) -> PaymentUpdate:
        form: dict[str, str] = {}
        reason = _OUR_CANCELLATION_REASONS.get(call.reason, call.reason)
        if reason in CANCELLATION_REASONS:
            form["cancellation_reason"] = reason
        response = await self._post(
            f"/v1/payment_intents/{_segment(call.provider_reference)}/cancel", form,
            call.idempotency_key, call.subject)
        return self._intent_answer(response)

    async def refund(self, call: ProviderCall) -> PaymentUpdate:
        form = {
            "payment_intent": call.provider_reference,
            "amount": str(call.amount.amount),
            "metadata[refund_id]": call.idempotency_key,
        }
        reason = _OUR_CANCELLATION_REASONS.get(call.reason, call.reason)
        if reason in REFUND_REASONS:
            form["reason"] = reason
        response = await self._post("/v1/refunds", form, call.idempotency_key,
                                    call.subject)
        body = self._answer(response)
        if response.status >= 400:
            error = _error_of(body)
            return PaymentUpdate(
                (PaymentEvent(EventType.REFUND_FAILED, call.amount.amount, call.idempotency_key,
                              occurred_at=_date_of(response)),),
                call.provider_reference, failure_reason(error).value)
        status = body.get("status")
        amount = _amount(body, "amount")
        when = _number(body.get("created")) or _date_of(response)
        if status in ("failed", "canceled"):
            code = _REFUND_FAILURES.get(str(body.get("failure_reason")),
                                        FailureReason.PROCESSING_ERROR)
            return PaymentUpdate(
                (PaymentEvent(EventType.REFUND_FAILED, amount, call.idempotency_key,
                              occurred_at=when),),
                call.provider_reference, code.value)
        # succeeded, or pending / requires_action: on its way back to the customer.
        return PaymentUpdate(
            (PaymentEvent(EventType.REFUNDED, amount, _id(body) or "", occurred_at=when,
                          settles=call.idempotency_key),),
            call.provider_reference)

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        subject = _subject(provider_reference)
        response = await self._get(
            f"/v1/payment_intents/{_segment(provider_reference)}",
            [("expand[]", "latest_charge")], subject)
        intent = self._answer(response)
        if response.status == 404:
            raise ProviderUnavailable(f"stripe knows no payment intent {provider_reference}")
        if response.status >= 400:
            raise ProviderUnavailable(
                f"stripe refused to show {provider_reference} (HTTP {response.status})")
        update = intent_facts(intent)
        events = list(update.events)
        charge = intent.get("latest_charge")
        if isinstance(charge, Mapping):
            refunded = refunded_of_captured(charge)
            if refunded:
                events.append(PaymentEvent(EventType.REFUNDED, refunded, running_total=True,
                                           occurred_at=_number(charge.get("created"))))
            if charge.get("disputed"):
                events.extend(await self._disputes(provider_reference, subject))
        return PaymentUpdate(tuple(events), update.provider_reference, update.failure_code,
                             update.next_action, merchant_reference=update.merchant_reference)

    async def _disputes(self, intent_id: str, subject: str) -> list[PaymentEvent]:
        response = await self._get(
            "/v1/disputes", [("payment_intent", intent_id), ("limit", "100")], subject)
        body = self._answer(response)
        if response.status >= 400:
            raise ProviderUnavailable(
                f"stripe refused to list the disputes of {intent_id} (HTTP {response.status})")
        listed = body.get("data")
        disputes = listed if isinstance(listed, list) else []
        return [event for dispute in disputes if isinstance(dispute, Mapping)
                for event in dispute_facts(dispute)]

    async def available(self) -> bool:
        return await self._http.available(self.name)

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """Check `Stripe-Signature` the way Stripe's libraries do, then parse the event."""
        verify(_header(headers, SIGNATURE_HEADER), body, self._secrets,
               SIGNATURE_TOLERANCE_SECONDS)
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise InvalidSignature("the signed body is not a Stripe event") from exc
        if not (
            isinstance(event, dict)
            and isinstance(event.get("id"), str) and event["id"]
            and isinstance(event.get("type"), str) and event["type"]
            and event.get("object", "event") == "event"
            and isinstance(event.get("data"), dict)
            and isinstance(event["data"].get("object"), dict)
        ):
            raise InvalidSignature("the signed body is not a Stripe event")
        return InboundEvent(event["id"], event["type"], event)

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        data = event.payload.get("data")
        thing = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(thing, Mapping):
            return None
        when = _number(event.payload.get("created"))
        if event.kind in _INTENT_WEBHOOKS:
            return _intent_webhook(event.kind, thing, when)
        if event.kind == "charge.refunded":
            reference = _id(thing.get("payment_intent"))
            refunded = refunded_of_captured(thing)
            if not reference or not refunded:
                return None  # not a payment of ours, or only a hold that was released
            fact = PaymentEvent(EventType.REFUNDED, refunded, running_total=True,
                                occurred_at=when)
            return reference, PaymentUpdate((fact,), reference,
                                            merchant_reference=_payment_id(thing))
        if event.kind in _DISPUTE_WEBHOOKS:
            reference = _id(thing.get("payment_intent"))
            if not reference:
                return None
            return reference, PaymentUpdate(tuple(dispute_facts(thing, when)), reference)
        return None

    # --- plumbing -----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key!s}", "Stripe-Version": STRIPE_VERSION}

    async def _post(self, path: str, form: Mapping[str, str], idempotency_key: str,
                    subject: str) -> HttpResponse:
        headers = self._headers() | {"Idempotency-Key": idempotency_key}
        return await self._http.request(self.name, "POST", self._base + path, subject=subject,
                                        form=form, headers=headers, idempotent=True)

    async def _get(self, path: str, query: Sequence[tuple[str, str]],
                   subject: str) -> HttpResponse:
        url = f"{self._base}{path}?{urlencode(query)}" if query else self._base + path
        return await self._http.request(self.name, "GET", url, subject=subject,
                                        headers=self._headers())

    def _answer(self, response: HttpResponse) -> dict[str, Any]:
        """The JSON object Stripe answered; ProviderUnavailable when it answered "not now"
        (rate limited, a lock held by a concurrent request, its own failure) or garbage."""
        body = response.json_object()
        if response.status == 429 or response.status >= 500 or body is None:
            raise ProviderUnavailable(
                f"stripe answered HTTP {response.status} without a usable body; retry later")
        error = _error_of(body)
        if response.status >= 400 and (
                error.get("code") in _TRANSIENT_CODES or response.status == 409):
            raise ProviderUnavailable(
                f"stripe asked to retry later ({error.get('code') or response.status})")
        if error.get("type") == "idempotency_error":
            # The key was used before with other parameters: whatever the first request did
            # stands, and only a lookup can tell what that was.
            raise ProviderUnavailable(f"stripe refused a reused idempotency key: "
                                      f"{error.get('message', '')}"[:300])
        if response.status in (401, 403):
            # Our key is wrong or lacks a permission: Stripe did nothing, so another
            # provider may be tried at once.
            raise ProviderUnavailable(
                f"stripe refused our credentials (HTTP {response.status})", request_sent=False)
        return body

    def _intent_answer(self, response: HttpResponse) -> PaymentUpdate:
        """A PaymentIntent answer, or a refusal as a FAILED update with our reason. The
        refusal carries the PaymentIntent when Stripe includes it (a card decline does)."""
        body = self._answer(response)
        if response.status < 400:
            return intent_facts(body)
        error = _error_of(body)
        reason = failure_reason(error).value
        intent = error.get("payment_intent")
        known = intent_facts(intent) if isinstance(intent, Mapping) else PaymentUpdate()
        events = list(known.events)
        if not any(event.type is EventType.FAILED for event in events):
            when = _number(intent.get("created")) if isinstance(intent, Mapping) else None
            events.append(PaymentEvent(EventType.FAILED, occurred_at=when or _date_of(response)))
        return PaymentUpdate(tuple(events), known.provider_reference, reason, known.next_action,
                             merchant_reference=known.merchant_reference)


def _date_of(response: HttpResponse) -> float | None:
    """Stripe's clock from the answer's Date header, for facts the body does not date."""
    value = _header(response.headers, "Date")
    try:
        return parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name whatever its case, from a CIMultiDict or a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _segment(reference: str) -> str:
    """A reference as one path segment, so it cannot reach another endpoint."""
    return quote(reference, safe="")


def _subject(reference: str) -> str:
    return f"stripe:{reference}"
