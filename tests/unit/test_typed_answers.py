"""Every JSON answer has a model, and answers are checked against it when asked to."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from entrypoints.http import admin, auth, health, sandbox, storefront, webhooks
from entrypoints.http.api import CONTAINER, RouteTable, answer_mismatch, json_response
from entrypoints.http.schemas import Answer, SignInReportOut

TABLES = (storefront, auth, admin, health, sandbox, webhooks)


def test_every_json_success_answer_declares_its_model() -> None:
    bare = [f"{op.method} {op.path} {status}" for module in TABLES
            for op in module.table.operations
            for status, model in op.responses.items()
            if 200 <= status < 300 and status != 204 and model is None
            and op.content_type == "application/json"]
    assert bare == []


class Greeting(Answer):
    text: str
    count: int


def _handler(body: object) -> tuple[RouteTable, web.Application]:
    table = RouteTable("test")

    @table.add("GET", "/greeting", "A greeting", responses={200: Greeting}, auth=None)
    async def greet(request: web.Request) -> web.Response:
        return json_response(body)

    return table, web.Application()


async def _answer(body: object, *, validate: bool) -> web.StreamResponse:
    table, app = _handler(body)
    # Only the setting is read from the container.
    app[CONTAINER] = cast(Any, SimpleNamespace(
        config=SimpleNamespace(validate_responses=lambda: validate)))
    route = cast(web.RouteDef, next(iter(table.routes)))
    request = make_mocked_request("GET", "/greeting", app=app)
    response: web.StreamResponse = await route.handler(request)
    return response


async def test_an_answer_that_matches_its_model_goes_out() -> None:
    response = await _answer({"text": "hello", "count": 1}, validate=True)
    assert response.status == 200


async def test_a_drifting_answer_is_a_500_naming_the_field_not_the_value(
        caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(web.HTTPInternalServerError) as raised:
        await _answer({"text": "ada@example.com", "extra": 1}, validate=True)
    text = str(raised.value.text)
    assert "GET /greeting" in text
    assert "count: Field required" in text
    assert "extra: Extra inputs are not permitted" in text
    assert "ada@example.com" not in text + caplog.text
    assert "does not match Greeting" in caplog.text


async def test_answers_are_not_checked_when_the_setting_is_off() -> None:
    response = await _answer({"text": "hello"}, validate=False)
    assert response.status == 200


def test_the_report_keeps_its_from_and_to_names() -> None:
    body = b'{"from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00", ' \
           b'"groups": []}'
    assert answer_mismatch(SignInReportOut, body) == ""
    schema = SignInReportOut.model_json_schema()
    assert {"from", "to", "groups"} <= set(schema["properties"])
