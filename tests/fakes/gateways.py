"""Providers that call back: the PaymentGateway and the Carrier, with their signed webhooks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from application.ports import InboundEvent, PaymentRequest, ProviderCall, ShipmentRequest
from domain.errors import InvalidSignature, ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import EventType, PaymentEvent, PaymentUpdate
from domain.shipments import ShipmentStatus, TrackingUpdate
from tests.fakes.breakable import Breakable

SIGNATURE = "x-fake-signature"


def sign(body: bytes, secret: str = "whsec_fake") -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


class _SignedCallbacks:
    """Callbacks signed with `sign(body, secret)` in the `x-fake-signature` header."""

    _secret = "whsec_fake"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE)
        if given != sign(body, self._secret):
            raise InvalidSignature("the callback's signature does not match")
        payload = json.loads(body)
        return InboundEvent(str(payload["id"]), str(payload["type"]), payload)

    def _signed(self, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        body = json.dumps(payload).encode()
        return {SIGNATURE: sign(body, self._secret)}, body


# Method tokens the fake gateway answers in a scripted way; any other token is captured.
DECLINED, THREE_DS, DEPOSIT = "tok_declined", "tok_3ds", "tok_virtual_account"
UNREACHABLE, NO_ANSWER = "tok_unreachable", "tok_no_answer"


class FakeGateway(_SignedCallbacks):
    """A PaymentGateway whose answers depend on the method token (see the constants above).

    Webhooks are JSON `{"id", "type": <EventType value>, "reference", "payment_id",
    "amount", "fact", "lookup", "secret"}` signed with `sign(body)` in the `x-fake-signature`
    header."""

    def __init__(self, name: str = "sandbox", supports_manual_capture: bool = True,
                 secret: str = "whsec_fake") -> None:
        self.name, self.supports_manual_capture, self._secret = (
            name, supports_manual_capture, secret)
        self.up = True
        self.requests: list[PaymentRequest] = []
        self.calls: list[tuple[str, ProviderCall]] = []
        self.lookups: dict[str, PaymentUpdate] = {}  # what lookup() answers, by reference
        self.lookup_error: Exception | None = None
        self.refuse: set[str] = set()  # "capture", "void", "refund": refused by the provider
        self.fail_calls: Exception | None = None  # raised by capture/cancel/refund

    @staticmethod
    def reference(payment_id: str) -> str:
        return f"fk_{payment_id}"

    @staticmethod
    def callback_secret(payment_id: str) -> str:
        return f"cbs_{payment_id}"

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate:
        self.requests.append(request)
        token, reference = request.method_token, self.reference(request.payment_id)
        if token == UNREACHABLE:
            raise ProviderUnavailable("connection refused", request_sent=False)
        if token == NO_ANSWER:
            raise ProviderUnavailable("timed out waiting for the answer", request_sent=True)
        if token == DECLINED:
            return PaymentUpdate.of(EventType.FAILED, reference,
                                    failure_code=FailureReason.DECLINED.value)
        if token == THREE_DS:
            return PaymentUpdate.of(EventType.ACTION_REQUIRED, reference, occurred_at=1.0,
                                    next_action={"redirect_url": "https://bank.test/3ds"})
        if token == DEPOSIT:
            # Its callbacks carry this per-payment secret instead of a signature (as Toss's).
            return PaymentUpdate.of(EventType.DEPOSIT_REQUESTED, reference, occurred_at=1.0,
                                    deposit_account={"bank": "20", "number": "000-111",
                                                     "expires_at": "2026-12-04T09:00:00+00:00"},
                                    callback_secret=self.callback_secret(request.payment_id))
        kind = EventType.CAPTURED if request.capture else EventType.AUTHORIZED
        return PaymentUpdate.of(kind, reference, merchant_reference=request.payment_id)

    async def _follow_up(self, action: str, call: ProviderCall) -> PaymentUpdate:
        self.calls.append((action, call))
        if self.fail_calls is not None:
            raise self.fail_calls
        ref = call.provider_reference
        if action == "refund":
            if action in self.refuse:
                return PaymentUpdate((PaymentEvent(EventType.REFUND_FAILED,
                                                   reference=call.idempotency_key),),
                                     ref, failure_code=FailureReason.DECLINED.value)
            return PaymentUpdate((PaymentEvent(EventType.REFUNDED, call.amount.amount,
                                               reference=f"re_{call.idempotency_key}",
                                               settles=call.idempotency_key),), ref)
        if action in self.refuse:
            return PaymentUpdate((), ref)  # nothing new: the provider did not do it
        kind = EventType.CAPTURED if action == "capture" else EventType.CANCELLED
        return PaymentUpdate.of(kind, ref, call.amount.amount if action == "capture" else None)

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        return await self._follow_up("capture", call)

    async def cancel(self, call: ProviderCall) -> PaymentUpdate:
        return await self._follow_up("void", call)

    async def refund(self, call: ProviderCall) -> PaymentUpdate:
        return await self._follow_up("refund", call)

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        if self.lookup_error is not None:
            raise self.lookup_error
        return self.lookups.get(provider_reference, PaymentUpdate((), provider_reference))

    async def available(self) -> bool:
        return self.up

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        if event.kind not in EventType.__members__.values():
            return None
        data = event.payload
        reference = str(data.get("reference", ""))
        return reference, PaymentUpdate(
            (PaymentEvent(EventType(event.kind), data.get("amount"),
                          reference=str(data.get("fact", ""))),),
            reference or None, merchant_reference=data.get("payment_id"),
            needs_lookup=bool(data.get("lookup")), callback_secret=data.get("secret"))

    def webhook(self, event_id: str, kind: str, **fields: Any) -> tuple[dict[str, str], bytes]:
        """Headers and body of a signed callback, as the provider would send it."""
        return self._signed({"id": event_id, "type": kind, **fields})


class FakeCarrier(_SignedCallbacks, Breakable):
    """A Carrier: books parcels as `TRK-<shipment id>`; tracking callbacks are JSON
    `{"id", "type": "tracking", "tracking_number", "status", "occurred_at", "detail"}`."""

    def __init__(self, name: str = "sandbox-express", secret: str = "whsec_fake") -> None:
        self.name, self._secret = name, secret
        self.requests: list[ShipmentRequest] = []
        self.error: Exception | None = None

    async def create_shipment(self, request: ShipmentRequest) -> str:
        self.requests.append(request)
        self._fail_if_told()
        return f"TRK-{request.idempotency_key}"

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None:
        if event.kind != "tracking":
            return None
        data = event.payload
        return TrackingUpdate(str(data["tracking_number"]), ShipmentStatus(data["status"]),
                              datetime.fromisoformat(str(data["occurred_at"])),
                              str(data.get("detail", "")))

    def webhook(self, event_id: str, tracking_number: str, status: str, occurred_at: datetime,
                detail: str = "", kind: str = "tracking") -> tuple[dict[str, str], bytes]:
        return self._signed({"id": event_id, "type": kind, "tracking_number": tracking_number,
                             "status": status, "occurred_at": occurred_at.isoformat(),
                             "detail": detail})
