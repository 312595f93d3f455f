"""The in-house fraud screen: explainable rules plus a statistical model of order amounts.

Every rule that fires adds its weight and a reason a human reviewer understands (amounts,
counts and thresholds only; never an email, a name or an address). The score is
min(1, sum of weights) rounded to 2 decimals; the decision is "reject" at or above the reject
threshold, "review" at or above the review threshold, "approve" below.

| rule                                                                     | weight |
|--------------------------------------------------------------------------|--------|
| new account (< 1 day old) placing a high-value order                     | 0.50   |
| IP country differs from the shipping country                             | 0.25   |
| billing country differs from the shipping country                        | 0.25   |
| amount > 5x the customer's average paid order (>= 2 earlier, same ccy)   | 0.30   |
| >= 5 orders by the customer within the last hour (this one included)     | 0.30   |
| >= 10 orders by the customer within the last day (this one included)     | 0.20   |
| >= 3 failed payments in the last 24 hours                                | 0.30   |
| >= 3 failed logins in the last 24 hours                                  | 0.20   |
| amount is a mall-wide outlier: modified z-score > 3.5 (domain.risk)      | 0.30   |

With the default review threshold of 0.5 one strong signal (a new account with a high-value
order, or both country mismatches) is enough for a review and any other single signal is not;
with the default reject threshold of 0.95 only a pile-up of signals rejects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from application.ports import RiskAssessment, RiskSignals
from domain.money import Money
from domain.orders import FULFILMENT, Order
from domain.risk import OUTLIER_Z, AmountModel

W_NEW_ACCOUNT_HIGH_VALUE = 0.50
W_IP_COUNTRY_MISMATCH = 0.25
W_BILLING_COUNTRY_MISMATCH = 0.25
W_ABOVE_OWN_HISTORY = 0.30
W_VELOCITY_HOUR = 0.30
W_VELOCITY_DAY = 0.20
W_FAILED_PAYMENTS = 0.30
W_FAILED_LOGINS = 0.20
W_AMOUNT_ANOMALY = 0.30

OWN_HISTORY_FACTOR = 5  # "far above": more than this many times the customer's average
OWN_HISTORY_MIN_ORDERS = 2  # earlier paid orders in the currency needed to judge
VELOCITY_HOUR_ORDERS = 5  # orders within an hour, the screened one included
VELOCITY_DAY_ORDERS = 10  # orders within a day, the screened one included
FAILED_LOGINS_LIMIT = 3
FAILED_PAYMENTS_LIMIT = 3
NEW_ACCOUNT_AGE = timedelta(days=1)

_PAID = FULFILMENT

Fired = list[tuple[float, str]]  # the (weight, reason) pairs of the rules that fired


class InHouseFraudScreen:
    """A `FraudScreen` that needs no partner: rules plus a model learned with `learn()`."""

    def __init__(
        self,
        review_threshold: float,
        high_value_minor: dict[str, int],
        reject_threshold: float = 0.95,
    ) -> None:
        if not 0 < review_threshold <= reject_threshold <= 1:
            raise ValueError("thresholds must satisfy 0 < review <= reject <= 1")
        self._review = review_threshold
        self._reject = reject_threshold
        self._high_value = {c.upper(): v for c, v in high_value_minor.items()}
        self._model = AmountModel.empty()

    @property
    def model(self) -> AmountModel:
        return self._model

    async def learn(self, paid_totals: Sequence[tuple[str, int]]) -> None:
        """Refit the amount model off the event loop, then swap it in with one assignment:
        a screen running meanwhile keeps the model it started with."""
        model = await asyncio.to_thread(AmountModel.fit, list(paid_totals))
        self._model = model

    async def screen(self, order: Order, signals: RiskSignals) -> RiskAssessment:
        model = self._model  # one model for the whole assessment, even across a learn()
        fired: list[tuple[float, str]] = []
        fired += _new_account_high_value(order, signals, self._high_value.get(order.currency))
        fired += _country_mismatches(order, signals)
        fired += _above_own_history(order, signals.customer_history)
        fired += _velocity(order, signals.customer_history)
        fired += _failed_attempts(signals)
        fired += _amount_anomaly(order, model)
        score = round(min(1.0, sum(weight for weight, _ in fired)), 2)
        if score >= self._reject:
            decision = "reject"
        elif score >= self._review:
            decision = "review"
        else:
            decision = "approve"
        return RiskAssessment(score, decision, [reason for _, reason in fired])




# --- rules: each returns the (weight, reason) pairs that fired --------------------------------


def _new_account_high_value(order: Order, signals: RiskSignals, high_value: int | None) -> Fired:
    if high_value is None or signals.account_created_at is None or order.created_at is None:
        return []
    age = order.created_at - signals.account_created_at
    if age >= NEW_ACCOUNT_AGE or order.total.amount < high_value:
        return []
    hours = max(age, timedelta(0)).total_seconds() / 3600
    return [(W_NEW_ACCOUNT_HIGH_VALUE,
             f"high-value order of {order.total} (from {Money(high_value, order.currency)}) "
             f"by an account created {hours:.1f} hours earlier")]


def _country(code: str | None) -> str | None:
    code = (code or "").strip().upper()
    return code or None


def _country_mismatches(order: Order, signals: RiskSignals) -> Fired:
    shipping = _country(order.country)
    fired: Fired = []
    ip, billing = _country(signals.ip_country), _country(signals.billing_country)
    if shipping and ip and ip != shipping:
        fired.append((W_IP_COUNTRY_MISMATCH,
                      "the customer's IP address is in a different country than the shipping "
                      "address"))
    if shipping and billing and billing != shipping:
        fired.append((W_BILLING_COUNTRY_MISMATCH,
                      "the billing country differs from the shipping country"))
    return fired


def _earlier(order: Order, history: Sequence[Order]) -> list[Order]:
    return [o for o in history if o.id != order.id]


def _above_own_history(order: Order, history: Sequence[Order]) -> Fired:
    paid = [o for o in _earlier(order, history)
            if o.currency == order.currency and o.status in _PAID]
    if len(paid) < OWN_HISTORY_MIN_ORDERS:
        return []
    average = sum(o.total.amount for o in paid) / len(paid)
    amount = order.total.amount
    if average <= 0 or amount <= OWN_HISTORY_FACTOR * average:
        return []
    shown = Money(round(average), order.currency)
    return [(W_ABOVE_OWN_HISTORY,
             f"order total {order.total} is {amount / average:.1f}x the customer's average "
             f"paid order of {shown} over {len(paid)} earlier orders "
             f"(flagged above {OWN_HISTORY_FACTOR}x)")]


def _orders_within(order: Order, history: Sequence[Order], window: timedelta) -> int:
    """Orders placed in `window` up to this order, this order included."""
    placed: datetime | None = order.created_at
    if placed is None:
        return 1
    return 1 + sum(
        1 for o in _earlier(order, history)
        if o.created_at is not None and timedelta(0) <= placed - o.created_at <= window
    )


def _velocity(order: Order, history: Sequence[Order]) -> Fired:
    fired: Fired = []
    hour = _orders_within(order, history, timedelta(hours=1))
    if hour >= VELOCITY_HOUR_ORDERS:
        fired.append((W_VELOCITY_HOUR,
                      f"{hour} orders by this customer within one hour "
                      f"(flagged from {VELOCITY_HOUR_ORDERS})"))
    day = _orders_within(order, history, timedelta(days=1))
    if day >= VELOCITY_DAY_ORDERS:
        fired.append((W_VELOCITY_DAY,
                      f"{day} orders by this customer within one day "
                      f"(flagged from {VELOCITY_DAY_ORDERS})"))
    return fired


def _failed_attempts(signals: RiskSignals) -> Fired:
    fired: Fired = []
    if signals.failed_payments_24h >= FAILED_PAYMENTS_LIMIT:
        fired.append((W_FAILED_PAYMENTS,
                      f"{signals.failed_payments_24h} failed payments in the last 24 hours "
                      f"(flagged from {FAILED_PAYMENTS_LIMIT})"))
    if signals.failed_logins_24h >= FAILED_LOGINS_LIMIT:
        fired.append((W_FAILED_LOGINS,
                      f"{signals.failed_logins_24h} failed logins in the last 24 hours "
                      f"(flagged from {FAILED_LOGINS_LIMIT})"))
    return fired


def _amount_anomaly(order: Order, model: AmountModel) -> Fired:
    z = model.anomaly(order.currency, order.total.amount)
    if z is None or z <= OUTLIER_Z:
        return []
    return [(W_AMOUNT_ANOMALY,
             f"order total {order.total} is unusually large for {order.currency} orders at "
             f"this mall (modified z-score {z:.1f} over "
             f"{model.sample_size(order.currency)} paid orders, flagged above {OUTLIER_Z})")]
