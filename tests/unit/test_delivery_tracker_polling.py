"""Polling Delivery Tracker: waits that grow, never past six hours, spread at random; the
events a poll cannot place (no time, a code we do not know) changing nothing; and what a
failed attempt or an exception is a problem of."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.shipping.delivery_tracker import KOREAN_TIME, update_of
from application.parcel_tracking import FollowPolicy, poll_wait
from domain.shipments import DeliveryProblem, ShipmentStatus

FIRST_POLL, LONGEST_POLL = FollowPolicy().first_poll, FollowPolicy().longest_poll


def next_poll_after(attempt: int, draw: Callable[[], float] = random.random) -> timedelta:
    return poll_wait(attempt, FIRST_POLL, LONGEST_POLL, draw)


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


def test_a_failed_attempt_and_an_exception_name_their_problem() -> None:
    at = "2026-12-01T10:00:00+09:00"
    failed = update_of("1", {"status": {"code": "ATTEMPT_FAIL"}, "time": at,
                             "description": "고객 요청으로 반송"})
    returned = update_of("1", {"status": {"code": "EXCEPTION"}, "time": at,
                               "description": "Returned to sender"})
    damaged = update_of("1", {"status": {"code": "EXCEPTION"}, "time": at,
                              "description": "parcel damaged in transit"})
    vague = update_of("1", {"status": {"code": "EXCEPTION"}, "time": at, "description": "지연"})
    # The code says a failed attempt, whatever its words; an exception says it in words only.
    assert failed is not None and failed.problem == DeliveryProblem.FAILED_ATTEMPT
    assert returned is not None and returned.problem == DeliveryProblem.RETURNED_TO_SENDER
    assert damaged is not None and damaged.problem == DeliveryProblem.DAMAGED
    assert vague is not None and vague.problem == DeliveryProblem.OTHER
    moving = update_of("1", {"status": {"code": "IN_TRANSIT"}, "time": at})
    assert moving is not None and moving.problem is None
