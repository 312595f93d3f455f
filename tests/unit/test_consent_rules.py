"""Consent and the Korean rules for promotional messages; delivery statuses; contact details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import consent_rules as rules
from domain.contact import language_of, time_zone_of, valid_phone, valid_time_zone
from domain.deliveries import address_key, masked, moves_forward
from domain.errors import DomainError
from domain.messages import Channel, DeliveryStatus

SEOUL = ZoneInfo("Asia/Seoul")
S = DeliveryStatus


def _seoul(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=SEOUL)


def _decide(local: datetime, *, promotional: bool = True, korean: bool = True,
            **consents: bool) -> rules.Verdict:
    return rules.decide(promotional=promotional, channel=Channel.EMAIL, korean=korean,
                        consents=consents, local_now=local)


def test_transactional_messages_need_no_consent_at_any_hour() -> None:
    verdict = _decide(_seoul(23), promotional=False)
    assert verdict.send and verdict.consent == () and not verdict.labelled


def test_a_promotion_needs_the_opt_in_of_its_channel() -> None:
    assert _decide(_seoul(12)).reason == "no_consent"
    assert _decide(_seoul(12), marketing_sms=True).reason == "no_consent"
    verdict = _decide(_seoul(12), marketing_email=True)
    assert verdict.send and verdict.consent == ("marketing_email",) and verdict.labelled


@pytest.mark.parametrize(("hour", "minute", "quiet"), [
    (20, 59, False), (21, 0, True), (23, 59, True), (0, 0, True), (7, 59, True),
    (8, 0, False)])
def test_quiet_hours_run_from_21_to_8(hour: int, minute: int, quiet: bool) -> None:
    verdict = _decide(_seoul(hour, minute), marketing_email=True)
    assert verdict.send is not quiet
    if quiet:
        assert verdict.reason == "quiet_hours"
        assert verdict.not_before is not None and verdict.not_before.hour == 8
        assert verdict.not_before > _seoul(hour, minute)
        assert verdict.not_before - _seoul(hour, minute) <= timedelta(hours=11)


def test_night_consent_lifts_quiet_hours_and_is_recorded_as_relied_on() -> None:
    verdict = _decide(_seoul(22), marketing_email=True, marketing_night=True)
    assert verdict.send and verdict.consent == ("marketing_email", "marketing_night")


def test_quiet_hours_are_a_korean_rule() -> None:
    verdict = _decide(_seoul(22), korean=False, marketing_email=True)
    assert verdict.send and not verdict.labelled


def test_the_next_morning_is_the_same_day_after_midnight_and_the_next_day_before() -> None:
    assert rules.next_morning(_seoul(2)) == _seoul(8)
    assert rules.next_morning(_seoul(22)) == _seoul(8) + timedelta(days=1)


def test_the_advertising_mark_goes_first_in_an_emails_subject_or_a_texts_body() -> None:
    assert rules.marked(Channel.EMAIL, "Sale", "Tea") == ("(광고) Sale", "Tea")
    assert rules.marked(Channel.SMS, "", "Tea sale") == ("", "(광고) Tea sale")
    assert rules.marked(Channel.PUSH, "(광고) Sale", "(광고) Tea") == ("(광고) Sale",
                                                                     "(광고) Tea")
    footer = rules.footer(sender="Mall", opt_out="https://m/u", korean=True)
    assert "Mall" in footer and "수신거부" in footer and footer.endswith("https://m/u")


def test_an_opt_in_is_confirmed_every_two_years() -> None:
    granted = datetime(2024, 1, 1, tzinfo=UTC)
    assert not rules.reminder_due(granted, None, granted + timedelta(days=729))
    assert rules.reminder_due(granted, None, granted + timedelta(days=730))
    reminded = granted + timedelta(days=730)
    assert not rules.reminder_due(granted, reminded, reminded + timedelta(days=1))


@pytest.mark.parametrize(("current", "new", "moves"), [
    (S.SENDING, S.QUEUED, True), (S.QUEUED, S.SENT, True), (S.SENT, S.DELIVERED, True),
    (S.DELIVERED, S.SENT, False), (S.SENT, S.QUEUED, False), (S.SENT, S.SENT, False),
    (S.SENT, S.FAILED, True), (S.DELIVERED, S.FAILED, False),
    (S.DELIVERED, S.BOUNCED, True), (S.FAILED, S.DELIVERED, False),
    (S.BOUNCED, S.FAILED, False), (S.SUPPRESSED, S.SENT, False)])
def test_statuses_only_move_forward(current: S, new: S, moves: bool) -> None:
    assert moves_forward(current, new) is moves


def test_addresses_are_masked_and_their_keys_ignore_an_emails_case() -> None:
    assert masked("email", "ada@example.com") == "a***@example.com"
    assert masked("sms", "+821012345678") == "+82****78"
    assert address_key("email", "Ada@Example.com") == address_key("email", "ada@example.com")
    assert address_key("email", "a@b.co") != address_key("sms", "a@b.co")


def test_contact_details_are_checked_and_default_from_the_country() -> None:
    assert valid_phone("+82 10-1234-5678") == "+821012345678"
    assert valid_phone("") == ""
    for bad in ("01012345678", "+0123456789", "+82 10 1234 5678 999 999 9"):
        with pytest.raises(DomainError):
            valid_phone(bad)
    with pytest.raises(DomainError):
        valid_time_zone("Mars/Olympus")
    assert language_of("", "KR") == "ko" and language_of("", "EU") == "en"
    assert language_of("en", "KR") == "en"
    assert time_zone_of("", "KR").key == "Asia/Seoul" and time_zone_of("", "default").key == "UTC"
