"""The in-house fraud screen: each rule fires with its reason, and not just below its threshold."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from adapters.fraud import (
    W_ABOVE_OWN_HISTORY,
    W_AMOUNT_ANOMALY,
    W_BILLING_COUNTRY_MISMATCH,
    W_FAILED_LOGINS,
    W_FAILED_PAYMENTS,
    W_IP_COUNTRY_MISMATCH,
    W_NEW_ACCOUNT_HIGH_VALUE,
    W_VELOCITY_DAY,
    W_VELOCITY_HOUR,
    InHouseFraudScreen,
)
from application.ports import FraudScreen, RiskAssessment, RiskSignals
from domain.money import Money
from domain.orders import Order, OrderLine, ShippingAddress

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OLD_ACCOUNT = NOW - timedelta(days=400)
HIGH_VALUE = {"KRW": 2_000_000, "USD": 150_000}
RECIPIENT, STREET, CUSTOMER = "Kim Minji", "12 Teheran-ro", "c-kim"

_ids = iter(range(1, 1_000_000))


def address(country: str = "KR") -> ShippingAddress:
    return ShippingAddress(RECIPIENT, STREET, "Apt 301", "Seoul", "06234", country)


def order(amount: int = 30_000, *, currency: str = "KRW", at: datetime = NOW,
          country: str = "KR", paid: bool = False) -> Order:
    placed = Order.place(
        order_id=f"o-{next(_ids)}", customer_id=CUSTOMER, currency=currency,
        lines=[OrderLine("SKU-1", "Mug", "seller-a", 1, Money(amount, currency))],
        shipping_address=address(country), carrier="sandbox-carrier", note="", now=at,
    )
    if paid:
        placed.start_payment()
        placed.mark_paid()
    return placed


def signals(history: list[Order] | None = None, **overrides: object) -> RiskSignals:
    fields: dict[str, object] = {"customer_history": history or [],
                                 "account_created_at": OLD_ACCOUNT}
    fields.update(overrides)
    return RiskSignals(**fields)  # type: ignore[arg-type]


def screen_of(review: float = 0.5, reject: float = 0.95) -> InHouseFraudScreen:
    return InHouseFraudScreen(review, HIGH_VALUE, reject_threshold=reject)


async def assess(the_order: Order, the_signals: RiskSignals | None = None,
                 screen: InHouseFraudScreen | None = None) -> RiskAssessment:
    return await (screen or screen_of()).screen(the_order, the_signals or signals())


def mall_history(n: int = 1000) -> list[tuple[str, int]]:
    rng = random.Random(7)
    return [("KRW", round(rng.lognormvariate(math.log(30_000), 0.6))) for _ in range(n)]


def assert_only(risk: RiskAssessment, weight: float, *fragments: str) -> None:
    """Exactly one rule fired, with `weight` and a reason holding every fragment."""
    assert len(risk.reasons) == 1, risk.reasons
    assert risk.score == weight
    for fragment in fragments:
        assert fragment in risk.reasons[0]


def assert_clean(risk: RiskAssessment) -> None:
    assert risk == RiskAssessment(0.0, "approve", [])


# --- a clean order -----------------------------------------------------------------------------

async def test_a_clean_order_scores_zero_and_is_approved() -> None:
    screen = screen_of()
    await screen.learn(mall_history())
    history = [order(25_000, at=NOW - timedelta(days=d), paid=True) for d in (3, 10, 40)]
    risk = await screen.screen(order(32_000), signals(
        history, ip_country="KR", billing_country="KR", failed_logins_24h=1,
        failed_payments_24h=1))
    assert_clean(risk)


async def test_it_honours_the_fraud_screen_port() -> None:
    screen: FraudScreen = screen_of()
    await screen.learn([])
    assert_clean(await screen.screen(order(), signals()))


# --- amount far above the customer's own history ----------------------------------------------

def earlier_paid(*amounts: int) -> list[Order]:
    return [order(a, at=NOW - timedelta(days=5 + i), paid=True) for i, a in enumerate(amounts)]


async def test_amount_far_above_the_customers_history_fires() -> None:
    risk = await assess(order(50_001), signals(earlier_paid(10_000, 10_000)))
    assert_only(risk, W_ABOVE_OWN_HISTORY, "5.0x the customer's average", "10000 KRW",
                "2 earlier orders")


async def test_five_times_the_average_does_not_fire() -> None:
    assert_clean(await assess(order(50_000), signals(earlier_paid(10_000, 10_000))))


async def test_one_earlier_order_is_too_few_to_judge() -> None:
    assert_clean(await assess(order(500_000), signals(earlier_paid(10_000))))


async def test_only_paid_orders_in_the_same_currency_count() -> None:
    unpaid = [order(10_000, at=NOW - timedelta(days=3)), order(10_000, at=NOW - timedelta(days=4))]
    dollars = [order(100, currency="USD", at=NOW - timedelta(days=d), paid=True) for d in (6, 7)]
    assert_clean(await assess(order(500_000), signals([*unpaid, *dollars])))


async def test_the_order_itself_in_the_history_is_not_counted() -> None:
    current = order(500_000)
    assert_clean(await assess(current, signals([current, *earlier_paid(10_000)])))


# --- velocity -------------------------------------------------------------------------------------

def placed_before(*minutes: int) -> list[Order]:
    return [order(at=NOW - timedelta(minutes=m)) for m in minutes]


async def test_many_orders_within_an_hour_fire() -> None:
    risk = await assess(order(), signals(placed_before(5, 20, 40, 60)))
    assert_only(risk, W_VELOCITY_HOUR, "5 orders by this customer within one hour")


async def test_four_orders_within_an_hour_do_not_fire() -> None:
    assert_clean(await assess(order(), signals(placed_before(5, 20, 40, 61))))


async def test_many_orders_within_a_day_fire() -> None:
    risk = await assess(order(), signals(placed_before(*range(120, 120 * 10, 120))))
    assert_only(risk, W_VELOCITY_DAY, "10 orders by this customer within one day")


async def test_nine_orders_within_a_day_do_not_fire() -> None:
    history = placed_before(*range(120, 120 * 9, 120), 24 * 60 + 1)
    assert_clean(await assess(order(), signals(history)))


async def test_a_burst_fires_both_windows() -> None:
    risk = await assess(order(), signals(placed_before(*range(1, 10))))
    assert risk.score == W_VELOCITY_HOUR + W_VELOCITY_DAY
    assert len(risk.reasons) == 2


async def test_orders_after_the_screened_one_are_not_counted() -> None:
    later = [order(at=NOW + timedelta(minutes=m)) for m in range(1, 10)]
    assert_clean(await assess(order(), signals(later)))


# --- mismatched countries ---------------------------------------------------------------------

@pytest.mark.parametrize(("signal", "country", "weight", "reason"), [
    ("ip_country", "us", W_IP_COUNTRY_MISMATCH, "IP address is in a different country"),
    ("billing_country", "JP", W_BILLING_COUNTRY_MISMATCH, "billing country differs"),
])
async def test_a_country_other_than_shipping_fires(signal: str, country: str, weight: float,
                                                   reason: str) -> None:
    risk = await assess(order(country="KR"), signals(**{signal: country}))
    assert_only(risk, weight, reason)


@pytest.mark.parametrize(("signal", "country"), [
    ("ip_country", "kr "), ("ip_country", None), ("ip_country", ""),  # in another case
    ("billing_country", "kr"), ("billing_country", None),
])
async def test_a_country_matching_shipping_or_unknown_does_not_fire(signal: str,
                                                                    country: str | None) -> None:
    assert_clean(await assess(order(country="KR"), signals(**{signal: country})))


async def test_two_mismatched_countries_reach_review() -> None:
    risk = await assess(order(country="KR"), signals(ip_country="US", billing_country="US"))
    assert risk.score == 0.5
    assert risk.decision == "review"
    assert len(risk.reasons) == 2


# --- failed attempts --------------------------------------------------------------------------

async def test_three_failed_logins_fire() -> None:
    risk = await assess(order(), signals(failed_logins_24h=3))
    assert_only(risk, W_FAILED_LOGINS, "3 failed logins in the last 24 hours")
    assert risk.decision == "approve"  # a weak signal alone


async def test_two_failed_logins_do_not_fire() -> None:
    assert_clean(await assess(order(), signals(failed_logins_24h=2)))


async def test_three_failed_payments_fire() -> None:
    risk = await assess(order(), signals(failed_payments_24h=3))
    assert_only(risk, W_FAILED_PAYMENTS, "3 failed payments in the last 24 hours")
    assert risk.decision == "approve"


async def test_two_failed_payments_do_not_fire() -> None:
    assert_clean(await assess(order(), signals(failed_payments_24h=2)))


# --- a new account with a high-value order ------------------------------------------------------

async def test_a_new_account_with_a_high_value_order_fires_and_reaches_review() -> None:
    risk = await assess(order(2_000_000),
                        signals(account_created_at=NOW - timedelta(hours=23)))
    assert_only(risk, W_NEW_ACCOUNT_HIGH_VALUE, "high-value order of 2000000 KRW",
                "created 23.0 hours earlier")
    assert risk.decision == "review"


async def test_a_day_old_account_does_not_fire() -> None:
    day_old = signals(account_created_at=NOW - timedelta(days=1))
    assert_clean(await assess(order(2_000_000), day_old))


async def test_a_new_account_just_below_high_value_does_not_fire() -> None:
    assert_clean(await assess(order(1_999_999),
                              signals(account_created_at=NOW - timedelta(hours=1))))


async def test_no_high_value_configured_or_unknown_age_does_not_fire() -> None:
    young = signals(account_created_at=NOW - timedelta(hours=1))
    assert_clean(await assess(order(10**9, currency="EUR"), young))
    assert_clean(await assess(order(10**9), signals(account_created_at=None)))


# --- the statistical anomaly ---------------------------------------------------------------------

def amount_at(screen: InHouseFraudScreen, z: float) -> int:
    """The KRW amount whose modified z-score is about `z` under the screen's model."""
    stats = screen.model.stats["KRW"]
    return round(math.exp(stats.median + z * stats.mad / 0.6745))


async def test_an_outlier_amount_fires_with_its_z_score() -> None:
    screen = screen_of()
    await screen.learn(mall_history())
    amount = amount_at(screen, 3.6)
    z = screen.model.anomaly("KRW", amount)
    assert z is not None
    risk = await assess(order(amount), screen=screen)
    assert_only(risk, W_AMOUNT_ANOMALY, f"modified z-score {z:.1f}", "1000 paid orders")


async def test_an_amount_just_below_the_outlier_cut_off_does_not_fire() -> None:
    screen = screen_of()
    await screen.learn(mall_history())
    assert_clean(await assess(order(amount_at(screen, 3.4)), screen=screen))


async def test_learning_changes_the_verdict_on_an_outlier() -> None:
    screen = screen_of()
    outlier = order(30_000 * 50)
    weak = signals(failed_logins_24h=3)
    before = await screen.screen(outlier, weak)
    assert (before.score, before.decision) == (W_FAILED_LOGINS, "approve")

    await screen.learn(mall_history())
    after = await screen.screen(outlier, weak)
    assert after.score == W_FAILED_LOGINS + W_AMOUNT_ANOMALY
    assert after.decision == "review"
    assert any("modified z-score" in reason for reason in after.reasons)

    await screen.learn(mall_history(10))  # too few samples: the model falls silent again
    assert (await screen.screen(outlier, weak)).decision == "approve"


# --- combining ---------------------------------------------------------------------------------

async def test_weak_signals_together_reach_review() -> None:
    risk = await assess(order(), signals(failed_payments_24h=4, failed_logins_24h=5))
    assert risk.score == 0.5
    assert risk.decision == "review"
    assert risk.reasons == ["4 failed payments in the last 24 hours (flagged from 3)",
                            "5 failed logins in the last 24 hours (flagged from 3)"]


async def test_strong_signals_together_reject() -> None:
    risk = await assess(order(2_000_000), signals(
        account_created_at=NOW - timedelta(hours=2), ip_country="US", billing_country="US"))
    assert risk.score == 1.0
    assert risk.decision == "reject"
    assert len(risk.reasons) == 3


async def test_every_rule_at_once_caps_the_score_at_one_without_personal_data() -> None:
    screen = screen_of()
    await screen.learn(mall_history())
    history = [*earlier_paid(10_000, 10_000), *placed_before(*range(1, 10))]
    risk = await screen.screen(order(3_000_000), signals(
        history, account_created_at=NOW - timedelta(hours=2), ip_country="US",
        billing_country="JP", failed_logins_24h=9, failed_payments_24h=9))
    assert risk.score == 1.0
    assert risk.decision == "reject"
    assert len(risk.reasons) == 9
    text = " ".join(risk.reasons)
    for personal in (RECIPIENT, "Kim", STREET, "Teheran", "Seoul", "06234", CUSTOMER):
        assert personal not in text


async def test_the_thresholds_decide() -> None:
    risky = signals(failed_payments_24h=3)  # 0.3
    assert (await assess(order(), risky, screen_of(review=0.3))).decision == "review"
    assert (await assess(order(), risky, screen_of(review=0.31))).decision == "approve"
    assert (await assess(order(), risky, screen_of(review=0.2, reject=0.3))).decision == "reject"


@pytest.mark.parametrize(("review", "reject"), [(0, 0.95), (0.6, 0.5), (0.5, 1.2), (-1, 0.5)])
def test_inconsistent_thresholds_are_refused(review: float, reject: float) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        InHouseFraudScreen(review, HIGH_VALUE, reject_threshold=reject)
