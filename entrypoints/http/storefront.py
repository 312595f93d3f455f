"""Storefront REST: accounts, orders, payments, operations."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from application.idempotency import Fingerprint
from application.ordering import LineInput, PlaceOrder, order_view
from application.payments.checkout import PaymentChoice
from domain.errors import DomainError
from domain.failures import preferred_language
from entrypoints.http import schemas as s
from entrypoints.http.api import (
    CLOSING,
    BadRequest,
    RouteTable,
    answer_mismatch,
    container,
    current_customer,
    json_response,
    parse,
    query_int,
    read_body,
)
from entrypoints.http.problems import http_status, problem_body

log = logging.getLogger("mall.http")
table = RouteTable("storefront")
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Same key, endpoint and JSON body (key order and spacing aside) replay the "
                   "first response for 24 h; another endpoint or body is a 422 that says "
                   "which; a request still running is a 409.",
}
Outcome = tuple[int, Any, dict[str, str]]  # status, JSON body, headers of a first answer


async def answer_once(
    request: web.Request, customer_id: str, raw: bytes,
    perform: Callable[[], Awaitable[Outcome]], *, required: bool,
) -> web.Response:
    """Perform the request once per Idempotency-Key: a retry with the same key, endpoint and
    body gets the first answer again. A committed result is recorded and answered even if
    recording fails, so committed work never hides behind an error."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if key and not (key.isascii() and key.isprintable()):
        raise BadRequest("the Idempotency-Key header must be printable ASCII, such as a UUID")
    if not key and required:
        raise BadRequest("the Idempotency-Key header is required: send a new random key "
                         "(a UUID) per attempt and reuse it only to retry that attempt")
    if not key:
        status, body, headers = await perform()
        return json_response(body, status=status, **headers)
    guard = container(request).idempotency()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    fingerprint = Fingerprint.of(request.method, route, request.match_info, raw)
    replay = await guard.begin(customer_id, key, fingerprint)
    if replay is not None:
        return web.Response(status=replay.status, text=json.dumps(replay.body),
                            content_type=_content_type(replay.status),
                            headers={"Idempotent-Replayed": "true"})
    try:
        status, body, headers = await perform()
    except DomainError as exc:
        await guard.finish(customer_id, key, http_status(exc), problem_body(exc))
        raise
    except BaseException:
        await guard.finish(customer_id, key, 500, None)
        raise
    try:
        await guard.finish(customer_id, key, status, body)
    except Exception as exc:  # the work is done: answer it; a retry meets the in-flight key
        log.error("could not record the answer to an idempotent request (%s)",
                  type(exc).__name__)
    return json_response(body, status=status, **headers)


@table.add("GET", "/v1/me", "The signed-in customer", responses={200: s.CustomerOut, 401: None})
async def me(request: web.Request) -> web.Response:
    return json_response(s.customer_out(await current_customer(request)))


@table.add("POST", "/v1/orders", "Place an order (idempotent with an Idempotency-Key)",
           request=s.OrderIn, responses={201: s.OrderOut, 409: None, 422: None},
           params=[{**IDEMPOTENCY, "required": False}])
async def place_order(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    raw = await read_body(request)

    async def place() -> Outcome:
        body = parse(s.OrderIn, raw)
        order = await container(request).ordering().place(PlaceOrder(
            customer_id=customer.id, currency=body.currency,
            lines=[LineInput(**line.model_dump()) for line in body.lines],
            shipping_address=body.shipping_address.model_dump(), carrier=body.carrier,
            service=body.service, note=body.note,
        ))
        # Built from the committed order, not read back: nothing after the commit can fail.
        view = order_view(order, payments=[], shipments=[])
        return 201, view, {"Location": f"/v1/orders/{order.id}"}

    return await answer_once(request, customer.id, raw, place, required=False)


SHIPPING_QUERY = [
    {"name": "country", "in": "query", "required": True,
     "schema": {"type": "string", "minLength": 2, "maxLength": 2, "examples": ["KR"]},
     "description": "the shipping address's country, ISO 3166-1 alpha-2"},
    {"name": "currency", "in": "query", "required": True,
     "schema": {"type": "string", "minLength": 3, "maxLength": 3, "examples": ["KRW"]},
     "description": "the order's currency, in which fees are quoted"},
]


@table.add("GET", "/v1/shipping/options",
           "The carriers and services that deliver to a country, with fee and usual delivery "
           "time, cheapest first", responses={200: s.ShippingOptionsOut, 400: None, 422: None},
           params=SHIPPING_QUERY, auth=None)
async def shipping_options(request: web.Request) -> web.Response:
    missing = [name for name in ("country", "currency") if not request.query.get(name)]
    if missing:
        raise BadRequest(f"query parameter {' and '.join(missing)} missing, e.g. "
                         "?country=KR&currency=KRW")
    currency = request.query["currency"]
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise BadRequest("currency must be an ISO 4217 code such as KRW or USD")
    return json_response(container(request).ordering().shipping_options(
        request.query["country"], currency))


PAGE = [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "next_cursor of the previous page"},
]


@table.add("GET", "/v1/orders", "The signed-in customer's orders, newest first, a page at a time",
           responses={200: s.OrderList, 400: None}, params=PAGE)
async def list_orders(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    limit = query_int(request, "limit", 20, 1, 100)
    cursor = _cursor(request.query.get("cursor") or None)
    return json_response(await container(request).ordering().list(customer.id, limit, cursor))


@table.add("GET", "/v1/orders/{id}", "One of the customer's orders, with payments and shipments",
           responses={200: s.OrderOut, 404: None}, params=[ID])
async def get_order(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    language = preferred_language(request.headers.get("Accept-Language"))
    view = await container(request).ordering().get(customer.id, request.match_info["id"],
                                                   language)
    response = json_response(view)
    response.headers["Content-Language"] = language
    return response


@table.add("POST", "/v1/orders/{id}/payments", "Pay for an order (idempotent)",
           request=s.PaymentIn,
           responses={200: s.OperationOut, 202: s.OperationOut, 409: None, 422: None,
                      503: None},
           params=[ID, IDEMPOTENCY])
async def pay_order(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    raw = await read_body(request)

    async def pay() -> Outcome:
        body = parse(s.PaymentIn, raw)
        c = container(request)
        ip_country = request.headers.get(c.config.client_country_header(), "").strip()
        started = await c.payments().start(
            customer_id=customer.id, order_id=request.match_info["id"],
            method_token=body.payment_method,
            choice=PaymentChoice(
                body.payment_method, method=body.method, provider=body.provider,
                billing_country=body.billing_country.upper() if body.billing_country else None,
                ip_country=ip_country.upper() if len(ip_country) == 2 else None),
            signed_in=customer,
        )
        status = 200 if started.final or started.operation["result"] else 202
        return status, _in_language(started.operation, request), {
            "Location": f"/v1/operations/{started.operation['id']}"}

    return await answer_once(request, customer.id, raw, pay, required=True)


def _cursor(value: str | None) -> str | None:
    """A next_cursor is the RFC 3339 UTC time of the page's last order."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest("cursor must be the next_cursor of a previous page, unchanged")
    return moment.astimezone(UTC).isoformat()


def _in_language(view: dict[str, Any], request: web.Request) -> dict[str, Any]:
    """An operation as its customer reads it: a failure's explanation, kept in every language,
    given in the one the request asks for, as a payment's failure is."""
    failure = (view.get("result") or {}).get("failure")
    if failure is None or not isinstance(failure.get("message"), dict):
        return view
    language = preferred_language(request.headers.get("Accept-Language"))
    message = failure["message"].get(language) or failure["message"].get("en", "")
    return {**view, "result": {**view["result"], "failure": {**failure, "message": message}}}


def _content_type(status: int) -> str:
    return "application/problem+json" if status >= 400 else "application/json"


@table.add("GET", "/v1/operations/{id}", "Where a long-running operation stands",
           responses={200: s.OperationOut, 404: None}, params=[ID])
async def get_operation(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    return json_response(_in_language(
        await container(request).operations().get(customer.id, request.match_info["id"]),
        request))


@table.add("GET", "/v1/operations/{id}/events",
           "Follow an operation as server-sent events until it ends",
           responses={200: None, 404: None}, params=[ID], content_type="text/event-stream")
async def follow_operation(request: web.Request) -> web.StreamResponse:
    customer = await current_customer(request)
    operations = container(request).operations()
    operation_id = request.match_info["id"]
    await operations.get(customer.id, operation_id)  # 404 before the stream starts
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    updates = operations.follow(customer.id, operation_id)
    validate = container(request).config.validate_responses()
    closing = asyncio.ensure_future(request.app[CLOSING].wait())
    try:
        while True:
            update = asyncio.ensure_future(anext(updates))
            await asyncio.wait({update, closing}, return_when=asyncio.FIRST_COMPLETED)
            if closing.done():  # the server is stopping: tell the client to come back
                update.cancel()
                await asyncio.gather(update, return_exceptions=True)
                await response.write(b"event: closing\nretry: 2000\ndata: {\"status\": "
                                     b"\"reconnect\"}\n\n")
                break
            try:
                view = update.result()
            except StopAsyncIteration:
                break
            event = "done" if view["status"] in ("succeeded", "failed") else "progress"
            data = json.dumps(_in_language(view, request))
            if validate:
                # Each event is an OperationOut, as the document says (MALL_VALIDATE_RESPONSES).
                mismatch = answer_mismatch(s.OperationOut, data.encode())
                if mismatch:  # the stream has begun: it ends here, loudly in the log
                    log.error("an event of %s does not match OperationOut: %s",
                              request.path, mismatch)
                    break
            await response.write(f"event: {event}\ndata: {data}\n\n".encode())
    finally:
        closing.cancel()
        await updates.aclose()
    await response.write_eof()
    return response
