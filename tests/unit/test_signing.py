"""Timestamped HMAC webhook signatures checked against a rotating key ring."""

from __future__ import annotations

import re
import time

import pytest

from adapters.signing import sign, verify
from domain.errors import InvalidSignature

BODY = b'{"id":"evt_1","type":"payment.succeeded"}'
TS = 1_714_550_400
NEW = "whsec_new_0123456789abcdef"
OLD = "whsec_old_fedcba9876543210"


def v1(header: str) -> str:
    match = re.fullmatch(r"t=\d+,v1=([0-9a-f]{64})", header)
    assert match, header
    return match.group(1)


def test_sign_format() -> None:
    header = sign(NEW, BODY, timestamp=TS)
    assert header.startswith(f"t={TS},v1=")
    assert len(v1(header)) == 64
    assert sign(NEW, BODY, timestamp=TS) == header
    assert sign(OLD, BODY, timestamp=TS) != header
    assert sign(NEW, BODY, timestamp=TS + 1) != header


def test_sign_then_verify() -> None:
    verify(sign(NEW, BODY, timestamp=TS), BODY, [NEW], now=TS)


def test_sign_uses_the_current_time_by_default() -> None:
    header = sign(NEW, BODY)
    stamped = int(header.split(",")[0].removeprefix("t="))
    assert abs(stamped - time.time()) < 5
    verify(header, BODY, [NEW])


def test_tampered_body_is_rejected() -> None:
    header = sign(NEW, BODY, timestamp=TS)
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(header, BODY.replace(b"succeeded", b"failed"), [NEW], now=TS)


def test_wrong_secret_is_rejected() -> None:
    header = sign(OLD, BODY, timestamp=TS)
    with pytest.raises(InvalidSignature):
        verify(header, BODY, [NEW], now=TS)


def test_empty_key_ring_rejects_everything() -> None:
    with pytest.raises(InvalidSignature):
        verify(sign(NEW, BODY, timestamp=TS), BODY, [], now=TS)


def test_tampered_timestamp_is_rejected() -> None:
    header = sign(NEW, BODY, timestamp=TS).replace(f"t={TS}", f"t={TS + 10}")
    with pytest.raises(InvalidSignature):
        verify(header, BODY, [NEW], now=TS)


@pytest.mark.parametrize("offset", [-300, 0, 299, 300])
def test_timestamp_within_tolerance(offset: int) -> None:
    verify(sign(NEW, BODY, timestamp=TS), BODY, [NEW], now=TS + offset)


@pytest.mark.parametrize("offset", [301, 3600, -301, -3600])
def test_timestamp_outside_tolerance(offset: int) -> None:
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(sign(NEW, BODY, timestamp=TS), BODY, [NEW], now=TS + offset)


def test_custom_tolerance() -> None:
    header = sign(NEW, BODY, timestamp=TS)
    verify(header, BODY, [NEW], tolerance_seconds=10, now=TS + 10)
    with pytest.raises(InvalidSignature):
        verify(header, BODY, [NEW], tolerance_seconds=10, now=TS + 11)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        verify(header, BODY, [NEW], now=TS)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"t={TS}",
        "v1=" + "0" * 64,
        "t=abc,v1=" + "0" * 64,
        "t=-5,v1=" + "0" * 64,
        "t=,v1=" + "0" * 64,
        f"t={TS},t={TS},v1=" + "0" * 64,
        f"t={TS},v0=" + "0" * 64,
        ",,,",
    ],
)
def test_malformed_header(header: str) -> None:
    with pytest.raises(InvalidSignature, match="malformed"):
        verify(header, BODY, [NEW], now=TS)


def test_non_decimal_digit_timestamp_is_malformed() -> None:
    with pytest.raises(InvalidSignature):
        verify("t=\u00b2,v1=" + "0" * 64, BODY, [NEW], now=TS)


def test_header_tolerates_spaces() -> None:
    header = sign(NEW, BODY, timestamp=TS).replace(",", ", ")
    verify(header, BODY, [NEW], now=TS)


def test_rotation_old_secret_still_verifies() -> None:
    verify(sign(OLD, BODY, timestamp=TS), BODY, [NEW, OLD], now=TS)
    verify(sign(NEW, BODY, timestamp=TS), BODY, [NEW, OLD], now=TS)


def test_header_with_two_v1_signatures_verifies() -> None:
    header = f"t={TS},v1={v1(sign(NEW, BODY, timestamp=TS))},v1={v1(sign(OLD, BODY, timestamp=TS))}"
    verify(header, BODY, [NEW], now=TS)
    verify(header, BODY, [OLD], now=TS)
    verify(header, BODY, [NEW, OLD], now=TS)
    with pytest.raises(InvalidSignature):
        verify(header, BODY, ["whsec_unrelated"], now=TS)
