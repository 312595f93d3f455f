"""Polling Delivery Tracker: waits that grow, never past six hours, spread at random; and the
events a poll cannot place (no time, a code we do not know) changing nothing."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.shipping.delivery_tracker import (
    FIRST_POLL,
    KOREAN_TIME,
    LONGEST_POLL,
    next_poll_after,
    update_of,
)
from domain.shipments import ShipmentStatus


@given(st.integers(-3, 10_000), st.floats(0, 1, exclude_max=True))
def test_a_wait_is_between_half_and_all_of_its_ceiling(attempt: int, drawn: float) -> None:
    # Past 2**6 the ceiling is six hours whatever the attempt: 10 keeps the arithmetic small.
    ceiling = min(LONGEST_POLL, FIRST_POLL * 2 ** min(max(attempt, 0), 10))
    wait = next_poll_after(attempt, lambda: drawn)
    assert ceiling / 2 <= wait <= ceiling <= timedelta(hours=6)


def test_the_waits_double_then_stay_at_six_hours() -> None:
    longest = [next_poll_after(n, lambda: 1.0) for n in range(8)]
    assert [w / timedelta(minutes=1) for w in longest] == [10, 20, 40, 80, 160, 320, 360, 360]
    shortest = [next_poll_after(n, lambda: 0.0) for n in range(3)]
    assert shortest == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]


def test_the_waits_are_spread_at_random() -> None:
    assert len({next_poll_after(3) for _ in range(20)}) > 1


def test_an_event_without_a_usable_time_or_with_an_unknown_code_changes_nothing() -> None:
    status = {"code": "DELIVERED"}
    assert update_of("1", {"status": status, "time": None}) is None
    assert update_of("1", {"status": status, "time": "yesterday"}) is None
    assert update_of("1", {"status": {"code": "LOST_IN_SPACE"}, "time": "2026-12-01T10:00Z"}) \
        is None


def test_a_time_without_its_offset_is_korean_time() -> None:
    update = update_of("1", {"status": {"code": "IN_TRANSIT"}, "time": "2026-12-01T10:00:00"})
    assert update is not None and update.status == ShipmentStatus.IN_TRANSIT
    assert update.occurred_at.tzinfo == KOREAN_TIME


def test_an_exception_without_a_description_says_its_status_name_or_code() -> None:
    named = update_of("1", {"status": {"code": "EXCEPTION", "name": "반송"},
                            "time": "2026-12-01T10:00:00+09:00"})
    bare = update_of("1", {"status": {"code": "ATTEMPT_FAIL"},
                           "time": "2026-12-01T10:00:00+09:00"})
    assert named is not None and named.detail == "반송"
    assert bare is not None and bare.detail == "attempt fail"
