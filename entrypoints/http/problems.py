"""Errors as RFC 9457 problem+json: what happened, whether a retry can help, whom to ask.

The middleware is also the edge's first guard: it refuses addresses and headers past the
documented limits and card numbers typed into the address, before any handler runs.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from aiohttp import web

from bootstrap import REQUEST_ID
from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidSignature,
    InvalidTransition,
    NotFound,
    ProviderUnavailable,
    SignInRefused,
    TooManyAttempts,
    Unauthorized,
)
from domain.failures import preferred_language
from domain.identity import FlowRefused
from domain.redaction import card_safe_id, has_card_number
from domain.shipping_options import NoShippingOption
from entrypoints.http.access_log import loggable_path
from entrypoints.http.api import BadRequest, CardNumberRefused, UnsupportedMediaType
from entrypoints.http.problem_texts import korean_detail, title

log = logging.getLogger("mall.http")
SUPPORT = "If this keeps happening, contact support@mall.example and quote the instance id."
MAX_URL = 8 * 1024  # path and query, as sent
MAX_HEADER = 8 * 1024  # any one header value
# aiohttp's own parser cuts lines past these (a plain 400); below them, our limits answer
# with a problem document.
PARSER_LIMITS = {"max_line_size": 4 * MAX_URL, "max_field_size": 4 * MAX_HEADER}


# The one place where kinds of error become HTTP statuses: an error answers with the status of
# its nearest class listed here (SignInRefused is an Unauthorized: 401), any other with 422.
HTTP_STATUS: dict[type[DomainError], int] = {
    BadRequest: 400, InvalidSignature: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404,
    Conflict: 409, InvalidTransition: 409, UnsupportedMediaType: 415, TooManyAttempts: 429,
    ProviderUnavailable: 503,
}
UNPROCESSABLE = 422


def http_status(exc: DomainError) -> int:
    """The HTTP status that answers `exc`."""
    return next((HTTP_STATUS[kind] for kind in type(exc).__mro__ if kind in HTTP_STATUS),
                UNPROCESSABLE)


def problem_body(exc: DomainError, language: str = "en") -> dict[str, object]:
    body: dict[str, object] = {
        "type": f"/problems/{exc.code}", "title": title(exc.code, language),
        "status": http_status(exc), "detail": exc.detail, "retryable": exc.retryable,
    }
    if isinstance(exc, ProviderUnavailable) and exc.alternatives:
        body["alternatives"] = exc.alternatives  # other gateways, or other ways to sign in
    if isinstance(exc, NoShippingOption):  # what the customer may choose instead
        body["options"], body["countries_served"] = exc.options, exc.countries
    if isinstance(exc, SignInRefused | FlowRefused):
        body["reason"] = exc.reason
        body["ways_in"] = getattr(exc, "ways_in", [])
    return _localized(body, exc.code, language)


def _localized(body: dict[str, Any], code: str, language: str) -> dict[str, Any]:
    korean = korean_detail(code) if language == "ko" else None
    if korean is not None:
        body["detail_en"], body["detail"] = body["detail"], korean
    return body


def problem(status: int, code: str, detail: str, *, retryable: bool, instance: str,
            language: str = "en", headers: dict[str, str] | None = None,
            **extra: object) -> web.Response:
    body = _localized({
        "type": f"/problems/{code}", "title": title(code, language), "status": status,
        "detail": detail, "retryable": retryable, "instance": instance, **extra,
    }, code, language)
    response = web.Response(status=status, text=json.dumps(body),
                            content_type="application/problem+json", headers=headers)
    response.headers["Content-Language"] = language
    return response


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id(offered: str) -> str:
    """Keep the caller's request id when it is a plain token (never anything card-like)."""
    if _REQUEST_ID.match(offered) and not has_card_number(offered):
        return offered
    return card_safe_id("req")[4:]


def _guard_address(request: web.Request) -> None:
    """Limits and the card-number guard for what arrives outside the body."""
    if len(request.raw_path) > MAX_URL:
        raise web.HTTPRequestURITooLong(
            text=f"the address (path and query) is longer than {MAX_URL} bytes")
    for name, value in request.headers.items():
        if len(value) > MAX_HEADER:
            raise web.HTTPRequestHeaderFieldsTooLarge(
                text=f"the {name} header is longer than {MAX_HEADER} bytes")
    if "\x00" in request.path or any("\x00" in k + v for k, v in request.query.items()):
        raise BadRequest("the address contains a NUL character")
    if has_card_number(request.path):
        raise CardNumberRefused("the address holds what reads as a card number: never type a "
                                "card number into an address")
    for key, value in request.query.items():
        if has_card_number(key) or has_card_number(value):
            raise CardNumberRefused(f"the query parameter {key[:40]!r} holds what reads as a "
                                    "card number: never type a card number here")


def _http_code(exc: web.HTTPException) -> str:
    return {413: "payload-too-large", 414: "uri-too-long",
            431: "request-header-fields-too-large"}.get(
        exc.status, exc.reason.lower().replace(" ", "-"))


@web.middleware
async def problems_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    request_id = _request_id(request.headers.get("X-Request-Id", ""))
    REQUEST_ID.set(request_id)  # each request runs in its own task: the log lines follow it
    instance = f"urn:request:{request_id}"
    language = preferred_language(request.headers.get("Accept-Language"))
    try:
        _guard_address(request)
        response = await handler(request)
    except DomainError as exc:
        body = problem_body(exc, language)
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        response = problem(http_status(exc), exc.code, exc.detail, retryable=exc.retryable,
                           instance=instance, language=language, headers=headers,
                           **{k: v for k, v in body.items()
                              if k in ("alternatives", "reason", "ways_in", "options",
                                       "countries_served")})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        detail = (exc.text if exc.text and not exc.text.startswith(str(exc.status))
                  else f"{exc.reason}: {request.method} {request.path}")
        if exc.status == 405:
            detail = (f"{request.method} is not allowed here; this address takes "
                      f"{headers.get('Allow', 'other methods')}")
        elif exc.status == 413:
            detail = "the request body is larger than the 1 MiB this API accepts"
        response = problem(exc.status, _http_code(exc), detail,
                           retryable=exc.status in (429, 503), instance=instance,
                           language=language, headers=headers)
    except Exception:
        log.exception("unexpected error on %s %s (%s)", request.method,
                      loggable_path(request.path), request_id)
        response = problem(500, "internal-error",
                           "Something went wrong on our side and nothing was changed twice. "
                           f"Retrying is safe. {SUPPORT}", retryable=True, instance=instance,
                           language=language)
    response.headers.setdefault("X-Request-Id", request_id)
    return response
