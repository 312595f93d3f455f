"""What the Stripe stand-in does with a request the spec let through: PaymentIntents,
charges, refunds and disputes kept in memory, and the test payment methods' outcomes."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.cassettes.stripe_spec import StripeError, nested, top_level

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



class PaymentOperations:
    """The operations the stand-in implements, over the objects it keeps."""

    intents: dict[str, dict[str, Any]]
    charges: dict[str, dict[str, Any]]
    refunds: dict[str, dict[str, Any]]
    disputes: dict[str, dict[str, Any]]

    def new_id(self, prefix: str) -> str:
        raise NotImplementedError

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

