"""An Idempotency-Key is bound to the endpoint and the JSON content of its first request."""

from __future__ import annotations

from application.idempotency import Fingerprint, canonical_json

PAYMENTS = "/v1/orders/{id}/payments"


def test_the_same_content_however_encoded_is_the_same_request() -> None:
    first = Fingerprint.of("POST", PAYMENTS, {"id": "ord_1"},
                           b'{"payment_method": "pm_x", "provider": "sandbox"}')
    again = Fingerprint.of("post", PAYMENTS, {"id": "ord_1"},
                           b'{\n  "provider":"sandbox",\n  "payment_method":"pm_x"\n}\n')
    assert first == again
    assert first.target == "POST /v1/orders/ord_1/payments"


def test_another_endpoint_or_another_body_is_another_request() -> None:
    body = b'{"payment_method": "pm_x"}'
    first = Fingerprint.of("POST", PAYMENTS, {"id": "ord_1"}, body)
    elsewhere = Fingerprint.of("POST", PAYMENTS, {"id": "ord_2"}, body)
    assert elsewhere.target != first.target and elsewhere.body_hash == first.body_hash
    other = Fingerprint.of("POST", PAYMENTS, {"id": "ord_1"}, b'{"payment_method": "pm_y"}')
    assert other.target == first.target and other.body_hash != first.body_hash


def test_canonical_json_keeps_what_is_not_json_as_it_is() -> None:
    assert canonical_json(b'{"b": 1, "a": "\xc3\xa9"}') == '{"a":"é","b":1}'.encode()
    assert canonical_json(b"not json") == b"not json"
    assert canonical_json(b"") == b"null"
    deep = b"[" * 100_000 + b"]" * 100_000
    assert canonical_json(deep) == deep
