"""A local stand-in for the part of Stripe's API the Stripe gateway uses, written from Stripe's
OpenAPI description (stripe/openapi spec3, API version 2023-08-16) and its API reference. Used
only to record cassettes.

Like Stripe it takes `application/x-www-form-urlencoded` bodies with bracketed keys
(`metadata[order_id]`), wants `Authorization: Bearer sk_test_...` (401 without it), answers
errors as `{"error": {"type", "code", "decline_code", "message", "param", ...}}`, and answers a
repeated `Idempotency-Key` with the first answer (`Idempotent-Replayed: true`), or 400
`idempotency_error` when the parameters differ. Before anything else it checks each request
against the spec: the operation must exist, every form or query key's top-level name must be a
parameter the operation declares, required ones must be there and enum and integer values
must fit; otherwise it answers 400 `invalid_request_error`, as Stripe does for an unknown
parameter.

| payment method                            | outcome of a confirmed PaymentIntent                |
|-------------------------------------------|-----------------------------------------------------|
| pm_card_visa, pm_card_mastercard          | succeeded (requires_capture with manual capture)    |
| pm_card_chargeDeclined                    | 402 card_declined / generic_decline                 |
| pm_card_chargeDeclinedInsufficientFunds   | 402 card_declined / insufficient_funds              |
| pm_card_chargeDeclinedExpiredCard         | 402 expired_card                                    |
| pm_card_chargeDeclinedIncorrectCvc        | 402 incorrect_cvc                                   |
| pm_card_chargeDeclinedFraudulent          | 402 card_declined / fraudulent                      |
| pm_card_chargeDeclinedProcessingError     | 402 processing_error                                |
| pm_card_authenticationRequired            | requires_action (redirect_to_url with return_url);  |
|                                           | GET /3ds/{intent} passes it: succeeded, or          |
|                                           | requires_capture with manual capture                |
| pm_card_createDispute                     | succeeded, then disputed (needs_response)           |

Run it alone with `python -m tests.cassettes.stripe_mock [port]`.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

SPEC_PATH = Path(os.environ.get(
    "STRIPE_OPENAPI_SPEC", "/work/shared/provider-specs/stripe_spec3_2023-09-12.yaml"))
FORM = "application/x-www-form-urlencoded"
HTTP_METHODS = ("get", "post", "delete")


@cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The official description, or its committed extract where it is not at hand."""
    if not path.exists():
        subset: dict[str, Any] = json.loads(
            Path(__file__).with_name("stripe_openapi_subset.json").read_text())
        return subset
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    return spec


class StripeError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        error: dict[str, Any] = {"type": type, "message": message}
        if code:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            error["param"] = param
        error.update(extra)
        self.body = {"error": error}


# --- the spec as a router and validator -------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def form_schema(self) -> dict[str, Any]:
        body = self.spec.get("requestBody") or {}
        schema = body.get("content", {}).get(FORM, {}).get("schema") or {}
        return schema if isinstance(schema, dict) else {}

    @property
    def query_names(self) -> set[str]:
        return {p["name"] for p in self.spec.get("parameters", []) if p.get("in") == "query"}


class SpecIndex:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.version = str(spec["info"]["version"])
        operations = []
        for template, item in spec["paths"].items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(template)) + "$"
                    operations.append(Operation(method.upper(), template, re.compile(regex),
                                                operation))
        # Fixed paths win over templated ones (/v1/payment_intents/search over /{intent}).
        self.operations = sorted(operations, key=lambda o: o.template.count("{"))

    def find(self, method: str, path: str) -> tuple[Operation, tuple[str, ...]] | None:
        for operation in self.operations:
            if operation.method == method and (match := operation.pattern.match(path)):
                return operation, match.groups()
        return None

    @staticmethod
    def check(operation: Operation, form: Mapping[str, str], query: Mapping[str, str]) -> None:
        """Raise StripeError for anything the operation does not declare or accept."""
        for key in query:
            if top_level(key) not in operation.query_names:
                raise StripeError(400, f"Received unknown parameter: {top_level(key)}",
                                  code="parameter_unknown", param=top_level(key))
        schema = operation.form_schema
        properties = schema.get("properties") or {}
        for key, value in form.items():
            name = top_level(key)
            if name not in properties:
                raise StripeError(400, f"Received unknown parameter: {name}",
                                  code="parameter_unknown", param=name)
            declared = properties[name]
            if name != key:  # a nested key: only objects and arrays have those
                if declared.get("type") not in ("object", "array") and "anyOf" not in declared:
                    raise StripeError(400, f"Invalid {name}: not an object or array",
                                      param=name)
                continue
            if "enum" in declared and value not in declared["enum"]:
                raise StripeError(
                    400, f"Invalid {name}: must be one of {', '.join(declared['enum'])}",
                    code="parameter_invalid_string", param=name)
            if declared.get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
                raise StripeError(400, f"Invalid integer: {value}",
                                  code="parameter_invalid_integer", param=name)
            if declared.get("type") == "boolean" and value not in ("true", "false"):
                raise StripeError(400, f"Invalid boolean: {value}", param=name)
        present = {top_level(key) for key in form}
        for name in schema.get("required") or []:
            if name not in present:
                raise StripeError(400, f"Missing required param: {name}.",
                                  code="parameter_missing", param=name)


def top_level(key: str) -> str:
    """`metadata[order_id]` -> `metadata`, `expand[]` -> `expand`."""
    return key.split("[", 1)[0]


def nested(form: Mapping[str, str], name: str) -> dict[str, str]:
    """The `name[...]` keys of a form as a dict (`metadata[a]=1` -> {"a": "1"})."""
    prefix = name + "["
    return {key[len(prefix):-1]: value for key, value in form.items()
            if key.startswith(prefix) and key.endswith("]")}


# --- test payment methods ---------------------------------------------------------------------

DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "pm_card_chargeDeclinedExpiredCard": (
        "expired_card", "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": (
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error", None,
        "An error occurred while processing your card. Try again in a little bit."),
}
# The brand and last four digits of the test card behind each payment method (never more).
CARDS = {
    "pm_card_visa": ("visa", "4242"), "pm_card_mastercard": ("mastercard", "4444"),
    "pm_card_chargeDeclined": ("visa", "0002"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995"),
    "pm_card_chargeDeclinedExpiredCard": ("visa", "0069"),
    "pm_card_chargeDeclinedIncorrectCvc": ("visa", "0127"),
    "pm_card_chargeDeclinedFraudulent": ("visa", "0019"),
    "pm_card_chargeDeclinedProcessingError": ("visa", "0119"),
    "pm_card_authenticationRequired": ("visa", "3184"),
    "pm_card_createDispute": ("visa", "0259"),
}


# --- the stand-in -----------------------------------------------------------------------------


Handler = Callable[["StripeStandIn", web.Request, tuple[str, ...], dict[str, str],
                    dict[str, str]], tuple[int, dict[str, Any]]]


class StripeStandIn:
    def __init__(self, spec: Mapping[str, Any], seed: int = 2023) -> None:
        self.spec = SpecIndex(spec)
        self._random = random.Random(seed)
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        # (api key, idempotency key) -> (what was asked, status, body)
        self.replies: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}
        self.handlers: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/payment_intents"): StripeStandIn.create_intent,
            ("GET", "/v1/payment_intents/{intent}"): StripeStandIn.retrieve_intent,
            ("POST", "/v1/payment_intents/{intent}/capture"): StripeStandIn.capture_intent,
            ("POST", "/v1/payment_intents/{intent}/cancel"): StripeStandIn.cancel_intent,
            ("POST", "/v1/refunds"): StripeStandIn.create_refund,
            ("GET", "/v1/disputes"): StripeStandIn.list_disputes,
        }

    def new_id(self, prefix: str) -> str:
        alphabet = string.ascii_letters + string.digits
        return prefix + "_" + "".join(self._random.choice(alphabet) for _ in range(24))

    # --- the request pipeline -----------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.Response:
        headers = {"Request-Id": self.new_id("req"), "Stripe-Version": self.spec.version}
        key = request.headers.get("Idempotency-Key")
        if key and request.method == "POST":
            headers["Idempotency-Key"] = key
        try:
            api_key = self._authenticate(request)
            version = request.headers.get("Stripe-Version", self.spec.version)
            if version != self.spec.version:
                raise StripeError(
                    400, f"This stand-in serves only API version {self.spec.version}, "
                         f"not {version}.", param="Stripe-Version")
            found = self.spec.find(request.method, request.path)
            if found is None:
                raise StripeError(400, f"Unrecognized request URL ({request.method}: "
                                       f"{request.path}).")
            operation, path_params = found
            form = await self._form(request)
            query = dict(request.query)
            self.spec.check(operation, form, query)
            handler = self.handlers.get((operation.method, operation.template))
            if handler is None:
                raise StripeError(400, f"The stand-in does not implement "
                                       f"{operation.spec.get('operationId')}.")
            asked = json.dumps([request.method, request.path, sorted(form.items())])
            if key and request.method == "POST":
                replied = self.replies.get((api_key, key))
                if replied is not None:
                    first, status, body = replied
                    if first != asked:
                        raise StripeError(
                            400, "Keys for idempotent requests can only be used with the same "
                                 "parameters they were first used with. Try using a key other "
                                 f"than '{key}' if you meant to execute a different request.",
                            type="idempotency_error")
                    headers["Idempotent-Replayed"] = "true"
                    return web.json_response(body, status=status, headers=headers)
            try:
                status, body = handler(self, request, path_params, form, query)
            except StripeError as error:
                status, body = error.status, error.body
            if key and request.method == "POST":
                self.replies[(api_key, key)] = (asked, status, body)
            return web.json_response(body, status=status, headers=headers)
        except StripeError as error:
            return web.json_response(error.body, status=error.status, headers=headers)

    @staticmethod
    def _authenticate(request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise StripeError(
                401, "You did not provide an API key. You need to provide your API key in the "
                     "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                     "YOUR_SECRET_KEY').")
        key = auth[len("Bearer "):].strip()
        if not key.startswith(("sk_test_", "rk_test_")):
            raise StripeError(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}",
                              code="api_key_expired" if key.startswith("sk_live_") else None)
        return key

    @staticmethod
    async def _form(request: web.Request) -> dict[str, str]:
        if request.method != "POST" or not request.body_exists:
            return {}
        if request.content_type != FORM:
            raise StripeError(400, f"Invalid request: Stripe takes {FORM} bodies, "
                                   f"not {request.content_type}.")
        return {key: str(value) for key, value in (await request.post()).items()}

    # --- PaymentIntents -----------------------------------------------------------------------

    def create_intent(self, request: web.Request, _: tuple[str, ...], form: dict[str, str],
                      query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        amount = int(form["amount"])
        if amount < 1:
            raise StripeError(400, "Amount must be at least 1", code="amount_too_small",
                              param="amount")
        confirm = form.get("confirm") == "true"
        if form.get("return_url") and not confirm:
            raise StripeError(400, "return_url can only be used with confirm=true.",
                              param="return_url")
        types = [v for _, v in sorted(nested(form, "payment_method_types").items())] or ["card"]
        now = int(time.time())
        intent_id = self.new_id("pi")
        intent: dict[str, Any] = {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 0,
            "application": None, "application_fee_amount": None,
            "automatic_payment_methods": None, "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": form.get("capture_method", "automatic"),
            "client_secret": f"{intent_id}_secret_{self.new_id('cs')[3:]}",
            "confirmation_method": form.get("confirmation_method", "automatic"),
            "created": now, "currency": form["currency"].lower(), "customer": None,
            "description": form.get("description"), "invoice": None,
            "last_payment_error": None, "latest_charge": None, "livemode": False,
            "metadata": nested(form, "metadata"), "next_action": None, "on_behalf_of": None,
            "payment_method": form.get("payment_method"), "payment_method_options": {},
            "payment_method_types": types, "processing": None, "receipt_email": None,
            "review": None, "setup_future_usage": None, "shipping": None,
            "statement_descriptor": None, "statement_descriptor_suffix": None,
            "status": "requires_payment_method" if not form.get("payment_method")
            else "requires_confirmation",
            "transfer_data": None, "transfer_group": None,
        }
        self.intents[intent_id] = intent
        if confirm:
            self._confirm(request, intent, form.get("return_url"))
        return 200, self._shown(intent, [])

    def _confirm(self, request: web.Request, intent: dict[str, Any],
                 return_url: str | None) -> None:
        method = intent["payment_method"]
        if not method:
            raise StripeError(
                400, "You cannot confirm this PaymentIntent because it's missing a payment "
                     "method.", code="payment_intent_unexpected_state",
                payment_intent=self._shown(intent, []))
        if method not in CARDS:
            del self.intents[intent["id"]]
            raise StripeError(400, f"No such PaymentMethod: '{method}'",
                              code="resource_missing", param="payment_method")
        if method == "pm_card_authenticationRequired":
            intent["status"] = "requires_action"
            if return_url:
                intent["next_action"] = {"type": "redirect_to_url", "redirect_to_url": {
                    "return_url": return_url,
                    "url": f"{request.scheme}://{request.host}/3ds/{intent['id']}",
                }}
            else:
                intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {
                    "type": "three_d_secure_redirect", "stripe_js": ""}}
            return
        charge = self._charge(intent, method)
        if method in DECLINES:
            code, decline_code, message = DECLINES[method]
            charge.update(status="failed", paid=False, failure_code=code,
                          failure_message=message)
            error: dict[str, Any] = {"type": "card_error", "code": code, "message": message,
                                     "charge": charge["id"],
                                     "doc_url": "https://stripe.com/docs/error-codes/"
                                                + code.replace("_", "-"),
                                     "payment_method": self._payment_method(method)}
            if decline_code:
                error["decline_code"] = decline_code
            intent.update(status="requires_payment_method", payment_method=None,
                          last_payment_error=error)
            details = {k: v for k, v in error.items() if k != "message"}
            raise StripeError(402, message, **details, payment_intent=self._shown(intent, []))
        if intent["capture_method"] == "manual":
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
            charge.update(captured=True, amount_captured=intent["amount"])
        if method == "pm_card_createDispute":
            self._dispute(charge)

    def _charge(self, intent: dict[str, Any], method: str) -> dict[str, Any]:
        brand, last4 = CARDS[method]
        charge = {
            "id": self.new_id("ch"), "object": "charge", "amount": intent["amount"],
            "amount_captured": 0, "amount_refunded": 0, "application": None,
            "application_fee": None, "application_fee_amount": None,
            "balance_transaction": None, "billing_details": {
                "address": None, "email": None, "name": None, "phone": None},
            "calculated_statement_descriptor": "MALL", "captured": False,
            "created": intent["created"], "currency": intent["currency"], "customer": None,
            "description": intent["description"], "disputed": False,
            "failure_balance_transaction": None, "failure_code": None,
            "failure_message": None, "fraud_details": {}, "invoice": None, "livemode": False,
            "metadata": dict(intent["metadata"]), "on_behalf_of": None,
            "outcome": {"network_status": "approved_by_network", "reason": None,
                        "risk_level": "normal", "seller_message": "Payment complete.",
                        "type": "authorized"},
            "paid": True, "payment_intent": intent["id"], "payment_method": method,
            "payment_method_details": {"type": "card", "card": {
                "brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034,
                "funding": "credit", "country": "US",
                "checks": {"cvc_check": "pass", "address_line1_check": None,
                           "address_postal_code_check": None}}},
            "receipt_email": None, "receipt_number": None, "receipt_url": None,
            "refunded": False, "review": None, "shipping": None, "source_transfer": None,
            "statement_descriptor": None, "statement_descriptor_suffix": None,
            "status": "succeeded", "transfer_data": None, "transfer_group": None,
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    @staticmethod
    def _payment_method(method: str) -> dict[str, Any]:
        brand, last4 = CARDS[method]
        return {"id": method, "object": "payment_method", "type": "card", "livemode": False,
                "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034}}

    def _dispute(self, charge: dict[str, Any]) -> None:
        dispute = {
            "id": self.new_id("dp"), "object": "dispute", "amount": charge["amount"],
            "balance_transactions": [], "charge": charge["id"], "created": int(time.time()),
            "currency": charge["currency"], "evidence": {},
            "evidence_details": {"due_by": int(time.time()) + 7 * 86400,
                                 "has_evidence": False, "past_due": False,
                                 "submission_count": 0},
            "is_charge_refundable": False, "livemode": False, "metadata": {},
            "payment_intent": charge["payment_intent"], "reason": "fraudulent",
            "status": "needs_response",
        }
        self.disputes[dispute["id"]] = dispute
        charge["disputed"] = True

    def authenticate(self, intent_id: str) -> bool:
        """The customer passes 3-D Secure on the bank's page: as at Stripe, the payment then
        goes on as confirmed, and a manual-capture intent stops at `requires_capture`."""
        intent = self.intents.get(intent_id)
        if intent is None or intent["status"] != "requires_action":
            return False
        intent["next_action"] = None
        charge = self._charge(intent, intent["payment_method"])
        if intent["capture_method"] == "manual":
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
            charge.update(captured=True, amount_captured=intent["amount"])
        return True

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise StripeError(404, f"No such payment_intent: '{intent_id}'",
                              code="resource_missing", param="intent")
        return intent

    def _shown(self, intent: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        shown = json.loads(json.dumps(intent))
        if "latest_charge" in expand and intent["latest_charge"]:
            shown["latest_charge"] = json.loads(json.dumps(self.charges[intent["latest_charge"]]))
        return shown

    def retrieve_intent(self, _: web.Request, path: tuple[str, ...], form: dict[str, str],
                        query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self._intent(path[0])
        expand = [value for key, value in query.items() if top_level(key) == "expand"]
        return 200, self._shown(intent, expand)

    def capture_intent(self, _: web.Request, path: tuple[str, ...], form: dict[str, str],
                       query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self._intent(path[0])
        if intent["status"] != "requires_capture":
            raise StripeError(
                400, "This PaymentIntent could not be captured because it has a status of "
                     f"{intent['status']}. Only a PaymentIntent with one of the following "
                     "statuses may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
                payment_intent=self._shown(intent, []))
        amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
        if amount > intent["amount_capturable"]:
            raise StripeError(
                400, "The amount_to_capture must be less than or equal to the "
                     "amount_capturable.", code="amount_too_large", param="amount_to_capture")
        charge = self.charges[intent["latest_charge"]]
        # As at Stripe, the part of the hold not captured is released as a refund.
        charge.update(captured=True, amount_captured=amount,
                      amount_refunded=charge["amount"] - amount)
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        return 200, self._shown(intent, [])

    def cancel_intent(self, _: web.Request, path: tuple[str, ...], form: dict[str, str],
                      query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self._intent(path[0])
        if intent["status"] in ("succeeded", "canceled"):
            raise StripeError(
                400, "You cannot cancel this PaymentIntent because it has a status of "
                     f"{intent['status']}. Only a PaymentIntent with one of the following "
                     "statuses may be canceled: requires_payment_method, requires_capture, "
                     "requires_confirmation, requires_action, processing.",
                code="payment_intent_unexpected_state",
                payment_intent=self._shown(intent, []))
        if intent["latest_charge"] and intent["status"] == "requires_capture":
            charge = self.charges[intent["latest_charge"]]  # the hold is released
            charge.update(refunded=True, amount_refunded=charge["amount"])
        intent.update(status="canceled", canceled_at=int(time.time()), amount_capturable=0,
                      cancellation_reason=form.get("cancellation_reason"), next_action=None)
        return 200, self._shown(intent, [])

    # --- refunds and disputes -----------------------------------------------------------------

    def create_refund(self, _: web.Request, path: tuple[str, ...], form: dict[str, str],
                      query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("payment_intent"):
            intent = self._intent(form["payment_intent"])
            charge_id = intent["latest_charge"] if intent["status"] == "succeeded" else None
            if charge_id is None:
                raise StripeError(
                    400, f"This PaymentIntent ({intent['id']}) does not have a successful "
                         "charge to refund.", code="charge_not_refundable",
                    param="payment_intent")
        elif form.get("charge"):
            charge_id = form["charge"]
            if charge_id not in self.charges:
                raise StripeError(404, f"No such charge: '{charge_id}'",
                                  code="resource_missing", param="charge")
        else:
            raise StripeError(400, "One of the following params should be provided for this "
                                   "request: payment_intent or charge.",
                              code="parameter_missing")
        charge = self.charges[charge_id]
        released = charge["amount"] - charge["amount_captured"]
        left = charge["amount_captured"] - (charge["amount_refunded"] - released)
        if left <= 0:
            raise StripeError(400, f"Charge {charge_id} has already been refunded.",
                              code="charge_already_refunded")
        amount = int(form.get("amount", left))
        if amount > left:
            raise StripeError(
                400, f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                     f"({left})", code="amount_too_large", param="amount")
        refund = {
            "id": self.new_id("re"), "object": "refund", "amount": amount,
            "balance_transaction": self.new_id("txn"), "charge": charge_id,
            "created": int(time.time()), "currency": charge["currency"],
            "metadata": nested(form, "metadata"), "payment_intent": charge["payment_intent"],
            "reason": form.get("reason"), "receipt_number": None,
            "source_transfer_reversal": None, "status": "succeeded",
            "transfer_reversal": None,
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return 200, refund

    def list_disputes(self, request: web.Request, path: tuple[str, ...],
                      form: dict[str, str],
                      query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        limit = int(query.get("limit", "10"))
        found = [d for d in self.disputes.values()
                 if query.get("payment_intent") in (None, d["payment_intent"])
                 and query.get("charge") in (None, d["charge"])]
        found.sort(key=lambda d: d["created"], reverse=True)
        return 200, {"object": "list", "data": found[:limit], "has_more": len(found) > limit,
                     "url": "/v1/disputes"}


STAND_IN = web.AppKey("stripe", StripeStandIn)


def make_app(spec_path: Path = SPEC_PATH) -> web.Application:
    stand_in = StripeStandIn(load_spec(spec_path))
    app = web.Application()
    app[STAND_IN] = stand_in

    async def three_d_secure(request: web.Request) -> web.Response:
        """The bank's 3-D Secure page (`next_action.redirect_to_url.url`); visiting it passes
        the authentication. Not part of Stripe's API, so not checked against the spec."""
        if not stand_in.authenticate(request.match_info["intent"]):
            return web.json_response({"error": "no payment waiting for authentication"},
                                     status=404)
        return web.json_response({"status": "authenticated"})

    app.router.add_get("/3ds/{intent}", three_d_secure)
    app.router.add_route("*", "/{tail:.*}", stand_in.dispatch)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]) if sys.argv[1:] else 18766)
