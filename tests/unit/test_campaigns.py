"""Campaign rules: the audience, quiet hours, the rate limit's batches, the state machine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.messaging.rendering import PARAMS as TEMPLATE_PARAMS
from domain.campaigns import (
    Audience,
    Campaign,
    CampaignStatus,
    Candidate,
    batch_size,
    in_audience,
    message_id,
    quiet_until,
)
from domain.errors import DomainError, InvalidTransition
from domain.messages import MESSAGE_TYPES, Channel

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
EMAIL_OK = {"marketing_email": True}


def candidate(**changes: object) -> Candidate:
    values: dict[str, object] = {"customer_id": "cus_1", "consents": EMAIL_OK,
                                 "jurisdiction": "KR", "language": "ko",
                                 "time_zone": "Asia/Seoul", "last_order_at": NOW}
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


def campaign(**changes: object) -> Campaign:
    values: dict[str, object] = {"campaign_id": "cmp_1", "name": "Winter tea",
                                 "channel": Channel.EMAIL, "template": "promotion",
                                 "audience": Audience(),
                                 "params": {"title": "Tea", "message": "20% off"},
                                 "created_by": "adm_1", "now": NOW}
    values.update(changes)
    return Campaign.define(**values)  # type: ignore[arg-type]


def test_the_channel_s_marketing_consent_is_always_required() -> None:
    assert in_audience(candidate(), Audience(), Channel.EMAIL)
    assert not in_audience(candidate(), Audience(), Channel.SMS)
    assert not in_audience(candidate(consents={"marketing_email": False}), Audience(),
                           Channel.EMAIL)
    assert not in_audience(candidate(consents={}), Audience(), Channel.EMAIL)


def test_criteria_narrow_the_audience() -> None:
    assert in_audience(candidate(), Audience(("KR",), ("ko",)), Channel.EMAIL)
    assert not in_audience(candidate(), Audience(("EU",)), Channel.EMAIL)
    assert not in_audience(candidate(), Audience(languages=("en",)), Channel.EMAIL)
    since = Audience(ordered_since=date(2026, 12, 2))
    assert in_audience(candidate(), since, Channel.EMAIL)
    assert not in_audience(candidate(last_order_at=NOW - timedelta(days=1)), since,
                           Channel.EMAIL)
    assert not in_audience(candidate(last_order_at=None), since, Channel.EMAIL)


def test_the_audience_survives_its_stored_form() -> None:
    audience = Audience(("KR", "EU"), ("ko",), date(2026, 6, 1))
    assert Audience.from_dict(audience.as_dict()) == audience
    assert Audience.from_dict({}) == Audience()


def test_daytime_recipient_time_sends_now() -> None:
    assert quiet_until(candidate(), NOW) is None  # 12:00 in Seoul


def test_quiet_hours_wait_for_eight_in_the_morning_recipient_time() -> None:
    at_22_seoul = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert quiet_until(candidate(), at_22_seoul) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    at_7_seoul = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)  # 07:00 on the 3rd
    assert quiet_until(candidate(), at_7_seoul) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    at_8_seoul = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert quiet_until(candidate(), at_8_seoul) is None
    at_21_seoul = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert quiet_until(candidate(), at_21_seoul) is not None


def test_night_time_consent_lifts_quiet_hours() -> None:
    at_22_seoul = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    night = candidate(consents={**EMAIL_OK, "marketing_night": True})
    assert quiet_until(night, at_22_seoul) is None


def test_the_time_zone_falls_back_to_the_jurisdiction_then_utc() -> None:
    at_22_seoul = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 13:00 UTC
    assert quiet_until(candidate(time_zone=""), at_22_seoul) is not None
    assert quiet_until(candidate(time_zone="", jurisdiction="EU"), at_22_seoul) is None
    assert quiet_until(candidate(time_zone="Not/AZone", jurisdiction="EU"), at_22_seoul) is None
    new_york = candidate(time_zone="America/New_York", jurisdiction="default")
    assert quiet_until(new_york, datetime(2026, 12, 3, 3, 0, tzinfo=UTC)) == datetime(
        2026, 12, 3, 13, 0, tzinfo=UTC)  # 22:00 → 08:00 EST


def test_a_batch_is_the_run_s_share_of_the_minute_within_what_is_left() -> None:
    five = timedelta(seconds=5)
    assert batch_size(600, 0, five, 200) == 50
    assert batch_size(600, 580, five, 200) == 20
    assert batch_size(600, 600, five, 200) == 0
    assert batch_size(600, 700, five, 200) == 0
    assert batch_size(60_000, 0, five, 200) == 200
    assert batch_size(6, 0, five, 200) == 1  # a slow channel still moves
    assert batch_size(60, 0, timedelta(minutes=2), 200) == 60


def test_a_campaign_moves_only_forward_through_its_states() -> None:
    cmp = campaign()
    assert cmp.status == CampaignStatus.DRAFT and not cmp.due(NOW)
    with pytest.raises(InvalidTransition):
        cmp.start(NOW)
    cmp.schedule(NOW - timedelta(hours=1), NOW)
    assert cmp.send_at == NOW and cmp.due(NOW)
    cmp.schedule(NOW + timedelta(hours=1), NOW)  # moved later
    assert not cmp.due(NOW)
    cmp.unschedule()
    assert cmp.status == CampaignStatus.DRAFT and cmp.send_at is None
    cmp.schedule(NOW, NOW)
    cmp.start(NOW)
    assert cmp.status == CampaignStatus.SENDING and cmp.started_at == NOW
    with pytest.raises(InvalidTransition):
        cmp.schedule(NOW, NOW)
    cmp.finish(NOW)
    assert cmp.final and cmp.finished_at == NOW
    with pytest.raises(InvalidTransition, match="a done campaign cannot become cancelled"):
        cmp.cancel(NOW)


def test_a_campaign_can_be_cancelled_until_it_is_done() -> None:
    for steps in ([], ["schedule"], ["schedule", "start"]):
        cmp = campaign()
        for step in steps:
            cmp.schedule(NOW, NOW) if step == "schedule" else cmp.start(NOW)
        cmp.cancel(NOW)
        assert cmp.status == CampaignStatus.CANCELLED and cmp.final


def test_a_campaign_sends_a_promotional_template_on_one_of_its_channels() -> None:
    with pytest.raises(DomainError, match="not a promotional message"):
        campaign(template="order_paid")
    with pytest.raises(DomainError, match="give the campaign a name"):
        campaign(name="  ")
    with pytest.raises(DomainError, match="params may not set message_id"):
        campaign(params={"message_id": "mine"})
    assert campaign(channel=Channel.PUSH).channel == Channel.PUSH


def test_a_campaign_is_asked_for_every_param_its_template_needs() -> None:
    for kind in MESSAGE_TYPES.values():
        if kind.promotional:
            assert set(TEMPLATE_PARAMS[kind.template]) <= set(kind.needs), kind.template


def test_a_promotion_is_defined_with_the_text_its_recipients_read() -> None:
    with pytest.raises(DomainError, match="needs title, message"):
        campaign(params={"headline": "Tea"})
    with pytest.raises(DomainError, match="needs message"):
        campaign(params={"title": "Tea", "message": "  "})
    assert campaign().params == {"title": "Tea", "message": "20% off"}


def test_one_message_id_per_campaign_and_customer() -> None:
    assert message_id("cmp_1", "cus_9") == "cmp:cmp_1:cus_9"
