"""How unusual an order amount is, learned from the mall's own paid order history.

Per currency the model keeps robust statistics of ln(amount in minor units): the median and
the median absolute deviation (MAD). An amount is scored with the modified z-score of
Iglewicz and Hoaglin,

    M = 0.6745 * (ln(amount) - median) / MAD

which stays meaningful when the history itself holds outliers (a mean and a standard deviation
would be dragged by them). Iglewicz and Hoaglin suggest treating |M| > 3.5 as an outlier.
Amounts are skewed (many small baskets, a few large ones), so their logarithm is close to
symmetric; the unit (minor or major) only shifts the logarithm and does not change M.

Guards:
* below `min_samples` paid orders in a currency the model says nothing (None) about it;
* when MAD == 0 (more than half of the orders share one amount) the scale falls back to the
  mean absolute deviation, M = (x - median) / (1.253314 * MeanAD), as is usual practice;
* when every order has the same amount (MeanAD == 0 too) the scale is `DEGENERATE_SCALE`
  (5 % in log terms), so an equal amount scores 0 and a very different one scores high;
* amounts that are not positive are ignored when fitting and score None.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

MIN_SAMPLES = 30
OUTLIER_Z = 3.5  # Iglewicz-Hoaglin's cut-off for |modified z-score|
_MAD_FACTOR = 0.6745  # Phi^-1(0.75): MAD / 0.6745 estimates sigma for normal data
_MEAN_AD_FACTOR = 1.253314  # sqrt(pi / 2): 1.2533 * MeanAD estimates sigma for normal data
DEGENERATE_SCALE = 0.05  # log-scale used when every amount in the history is the same


@dataclass(frozen=True, slots=True)
class CurrencyStats:
    """Robust statistics of ln(amount) for one currency."""

    count: int
    median: float
    mad: float
    mean_ad: float

    @classmethod
    def of(cls, logs: list[float]) -> CurrencyStats:
        median = statistics.median(logs)
        deviations = [abs(x - median) for x in logs]
        return cls(
            count=len(logs),
            median=median,
            mad=statistics.median(deviations),
            mean_ad=math.fsum(deviations) / len(deviations),
        )

    def z(self, log_amount: float) -> float:
        """The modified z-score of ln(amount), signed: positive above the median."""
        delta = log_amount - self.median
        if self.mad > 0:
            return _MAD_FACTOR * delta / self.mad
        if self.mean_ad > 0:
            return delta / (_MEAN_AD_FACTOR * self.mean_ad)
        return _MAD_FACTOR * delta / DEGENERATE_SCALE


def _empty_stats() -> Mapping[str, CurrencyStats]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AmountModel:
    """An immutable per-currency model of paid order amounts; refit, never mutate."""

    stats: Mapping[str, CurrencyStats] = field(default_factory=_empty_stats)
    min_samples: int = MIN_SAMPLES

    @classmethod
    def empty(cls, min_samples: int = MIN_SAMPLES) -> AmountModel:
        """A model that knows no currency (before the first fit)."""
        return cls(_empty_stats(), min_samples)

    @classmethod
    def fit(
        cls, samples: Iterable[tuple[str, int]], *, min_samples: int = MIN_SAMPLES
    ) -> AmountModel:
        """Learn from (currency, amount in minor units) pairs of paid orders."""
        if min_samples < 1:
            raise ValueError("min_samples must be at least 1")
        logs: dict[str, list[float]] = {}
        for currency, amount in samples:
            if amount > 0:
                logs.setdefault(currency.upper(), []).append(math.log(amount))
        stats = {currency: CurrencyStats.of(values) for currency, values in logs.items()}
        return cls(MappingProxyType(stats), min_samples)

    @property
    def currencies(self) -> frozenset[str]:
        """Currencies with enough samples for the model to score them."""
        return frozenset(c for c, s in self.stats.items() if s.count >= self.min_samples)

    def sample_size(self, currency: str) -> int:
        """How many positive amounts the model was fitted on in `currency` (0 if none)."""
        stats = self.stats.get(currency.upper())
        return 0 if stats is None else stats.count

    def anomaly(self, currency: str, amount: int) -> float | None:
        """The signed modified z-score of `amount` (minor units) among paid `currency` orders;
        None when the model has too few samples in that currency or the amount is not
        positive. Values above `OUTLIER_Z` are unusually large amounts."""
        stats = self.stats.get(currency.upper())
        if stats is None or stats.count < self.min_samples or amount <= 0:
            return None
        return stats.z(math.log(amount))

    def is_outlier(self, currency: str, amount: int, threshold: float = OUTLIER_Z) -> bool:
        """True when `amount` is unusually large (modified z-score above `threshold`)."""
        z = self.anomaly(currency, amount)
        return z is not None and z > threshold
