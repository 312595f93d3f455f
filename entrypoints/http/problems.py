"""Errors as RFC 9457 problem+json: what happened, whether a retry can help, whom to ask."""

from __future__ import annotations

import json
import logging
import re
import uuid

from aiohttp import web

from domain.errors import DomainError, ProviderUnavailable, SignInRefused
from domain.identity import FlowRefused
from domain.redaction import redact_card_numbers
from entrypoints.http.api import BadRequest

log = logging.getLogger("mall.http")
SUPPORT = "If this keeps happening, contact support@mall.example and quote the instance id."


def problem_body(exc: DomainError) -> dict[str, object]:
    body: dict[str, object] = {
        "type": f"/problems/{exc.code}", "title": type(exc).__name__, "status": exc.status,
        "detail": exc.detail, "retryable": exc.retryable,
    }
    if isinstance(exc, ProviderUnavailable) and exc.alternatives:
        body["alternatives"] = exc.alternatives  # other gateways, or other ways to sign in
    if isinstance(exc, SignInRefused | FlowRefused):
        body["reason"] = exc.reason
        body["ways_in"] = getattr(exc, "ways_in", [])
    return body


def problem(status: int, code: str, title: str, detail: str, *, retryable: bool,
            instance: str, **extra: object) -> web.Response:
    body = {
        "type": f"/problems/{code}", "title": title, "status": status, "detail": detail,
        "retryable": retryable, "instance": instance, **extra,
    }
    return web.Response(status=status, text=json.dumps(body),
                        content_type="application/problem+json")


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id(offered: str) -> str:
    """Keep the caller's request id when it is a plain token (never anything card-like)."""
    if _REQUEST_ID.match(offered) and redact_card_numbers(offered) == offered:
        return offered
    return uuid.uuid4().hex


@web.middleware
async def problems_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    request_id = _request_id(request.headers.get("X-Request-Id", ""))
    instance = f"urn:request:{request_id}"
    try:
        if "\x00" in request.path or any("\x00" in v for v in request.query.values()):
            raise BadRequest("the address contains a NUL character")
        response = await handler(request)
    except DomainError as exc:
        body = problem_body(exc)
        return problem(exc.status, exc.code, type(exc).__name__, exc.detail,
                       retryable=exc.retryable, instance=instance,
                       **{k: v for k, v in body.items()
                          if k in ("alternatives", "reason", "ways_in")})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason.lower().replace(" ", "-"), exc.reason,
                       exc.text if exc.text and not exc.text.startswith(str(exc.status))
                       else f"{exc.reason}: {request.method} {request.path}",
                       retryable=exc.status in (429, 503), instance=instance)
    except Exception:
        log.exception("unexpected error on %s %s (%s)", request.method, request.path,
                      request_id)
        return problem(500, "internal-error", "Internal Server Error",
                       "Something went wrong on our side and nothing was changed twice. "
                       f"Retrying is safe. {SUPPORT}", retryable=True, instance=instance)
    response.headers.setdefault("X-Request-Id", request_id)
    return response
