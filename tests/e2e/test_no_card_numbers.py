"""No card number survives anywhere: refused where a person typed it, redacted where a
provider sent it; then every table, log line and cassette is scanned for what was sent.

The sweep is generated from the OpenAPI document: every string and number field of every
request body, every query and path parameter of every operation, each with a card number
in one of many typed forms (separators, glued to letters, inside a sentence).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.persistence.tables import ALL_TABLES, Payment
from adapters.shipping.sandbox import SIGNATURE_HEADER as CARRIER_SIGNATURE
from adapters.signing import sign
from domain.customers import Role
from domain.redaction import card_safe_id, has_card_number, luhn_valid
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(240)
CASSETTES = Path(__file__).parents[1] / "cassettes"


def _complete(prefix: str, length: int) -> str:
    """`prefix` padded with 1s to `length` digits, with a Luhn check digit."""
    body = prefix + "1" * (length - len(prefix) - 1)
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


# Visa 13/16/19, Mastercard, Amex 15, Discover, JCB
PANS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117",
        "3530111333300000", _complete("4222", 13), _complete("4000", 19)]
SEPARATORS = ["", " ", "-", ".", "/", ",", "_", " - ", " / "]
WRAPS = ["{}", "SKU{}", "{}x", "ab{}cd", "my card is {} exp 12/34 cvc 123"]


def typed(pan: str, separator: str, wrap: str) -> str:
    groups = [pan[i:i + 4] for i in range(0, len(pan), 4)]
    return wrap.format(separator.join(groups))


pan_variants = st.builds(typed, st.sampled_from(PANS), st.sampled_from(SEPARATORS),
                         st.sampled_from(WRAPS))


@given(pan_variants)
def test_every_typed_form_of_a_card_number_is_found(text: str) -> None:
    assert has_card_number(text)


@given(st.sampled_from(["ord", "pay", "obx", "evt", "sbx"]), st.integers(8, 32))
def test_our_own_identifiers_never_read_as_card_numbers(prefix: str, length: int) -> None:
    assert not has_card_number(card_safe_id(prefix, length))


def _flat(text: str) -> str:
    return re.sub(r"[\s\-./,_\\]", "", text)


def leaks(text: str) -> list[str]:
    flat = _flat(text)
    return [pan for pan in PANS if pan in flat]


# --- the sweep over the OpenAPI document ---------------------------------------------------


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _fields(schema: dict[str, Any], document: dict[str, Any],
            path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """(path, "string"|"integer"|"key") of every scalar a request body can carry."""
    schema = _resolve(schema, document)
    found: list[tuple[tuple[Any, ...], str]] = []
    for option in schema.get("anyOf", []):
        found += _fields(option, document, path)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, child in schema.get("properties", {}).items():
            found += _fields(child, document, (*path, name))
        if isinstance(schema.get("additionalProperties"), dict):
            found.append(((*path, None), "key"))
    elif kind == "array":
        found += _fields(schema.get("items", {}), document, (*path, 0))
    elif kind in ("string", "integer", "number"):
        found.append((path, "integer" if kind == "number" else kind))
    return list(dict.fromkeys(found))


def _body(path: tuple[Any, ...], value: Any, kind: str) -> Any:
    """A body holding `value` at `path` and nothing else (the guard runs before validation)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head is None:  # a free-form object: the value is typed as a key
        return {value: True} if kind == "key" else {"k": _body(rest, value, kind)}
    if head == 0:
        return [_body(rest, value, kind)]
    return {head: _body(rest, value, kind)}


def _refused(status: int, body: dict[str, Any]) -> bool:
    return status == 422 and body.get("type") == "/problems/card-number-refused"


async def test_card_numbers_typed_into_any_field_are_refused_and_never_kept(
    shop_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop = await shop_factory(sandbox_deposit_delay_seconds=3600)
    rng = random.Random(20261202)
    customer = await shop.sign_up()
    await shop.container.accounts().register("audit@example.com", "audit password 1",
                                             role=Role.ADMIN)
    login = await shop.client.post("/v1/auth/login", json={"email": "audit@example.com",
                                                            "password": "audit password 1"})
    admin = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    seller = {"Authorization": f"Bearer {shop.container.seller_keys().issue('seller-a')}"}
    document = await (await shop.client.get("/v1/openapi.json")).json()

    def variant() -> str:
        return typed(rng.choice(PANS), rng.choice(SEPARATORS), rng.choice(WRAPS))

    not_refused: list[str] = []
    tried = 0
    for route, item in document["paths"].items():
        for method, operation in item.items():
            if "webhooks" in operation["tags"]:
                continue  # provider payloads are redacted, not refused: see below
            headers = {**(admin if route.startswith("/v1/admin") else
                          seller if route.startswith("/v1/seller") else customer)}
            plain = re.sub(r"\{[^}]+\}", "x", route)
            attempts: list[tuple[str, dict[str, Any]]] = []
            for param in operation.get("parameters", []):
                if param["in"] == "query":
                    attempts.append((f"query {param['name']}", {
                        "url": plain, "params": {param["name"]: variant()}}))
                elif param["in"] == "path":
                    attempts.append((f"path {param['name']}", {"url": route.replace(
                        "{" + param["name"] + "}", variant())}))
            content = operation.get("requestBody", {}).get("content", {})
            for media, spec in content.items():
                for path, kind in _fields(spec["schema"], document):
                    pan = variant()
                    value: Any = int(rng.choice(PANS)) if kind == "integer" else pan
                    body = _body(path, value, kind)
                    sent = ({"json": body} if media == "application/json"
                            else {"data": {str(path[0]): pan}})
                    attempts.append((f"{media} {'.'.join(map(str, path))}",
                                     {"url": plain, **sent}))
            for label, request in attempts:
                tried += 1
                url = request.pop("url")
                headers["Idempotency-Key"] = uuid.uuid4().hex
                response = await shop.client.request(method.upper(), url, headers=headers,
                                                     **request)
                text = await response.text()
                if not _refused(response.status, json.loads(text) if text else {}):
                    not_refused.append(f"{method.upper()} {route} {label}: "
                                       f"{response.status} {text[:120]}")
                assert not leaks(text), f"{method} {route} {label} echoed the card number"
    assert tried > 60
    assert not_refused == [], "\n".join(not_refused)

    await _provider_payloads_are_redacted(shop, customer, rng)

    stored: dict[str, list[str]] = {}
    for table in ALL_TABLES:
        found = leaks(json.dumps(await table.select(), default=str))
        if found:
            stored[table._meta.tablename] = found
    assert stored == {}, f"card numbers stored in {stored}"
    assert [r.getMessage() for r in caplog.records if leaks(r.getMessage())] == []
    assert any("/v1/orders" in record.getMessage() for record in caplog.records)
    cassettes = {p.name: leaks(p.read_text()) for p in CASSETTES.glob("*.yaml")}
    assert {name: found for name, found in cassettes.items() if found} == {}
    verified = await (await shop.client.post("/v1/admin/evidence/verify",
                                             headers=admin)).json()
    assert verified["ok"] is True


async def _provider_payloads_are_redacted(shop: Any, auth: dict[str, str],
                                          rng: random.Random) -> None:
    """Card numbers a provider sends (in ids, types, any field) are acknowledged, and only
    a redacted copy is kept."""

    def variant() -> str:
        return typed(rng.choice(PANS), rng.choice(SEPARATORS), rng.choice(WRAPS))

    order = await shop.place(auth, ORDER)
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
    assert status == 200
    row = await Payment.select(Payment.provider_reference).where(
        Payment.order_id == order["id"]).first()
    events = [
        {"id": f"evt_{variant()}", "type": "payment.note", "created": int(time.time()),
         "data": {"reference": row["provider_reference"], "note": variant()}},
        {"id": f"evt_{uuid.uuid4().hex[:8]}", "type": f"payment.{variant()}",
         "created": int(time.time()), "data": {"reference": row["provider_reference"]}},
        {"id": f"evt_{uuid.uuid4().hex[:8]}", "type": "virtual_account.deposited",
         "created": int(time.time()),
         "data": {"reference": row["provider_reference"], "order_id": order["id"],
                  "status": "succeeded", "payer_note": f"paid with {variant()}",
                  "card": {"number": rng.choice(PANS), "cvc": "123"}}},
    ]
    for event in events:
        body = json.dumps(event).encode()
        response = await shop.client.post("/v1/webhooks/sandbox", data=body, headers={
            "Sandbox-Signature": sign("whsec_sandbox_payments_dev", body),
            "Content-Type": "application/json"})
        assert response.status == 200, await response.text()
        assert not leaks(await response.text())
    carrier = json.dumps({"id": f"trk_{variant()}", "type": "tracking.updated",
                          "created": int(time.time()),
                          "data": {"tracking_number": variant(), "status": "in_transit",
                                   "location": variant()}}).encode()
    response = await shop.client.post("/v1/webhooks/sandbox-express", data=carrier, headers={
        CARRIER_SIGNATURE: sign("whsec_sandbox_carrier_dev", carrier),
        "Content-Type": "application/json"})
    assert response.status < 500, await response.text()

    async def paid() -> bool:
        return (await shop.order(auth, order["id"]))["status"] != "awaiting_deposit"

    await eventually(paid, what="the deposit webhook to be applied")
