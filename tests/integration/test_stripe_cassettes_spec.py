"""The Stripe cassettes checked against Stripe's own OpenAPI description: every recorded
request names an operation Stripe has, sends only parameters it declares, pins the API version
and carries an idempotency key when it writes; and no cassette holds a key or a card number.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.payments.stripe import STRIPE_VERSION
from domain.redaction import redact_card_numbers
from tests.integration.stripe_scenarios import (
    CASSETTES,
    LOCAL_API_KEY,
    SCENARIOS,
    SPEC_PATH,
    load_yaml,
)

# --- the cassettes against Stripe's own description -------------------------------------------


@cache
def stripe_spec() -> dict[str, Any]:
    """The official description; where it is not at hand, the committed extract of the
    operations we call (tests/cassettes/extract_stripe_spec.py), copied from it verbatim."""
    if not SPEC_PATH.exists():
        subset: dict[str, Any] = json.loads((CASSETTES / "stripe_openapi_subset.json").read_text())
        return subset
    with SPEC_PATH.open("rb") as handle:
        spec: dict[str, Any] = load_yaml(handle)
    return spec


def test_the_committed_extract_matches_the_official_description() -> None:
    subset = json.loads((CASSETTES / "stripe_openapi_subset.json").read_text())
    if not SPEC_PATH.exists():
        pytest.skip(f"the official description is not at {SPEC_PATH}")
    full = stripe_spec()
    assert subset["info"]["version"] == full["info"]["version"]
    for path, item in subset["paths"].items():
        assert full["paths"][path] == item, path


def spec_operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    templates = sorted(spec["paths"], key=lambda template: template.count("{"))
    for template in templates:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        operation = spec["paths"][template].get(method.lower())
        if operation is not None and re.match(pattern, path):
            return dict(operation)
    return None


def recorded_requests() -> list[tuple[str, dict[str, Any]]]:
    requests = []
    for path in sorted(CASSETTES.glob("stripe_*.yaml")):
        for interaction in load_yaml(path.read_text())["interactions"]:
            requests.append((path.name, interaction["request"]))
    return requests


def form_of(body: Any) -> dict[str, str]:
    if body is None or body == "":
        return {}
    if isinstance(body, dict):
        return {str(k): str(v) for k, v in body.items()}
    text = body.decode() if isinstance(body, bytes) else str(body)
    return dict(parse_qsl(text, keep_blank_values=True))


def header(request: dict[str, Any], name: str) -> str | None:
    for key, values in (request.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(values[0] if isinstance(values, list) else values)
    return None


def test_the_pinned_version_is_the_spec_version() -> None:
    assert STRIPE_VERSION == stripe_spec()["info"]["version"]


def test_every_recorded_request_is_one_stripe_declares() -> None:
    spec = stripe_spec()
    requests = recorded_requests()
    assert len(requests) >= len(SCENARIOS)
    for cassette, request in requests:
        where = f"{cassette}: {request['method']} {request['uri']}"
        parts = urlsplit(request["uri"])
        operation = spec_operation(spec, request["method"], parts.path)
        assert operation is not None, f"{where}: no such operation in the spec"
        query_names = {p["name"] for p in operation.get("parameters", [])
                       if p.get("in") == "query"}
        for key, _ in parse_qsl(parts.query, keep_blank_values=True):
            assert key.split("[", 1)[0] in query_names, f"{where}: undeclared query {key}"
        form = form_of(request.get("body"))
        content = (operation.get("requestBody") or {}).get("content", {})
        schema = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
        properties = schema.get("properties") or {}
        for key, value in form.items():
            name = key.split("[", 1)[0]
            assert name in properties, f"{where}: undeclared parameter {key}"
            enum = properties[name].get("enum")
            assert name != key or not enum or value in enum, f"{where}: {key}={value}"
        for name in schema.get("required") or []:
            assert any(key.split("[", 1)[0] == name for key in form), f"{where}: no {name}"
        assert header(request, "Stripe-Version") == spec["info"]["version"], where
        if request["method"] == "POST":
            assert header(request, "Idempotency-Key"), f"{where}: no Idempotency-Key"
            assert not form or isinstance(request.get("body"), dict | str | bytes)


def test_no_cassette_holds_a_key_a_card_number_or_a_security_code() -> None:
    cassettes = sorted(CASSETTES.glob("stripe_*.yaml"))
    assert cassettes
    for path in cassettes:
        text = path.read_text()
        assert LOCAL_API_KEY not in text, path.name
        assert not re.search(r"\b(sk|rk)_(test|live)_[0-9A-Za-z]{6,}", text), path.name
        assert not re.search(r"\bwhsec_[0-9A-Za-z]{6,}", text), path.name
        assert "Bearer [filtered]" in text, path.name
        assert "_secret_" not in text, path.name  # client secrets are filtered too
        # A card number: 13-19 digits (separators allowed) passing the Luhn check.
        assert redact_card_numbers(text) == text, f"{path.name} holds a card number"
        assert not re.search(r"(?i)\b(cvc|cvv|cvc2)\]?['\"]?\s*[:=]\s*['\"]?\d{3,4}\b", text), \
            f"{path.name} holds a security code"
    for cassette, request in recorded_requests():
        for key in form_of(request.get("body")):
            assert not re.search(r"\[(number|cvc|exp_month|exp_year)\]", key), (cassette, key)
