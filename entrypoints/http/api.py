"""Route tables that also describe themselves, so the OpenAPI document cannot drift from the
routes, and the helpers every handler shares (JSON in and out, auth, problem+json)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bootstrap import Container
from domain.customers import Customer
from domain.errors import DomainError, Forbidden, Unauthorized

CONTAINER = web.AppKey("container", Container)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
MAX_BODY = 1024 * 1024


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    request: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None]
    auth: str | None  # None, "customer" or "admin"
    params: list[dict[str, Any]] = field(default_factory=list)
    content_type: str = "application/json"


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
        content_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.route(method, path)(handler)
            self.operations.append(Operation(method, path, summary, self.tag, request,
                                             responses or {200: None}, auth, params or [],
                                             content_type))
            return handler

        return register


def container(request: web.Request) -> Container:
    return request.app[CONTAINER]


class BadRequest(DomainError):
    status = 400
    code = "bad-request"


class InvalidBody(DomainError):
    code = "invalid-body"


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"the request body is larger than {MAX_BODY} bytes")
    return await request.read()


def parse(model: type[M], raw: bytes) -> M:
    """Validate a JSON body; errors name the field and the rule, never echo the input."""
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise BadRequest("the request body is not valid JSON") from None
    if b"\\u0000" in raw:  # a NUL character: no text field of ours may hold one
        raise BadRequest("the request body contains a NUL character (\\u0000)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidBody(problems) from None


def json_response(body: Any, status: int = 200, **headers: str) -> web.Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return web.json_response(body, status=status, headers=headers or None,
                             dumps=lambda v: json.dumps(v, default=str))


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
