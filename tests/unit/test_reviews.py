"""The fraud review aggregate: opened with its reasons, decided once, by someone, with why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import InvalidTransition
from domain.events import OrderHeld, ReviewDecided
from domain.reviews import FraudReview, ReviewStatus

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def test_opening_a_review_holds_the_order_with_its_reasons() -> None:
    review = FraudReview.open("ord_1", "cus_1", 0.72, ["velocity"], NOW)
    assert review.status == ReviewStatus.PENDING
    assert review.events == [OrderHeld("ord_1", "cus_1", 0.72, ("velocity",))]


def test_a_decision_records_who_when_and_why_once() -> None:
    review = FraudReview.open("ord_1", "cus_1", 0.72, ["velocity"], NOW)
    review.events.clear()
    assert review.decide(approve=False, by="adm_1", note="stolen card " * 60, now=NOW)
    assert (review.status, review.decided_by, review.decided_at) == ("rejected", "adm_1", NOW)
    assert len(review.note) == 500
    assert review.events == [ReviewDecided("ord_1", "cus_1", "rejected", "adm_1")]
    assert not review.decide(approve=False, by="adm_2", note="", now=NOW)  # a repeat
    assert review.decided_by == "adm_1"
    with pytest.raises(InvalidTransition, match="already rejected"):
        review.decide(approve=True, by="adm_2", note="", now=NOW)
