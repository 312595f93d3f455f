"""Route tables that also describe themselves, so the OpenAPI document cannot drift from the
routes, and the helpers every handler shares (JSON in and out, auth, problem+json)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bootstrap import Container
from domain.customers import Customer
from domain.errors import DomainError, Forbidden, Unauthorized
from domain.redaction import has_card_number

log = logging.getLogger("mall.http")
CONTAINER = web.AppKey("container", Container)
# Set when the server starts shutting down: long-lived streams end at once instead of
# holding the shutdown for their next update.
CLOSING = web.AppKey("closing", asyncio.Event)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    request: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None]
    auth: str | None  # None, "customer", "admin" or "seller"
    params: list[dict[str, Any]] = field(default_factory=list)
    content_type: str = "application/json"
    form: dict[str, Any] | None = None  # the JSON schema of a posted form's fields
    body_required: bool = True


class RouteTable:
    """aiohttp's RouteTableDef plus the metadata the OpenAPI document is made of."""

    def __init__(self, tag: str) -> None:
        self.routes = web.RouteTableDef()
        self.operations: list[Operation] = []
        self.tag = tag

    def add(
        self, method: str, path: str, summary: str, *,
        request: type[BaseModel] | None = None,
        responses: dict[int, type[BaseModel] | None] | None = None,
        auth: str | None = "customer", params: list[dict[str, Any]] | None = None,
        content_type: str = "application/json", form: dict[str, Any] | None = None,
        body_required: bool = True,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            operation = Operation(method, path, summary, self.tag, request,
                                  responses or {200: None}, auth, params or [], content_type,
                                  form, body_required)
            self.routes.route(method, path)(checked(operation, handler))
            self.operations.append(operation)
            return handler

        return register


def container(request: web.Request) -> Container:
    return request.app[CONTAINER]


def checked(operation: Operation, handler: Handler) -> Handler:
    """The handler, whose JSON answers are checked against the model the operation declares
    for their status when MALL_VALIDATE_RESPONSES is on, so the document cannot drift from
    what is really answered. A mismatch is logged (route and fields, never values) and
    answers 500."""
    route = f"{operation.method} {operation.path}"

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        if not container(request).config.validate_responses():
            return response
        model = operation.responses.get(response.status)
        if (model is None or not isinstance(response, web.Response)
                or not isinstance(response.body, bytes)
                or response.content_type not in JSON_TYPES):
            return response
        mismatch = answer_mismatch(model, response.body)
        if mismatch:
            log.error("the answer of %s (%s) does not match %s: %s", route, response.status,
                      model.__name__, mismatch)
            raise web.HTTPInternalServerError(
                text=f"the answer of {route} does not match its documented model "
                     f"{model.__name__}: {mismatch}")
        return response

    return answer


def answer_mismatch(model: type[BaseModel], body: bytes) -> str:
    """Where a JSON answer departs from its model (empty when it does not): the fields and
    rules, never the values, which may be personal data."""
    try:
        model.model_validate_json(body)
    except ValidationError as exc:
        return _where(exc)
    return ""


def _where(exc: ValidationError) -> str:
    """Each error's field and rule, without the input (which may be personal data)."""
    return "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
                     for error in exc.errors(include_input=False, include_url=False))


class BadRequest(DomainError):
    """The request cannot be read as the route expects it (a query parameter, a header, a
    form that cannot be read): the client fixes the request before trying again."""

    code = "bad-request"


class InvalidBody(DomainError):
    """The JSON body is well formed but breaks the operation's model (a field missing, of
    the wrong type or out of bounds): the problem names each field and rule."""

    code = "invalid-body"


class UnsupportedMediaType(DomainError):
    """The body is not UTF-8 JSON (or, for a form_post callback, not a form)."""

    code = "unsupported-media-type"


class CardNumberRefused(DomainError):
    """A person typed something that reads as a card number where none belongs."""

    code = "card-number-refused"


# Documented limits of what a request may carry (README, "Limits"); the OpenAPI document
# states them too.
MAX_BODY = 1024 * 1024
MAX_DEPTH = 32
JSON_TYPES = ("application/json", "application/problem+json")


def _media_type(request: web.Request) -> tuple[str, str | None]:
    """The request's media type and charset, as sent (no guessing from the body)."""
    header = request.headers.get("Content-Type", "")
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


async def read_body(request: web.Request, *, any_type: bool = False) -> bytes:
    """The raw body, within the size limit; unless `any_type`, a body must be JSON in UTF-8."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY,
                                            actual_size=request.content_length)
    raw = await request.read()
    if raw and not any_type:
        media, charset = _media_type(request)
        if not media:
            raise UnsupportedMediaType("the request has a body but no Content-Type: send "
                                       "'Content-Type: application/json'")
        if media not in JSON_TYPES and not media.endswith("+json"):
            raise UnsupportedMediaType(f"this endpoint takes application/json, not {media!r}")
        if charset not in (None, "utf-8", "utf8"):
            raise UnsupportedMediaType(f"JSON bodies are UTF-8; charset {charset!r} is not "
                                       "accepted")
    return raw


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(request: web.Request) -> dict[str, str]:
    """A posted HTML form (what a provider's form_post sends), within the size limit."""
    media, _ = _media_type(request)
    if media not in FORM_TYPES:
        raise UnsupportedMediaType(f"this endpoint takes a posted form ({' or '.join(FORM_TYPES)})"
                                   f", not {media or 'a body without Content-Type'!r}")
    try:
        form = await request.post()
    except web.HTTPException:
        raise
    except (ValueError, AssertionError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the posted form cannot be read ({type(exc).__name__}): send it "
                         "urlencoded, or as multipart with a boundary") from None
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    refuse_card_numbers(fields, "form")
    return fields


def load_json(raw: bytes) -> Any:
    """Decode a JSON body within the documented limits; errors never echo the input."""
    try:
        text = raw.decode("utf-8") if raw else "null"
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not valid UTF-8 (byte {exc.start})") from None
    if "\x00" in text or "\\u0000" in text:  # no text field of ours may hold a NUL
        raise BadRequest("the request body contains a NUL character (\\u0000)")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise BadRequest("the request body is not valid JSON") from None
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)
    return deepest


def refuse_card_numbers(data: Any, where: str = "body") -> None:
    """The card-number guard for what a person typed: every string (keys too) and every
    number in `data`. A card number is refused before anything is stored or logged."""
    stack: list[tuple[Any, str]] = [(data, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _refuse_scalar(key, path)
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
        else:
            _refuse_scalar(item, path)


def _refuse_scalar(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return
    text = value if isinstance(value, str) else str(abs(int(value)))
    if has_card_number(text):
        raise CardNumberRefused(
            f"{path} holds what reads as a card number: never type a card number here. "
            "Pay through the payment form, which sends us a token instead")


def parse(model: type[M], raw: bytes) -> M:
    """Validate a JSON body strictly; errors name the field and the rule, never the input."""
    data = load_json(raw)
    refuse_card_numbers(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidBody(_where(exc)) from None


DATE_RANGE_PARAMS = [
    {"name": "from", "in": "query", "required": True,
     "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "required": False,
     "schema": {"type": "string", "format": "date"}, "description": "exclusive; default: now"}]


def _day(value: str, name: str) -> datetime:
    """A date or a date-time; without an offset it is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        parsed.astimezone(UTC).timestamp()  # out of range offsets fail here, not later
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be a date such as 2026-11-01") from None


def date_range(request: web.Request) -> tuple[datetime, datetime]:
    """?from=...&to=... of a report (400 when malformed); `to` defaults to now."""
    if "from" not in request.query:
        raise BadRequest("give ?from=YYYY-MM-DD (and optionally &to=YYYY-MM-DD)")
    start = _day(request.query["from"], "from")
    end = _day(request.query["to"], "to") if request.query.get("to") else \
        container(request).clock().now() + timedelta(seconds=1)
    return start, end


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within its documented bounds (400 otherwise)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and low <= int(raw) <= high):
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def json_response(body: Any, status: int = 200, **headers: str) -> web.Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return web.json_response(body, status=status, headers=headers or None, dumps=dumps)


def dumps(value: Any) -> str:
    """JSON of an answer: times in RFC 3339 (`2026-12-02T08:00:00+00:00`), as every `*_at`."""
    return json.dumps(value, default=_plain)


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, date | time) else str(value)


async def current_customer(request: web.Request) -> Customer:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("you are not signed in: send 'Authorization: Bearer <token>' "
                           "with the token from POST /v1/auth/login")
    return await container(request).accounts().authenticate(token.strip())


async def current_admin(request: web.Request) -> Customer:
    customer = await current_customer(request)
    if not customer.is_admin:
        raise Forbidden("this needs the admin role")
    return customer
