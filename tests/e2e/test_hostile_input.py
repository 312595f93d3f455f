"""Whatever a stranger sends gets a 4xx problem document with a message, never a 500."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
from typing import Any

import aiohttp
import pytest
import yarl

from adapters.logs import JsonLineFormatter
from tests.helpers import ORDER, eventually

PROBLEM = "application/problem+json"


async def _problem(response: Any, status: int) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = json.loads(text)
    assert body["status"] == status and body["detail"] and body["title"]
    assert body["title"] != "DomainError" and not body["title"][0].islower()
    return dict(body)


async def test_malformed_bodies_are_4xx_problems(shop: Any) -> None:
    auth = await shop.sign_up()
    post = shop.client.post
    json_type = {"Content-Type": "application/json"}

    deep = ("[" * 1000 + "]" * 1000).encode()
    body = await _problem(await post("/v1/orders", data=deep, headers={**auth, **json_type}),
                          400)
    assert "deeper than 32" in body["detail"]
    nested: Any = 1
    for _ in range(40):  # 40 levels: well within Python's limits, past ours
        nested = [nested]
    shallow_but_deep = json.dumps({"lines": nested})
    await _problem(await post("/v1/orders", data=shallow_but_deep,
                              headers={**auth, **json_type}), 400)
    await _problem(await post("/v1/orders", data=b"x" * (1024 * 1024 + 1),
                              headers={**auth, **json_type}), 413)
    await _problem(await post("/v1/orders", data=b'{"a": "\xff\xfe"}',
                              headers={**auth, **json_type}), 400)
    await _problem(await post("/v1/orders", data=b'{"a": NaN}',
                              headers={**auth, **json_type}), 400)
    await _problem(await post("/v1/orders", data=b"{not json",
                              headers={**auth, **json_type}), 400)

    # wrong, missing or non-UTF-8 media types
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "application/json; charset=latin-1", "multipart/form-data"):
        await _problem(await post("/v1/auth/login", data=b'{"email": "a@b.co"}',
                                  headers={"Content-Type": content_type}), 415)
    response = await shop.client.request(
        "POST", "/v1/auth/login", data=io.BytesIO(b'{"email": "a@b.co"}'),
        skip_auto_headers=["Content-Type"])
    await _problem(response, 415)
    ok = await post("/v1/auth/login", data=b'{"email": "nobody@example.com", "password": "x"}',
                    headers={"Content-Type": "application/json; charset=UTF-8"})
    assert ok.status == 401


async def test_broken_forms_on_the_form_post_callback_are_4xx(shop: Any) -> None:
    url = "/v1/auth/sandbox/callback"
    response = await shop.client.post(url, data=b"--x\r\nbroken",
                                      headers={"Content-Type": "multipart/form-data"})
    await _problem(response, 400)
    response = await shop.client.post(
        url, data=b"--b\r\nContent-Disposition: form-data\r\n\r\nno end",
        headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert 400 <= response.status < 500
    response = await shop.client.post(url, data=b'{"code": "x"}',
                                      headers={"Content-Type": "application/json"})
    await _problem(response, 415)


async def test_addresses_headers_and_methods_past_the_limits(shop: Any) -> None:
    await _problem(await shop.client.get("/v1/orders?cursor=" + "a" * 9000), 414)
    await _problem(await shop.client.get("/v1/me", headers={"X-Note": "a" * 9000}), 431)
    response = await shop.client.delete("/v1/orders")
    body = await _problem(response, 405)
    assert set(response.headers["Allow"].split(",")) >= {"GET", "POST"}
    assert "GET" in body["detail"]
    await _problem(await shop.client.get("/v1/orders/%00"), 400)
    await _problem(await shop.client.get("/nowhere"), 404)


@pytest.mark.parametrize(("path", "value", "rule"), [
    (("lines", 0, "quantity"), True, "integer"),
    (("lines", 0, "quantity"), "1", "integer"),
    (("lines", 0, "unit_price"), False, "integer"),
    (("lines", 0, "unit_price"), 1.0, "integer"),
    (("lines", 0, "unit_price"), 10**12, "less than or equal"),
    (("currency",), "XXX", "ISO 4217"),
    (("currency",), "XTS", "ISO 4217"),
    (("shipping_address", "country"), "ZZ", "ISO 3166-1"),
    (("note",), 5, "string"),
])
async def test_request_types_are_strict(shop: Any, path: tuple[Any, ...], value: Any,
                                        rule: str) -> None:
    auth = await shop.sign_up()
    order = json.loads(json.dumps(ORDER))
    target = order
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    body = await _problem(await shop.client.post("/v1/orders", json=order, headers=auth), 422)
    assert rule in body["detail"]


async def test_currencies_and_countries_come_from_the_iso_data(shop: Any) -> None:
    auth = await shop.sign_up()
    for currency, country in (("usd", "us"), ("BHD", "BH"), ("JPY", "JP")):
        order = {**ORDER, "currency": currency,
                 "shipping_address": {**ORDER["shipping_address"], "country": country}}
        response = await shop.client.post("/v1/orders", json=order, headers=auth)
        assert response.status == 201, await response.text()
        placed = await response.json()
        assert placed["currency"] == currency.upper()
        assert placed["shipping_address"]["country"] == country.upper()


async def test_pagination_parameters_are_checked(shop: Any) -> None:
    auth = await shop.sign_up()
    for query in ("limit=101", "limit=0", "limit=ten", "limit=true", "cursor=yesterday",
                  "cursor=2026-01-01T00:00:00"):
        await _problem(await shop.client.get(f"/v1/orders?{query}", headers=auth), 400)
    response = await shop.client.get("/v1/orders?limit=100&cursor=2026-01-01T00:00:00Z",
                                     headers=auth)
    assert response.status == 200


async def test_a_zero_total_is_refused_so_no_order_waits_forever(shop: Any) -> None:
    auth = await shop.sign_up()
    order = {**ORDER, "lines": [{**ORDER["lines"][0], "unit_price": 0}]}
    body = await _problem(await shop.client.post("/v1/orders", json=order, headers=auth), 422)
    assert "more than zero" in body["detail"]
    listed = await (await shop.client.get("/v1/orders", headers=auth)).json()
    assert listed["orders"] == []
    # a free line beside a paid one is fine
    free_and_paid = {**ORDER, "lines": [{**ORDER["lines"][0], "unit_price": 0},
                                        ORDER["lines"][1]]}
    assert (await shop.client.post("/v1/orders", json=free_and_paid, headers=auth)).status == 201


async def test_email_addresses_are_one_account_whatever_their_case(shop: Any) -> None:
    await shop.sign_up("alice@example.com", password="alice's password")
    response = await shop.client.post("/v1/auth/register", json={
        "email": "Alice@Example.com", "password": "another password"})
    body = await _problem(response, 409)
    assert body["retryable"] is False
    login = await shop.client.post("/v1/auth/login", json={
        "email": "ALICE@example.COM", "password": "alice's password"})
    assert login.status == 200
    me = await (await shop.client.get("/v1/me", headers={
        "Authorization": f"Bearer {(await login.json())['access_token']}"})).json()
    assert me["email"] == "alice@example.com"


async def test_errors_speak_the_customers_language(shop: Any) -> None:
    response = await shop.client.get("/v1/me", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    body = await _problem(response, 401)
    assert response.headers["Content-Language"] == "ko"
    assert body["title"] == "로그인이 필요합니다"
    assert "로그인" in body["detail"] and "Authorization" in body["detail_en"]
    english = await _problem(await shop.client.get("/v1/me"), 401)
    assert english["title"] == "Not signed in" and "detail_en" not in english


async def test_no_input_can_forge_a_log_line(shop: Any) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        await shop.client.get("/v1/orders%0a2026-01-01 INFO forged line%0d%0a")
        await shop.client.get("/v1/me%00nul", headers={"X-Request-Id": "req%0aforged"})
        await shop.client.get("/v1/\u2028x")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one whole JSON object
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert any("forged line" in r["message"] for r in records)
    assert all("\x00" not in line for line in lines)
    access = [r for r in records if r["logger"] == "aiohttp.access"]
    assert access and all(r.get("request_id") for r in access)


async def test_the_served_log_is_one_json_object_per_line(
    tmp_path: Any, unused_tcp_port: int
) -> None:
    """The real server's log (stderr of `mall serve`): a path with %0a and %00 forges nothing."""
    env = {**os.environ, "MALL_PORT": str(unused_tcp_port),
           "MALL_SQLITE_PATH": str(tmp_path / "mall.sqlite"),
           "MALL_KEYS_FILE": str(tmp_path / "keys.json"), "MALL_REDIS_URL": "",
           "MALL_DATABASE_URL": ""}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "entrypoints.cli", "serve", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def up() -> bool:
                try:
                    async with session.get(f"{base}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(up, timeout=60, what="the server to answer")
            async with session.get(
                    yarl.URL(f"{base}/v1/orders%0a2026-01-01%20INFO%20forged%00", encoded=True)):
                pass
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(server.communicate(), timeout=30)
    lines = stderr.decode().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) == len([line for line in lines if line.strip()]), lines
    assert any("forged" in r["message"] for r in records), lines
    assert not any(line.startswith("2026-01-01") for line in lines)
