"""The Korean carriers' catalogue: tracking numbers cleaned of what sellers type around them,
checked against the lengths each carrier issues, refused with a message that says what fits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.carriers import KOREAN_CARRIERS, carrier, normalise_tracking_number
from domain.errors import DomainError


def lotte_number(first_eleven: int) -> str:
    return f"{first_eleven:011d}{first_eleven % 7}"


def test_the_five_korean_carriers_have_english_and_korean_names() -> None:
    assert sorted(KOREAN_CARRIERS) == ["kr.cjlogistics", "kr.epost", "kr.hanjin", "kr.logen",
                                       "kr.lotte"]
    for known in KOREAN_CARRIERS.values():
        assert known.name_en and known.name_ko and known.lengths


# As sellers type them, by carrier.
TYPED = {
    "kr.cjlogistics": ["6071-2345-6789", "1234567890"],
    "kr.epost": ["60123 4567 8901"],
    "kr.hanjin": ["4123-4567-8901", "4123456789", "41234567890123"],
    "kr.lotte": ["2345-6789-0126"],
    "kr.logen": [" 123-4567-8901 "],
}


@pytest.mark.parametrize(("carrier_id", "raw"), [
    (carrier_id, raw) for carrier_id, typed in TYPED.items() for raw in typed])
def test_hyphens_and_spaces_are_dropped(carrier_id: str, raw: str) -> None:
    assert normalise_tracking_number(carrier_id, raw) == raw.replace("-", "").replace(" ", "")


def test_an_unknown_carrier_is_refused_with_the_known_ones() -> None:
    with pytest.raises(DomainError, match=r"unknown carrier 'kr\.nowhere': choose one of "
                                          r"kr\.cjlogistics, kr\.epost, kr\.hanjin, kr\.logen, "
                                          r"kr\.lotte$"):
        normalise_tracking_number("kr.nowhere", "1234567890")


@pytest.mark.parametrize(("carrier_id", "raw", "expected"), [
    ("kr.cjlogistics", "12345678901", "10 or 12 digits"),
    ("kr.epost", "601234567890", "13 digits"),
    ("kr.hanjin", "12345678901", "10 or 12 or 14 digits"),
    ("kr.logen", "1234567890A", "11 digits"),
    ("kr.lotte", "234567890122", "12 digits, the last one a check digit"),
    # Full-width digits, as a Korean keyboard can type them, are not the carrier's.
    ("kr.epost", "".join(chr(0xFF10 + int(d)) for d in "6012345678901"), "13 digits"),
])
def test_a_malformed_number_is_refused_with_the_expected_format(
        carrier_id: str, raw: str, expected: str) -> None:
    with pytest.raises(DomainError) as refused:
        normalise_tracking_number(carrier_id, raw)
    assert f"expected {expected} (hyphens and spaces are ignored)" in refused.value.detail
    assert carrier(carrier_id).name_en in refused.value.detail


@given(st.sampled_from(sorted(KOREAN_CARRIERS)), st.data())
def test_any_number_of_a_length_the_carrier_issues_is_accepted_however_typed(
        carrier_id: str, data: st.DataObject) -> None:
    known = KOREAN_CARRIERS[carrier_id]
    length = data.draw(st.sampled_from(known.lengths))
    if known.check_digit_mod7:
        number = lotte_number(data.draw(st.integers(0, 10**11 - 1)))
    else:
        number = data.draw(st.text("0123456789", min_size=length, max_size=length))
    separators = data.draw(st.lists(st.sampled_from(["", "-", " "]), min_size=len(number),
                                    max_size=len(number)))
    typed = "".join(digit + sep for digit, sep in zip(number, separators, strict=True))
    assert normalise_tracking_number(carrier_id, typed) == number


@given(st.sampled_from(sorted(KOREAN_CARRIERS)), st.text("0123456789", max_size=20))
def test_a_number_of_another_length_is_always_refused(carrier_id: str, number: str) -> None:
    if len(number) in KOREAN_CARRIERS[carrier_id].lengths:
        return
    with pytest.raises(DomainError):
        normalise_tracking_number(carrier_id, number)


@given(st.integers(0, 10**11 - 1), st.integers(1, 6))
def test_a_lotte_number_with_a_wrong_check_digit_is_refused(first: int, shift: int) -> None:
    wrong = f"{first:011d}{(first % 7 + shift) % 10}"
    if int(wrong[-1]) == first % 7:
        return
    with pytest.raises(DomainError, match="check digit"):
        normalise_tracking_number("kr.lotte", wrong)
