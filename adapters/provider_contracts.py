"""The fields and values each provider adapter relies on, pinned per provider and API version
(domain/provider_drift.py checks every successful answer against them).

Stripe's and Twilio's lists come from their official OpenAPI descriptions (the tests hold
the two together, ../shared/provider-specs); Toss Payments', EasyPost's and Delivery
Tracker's from their API references. Only what an adapter reads is pinned: a new field is
no drift, a new value of a field we branch on is.
"""

from __future__ import annotations

from adapters.payments.stripe.gateway import STRIPE_VERSION
from domain.provider_drift import ResponseContract

STRIPE_INTENT_STATUSES = frozenset({
    "canceled", "processing", "requires_action", "requires_capture", "requires_confirmation",
    "requires_payment_method", "succeeded"})
STRIPE_REFUND_STATUSES = frozenset({
    "pending", "requires_action", "succeeded", "failed", "canceled"})
TOSS_STATUSES = frozenset({
    "READY", "IN_PROGRESS", "WAITING_FOR_DEPOSIT", "DONE", "CANCELED", "PARTIAL_CANCELED",
    "ABORTED", "EXPIRED"})
EASYPOST_TRACKER_STATUSES = frozenset({
    "pre_transit", "in_transit", "out_for_delivery", "delivered", "available_for_pickup",
    "return_to_sender", "failure", "cancelled", "error", "unknown"})
DELIVERY_TRACKER_CODES = frozenset({
    "INFORMATION_RECEIVED", "AT_PICKUP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "ATTEMPT_FAIL",
    "DELIVERED", "AVAILABLE_FOR_PICKUP", "EXCEPTION", "UNKNOWN"})
TWILIO_MESSAGE_STATUSES = frozenset({
    "queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving", "received",
    "accepted", "scheduled", "read", "partially_delivered", "canceled"})

_INTENT = r"/v1/payment_intents(/[^/]+(/(capture|cancel))?)?"
_TOSS_PAYMENT = r"/v1/(payments/confirm|virtual-accounts|payments/[^/]+(/cancel)?)"

CONTRACTS: tuple[ResponseContract, ...] = (
    ResponseContract("stripe", STRIPE_VERSION, "POST", _INTENT,
                     ("id", "status", "amount", "currency"),
                     {"status": STRIPE_INTENT_STATUSES}),
    ResponseContract("stripe", STRIPE_VERSION, "GET", _INTENT,
                     ("id", "status", "amount", "currency"),
                     {"status": STRIPE_INTENT_STATUSES}),
    ResponseContract("stripe", STRIPE_VERSION, "POST", r"/v1/refunds",
                     ("id", "status", "amount"), {"status": STRIPE_REFUND_STATUSES}),
    ResponseContract("toss", "2022-11-16", "POST", _TOSS_PAYMENT,
                     ("paymentKey", "orderId", "status", "totalAmount"),
                     {"status": TOSS_STATUSES}),
    ResponseContract("toss", "2022-11-16", "GET", r"/v1/payments/(orders/)?[^/]+",
                     ("paymentKey", "orderId", "status", "totalAmount"),
                     {"status": TOSS_STATUSES}),
    ResponseContract("easypost", "v2", "POST", r"/v2/trackers",
                     ("id", "tracking_code", "status"), {"status": EASYPOST_TRACKER_STATUSES}),
    ResponseContract("easypost", "v2", "GET", r"/v2/trackers/[^/]+",
                     ("id", "tracking_code", "status"), {"status": EASYPOST_TRACKER_STATUSES}),
    ResponseContract("easypost", "v2", "POST", r"/v2/shipments(/[^/]+/buy)?", ("id",)),
    ResponseContract("delivery-tracker", "graphql", "POST", r"/.*",
                     known_values={"data.track.lastEvent.status.code": DELIVERY_TRACKER_CODES}),
    ResponseContract("twilio", "2010-04-01", "POST",
                     r"/2010-04-01/Accounts/[^/]+/Messages\.json", ("sid", "status"),
                     {"status": TWILIO_MESSAGE_STATUSES}),
    ResponseContract("fcm", "v1", "POST", r"/v1/projects/[^/]+/messages:send", ("name",)),
)
