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
import random
import string
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.cassettes.stripe_operations import PaymentOperations
from tests.cassettes.stripe_spec import FORM, SPEC_PATH, SpecIndex, StripeError, load_spec

Handler = Callable[["StripeStandIn", web.Request, tuple[str, ...], dict[str, str],
                    dict[str, str]], tuple[int, dict[str, Any]]]



class StripeStandIn(PaymentOperations):
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
