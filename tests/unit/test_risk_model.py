"""The amount model: robust per-currency statistics of ln(amount), modified z-scores, guards."""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
import time

import pytest

from domain.risk import MIN_SAMPLES, OUTLIER_Z, AmountModel

TYPICAL_KRW = 30_000  # the median basket of the synthetic history
TYPICAL_USD = 4_500


def history(n: int = 2000, *, seed: int = 7) -> list[tuple[str, int]]:
    """A deterministic lognormal paid-order history in KRW and USD."""
    rng = random.Random(seed)
    samples = [("KRW", round(rng.lognormvariate(math.log(TYPICAL_KRW), 0.6))) for _ in range(n)]
    samples += [("USD", round(rng.lognormvariate(math.log(TYPICAL_USD), 0.8)))
                for _ in range(n // 4)]
    rng.shuffle(samples)
    return samples


@pytest.fixture(scope="module")
def model() -> AmountModel:
    return AmountModel.fit(history())


# --- scoring ---------------------------------------------------------------------------------

def test_an_ordinary_amount_is_not_anomalous(model: AmountModel) -> None:
    for amount in (TYPICAL_KRW, TYPICAL_KRW * 2, TYPICAL_KRW // 2):
        z = model.anomaly("KRW", amount)
        assert z is not None and abs(z) < 1.5
        assert not model.is_outlier("KRW", amount)


def test_a_fifty_fold_amount_is_anomalous(model: AmountModel) -> None:
    z = model.anomaly("KRW", TYPICAL_KRW * 50)
    assert z is not None and z > OUTLIER_Z
    assert model.is_outlier("KRW", TYPICAL_KRW * 50)
    assert model.is_outlier("USD", TYPICAL_USD * 50)


def test_the_score_is_signed_small_amounts_score_below_zero(model: AmountModel) -> None:
    low = model.anomaly("KRW", TYPICAL_KRW // 50)
    assert low is not None and low < -OUTLIER_Z
    assert not model.is_outlier("KRW", TYPICAL_KRW // 50)  # only large amounts are outliers


def test_the_score_is_the_iglewicz_hoaglin_modified_z_score() -> None:
    samples = history(200)
    logs = [math.log(a) for c, a in samples if c == "KRW"]
    median = statistics.median(logs)
    mad = statistics.median(abs(x - median) for x in logs)
    amount = 123_456
    expected = 0.6745 * (math.log(amount) - median) / mad
    assert AmountModel.fit(samples).anomaly("KRW", amount) == pytest.approx(expected)


def test_the_unit_does_not_matter_only_the_ratio() -> None:
    # Scaling every amount (minor vs major units) shifts ln by a constant and leaves M unchanged.
    samples = [(c, a) for c, a in history(300) if c == "KRW"]
    scaled = AmountModel.fit([(c, a * 100) for c, a in samples])
    assert scaled.anomaly("KRW", 4_000_000) == pytest.approx(
        AmountModel.fit(samples).anomaly("KRW", 40_000))


def test_currency_codes_are_case_insensitive(model: AmountModel) -> None:
    assert model.anomaly("krw", 50_000) == model.anomaly("KRW", 50_000)
    assert model.sample_size("krw") == model.sample_size("KRW") == 2000
    assert AmountModel.fit([("krw", 1000)] * 40).sample_size("KRW") == 40


# --- guards ----------------------------------------------------------------------------------

def test_too_few_samples_say_nothing() -> None:
    rng = random.Random(7)
    few = [("EUR", round(rng.lognormvariate(8, 0.5))) for _ in range(MIN_SAMPLES - 1)]
    model = AmountModel.fit(few)
    assert model.sample_size("EUR") == MIN_SAMPLES - 1
    assert model.anomaly("EUR", 10**9) is None
    assert not model.is_outlier("EUR", 10**9)
    assert "EUR" not in model.currencies

    enough = AmountModel.fit([*few, ("EUR", 3000)])
    assert enough.sample_size("EUR") == MIN_SAMPLES
    assert enough.anomaly("EUR", 10**9) is not None
    assert "EUR" in enough.currencies


def test_an_unknown_currency_or_an_empty_model_says_nothing(model: AmountModel) -> None:
    assert model.anomaly("JPY", 10**9) is None
    assert model.sample_size("JPY") == 0
    assert AmountModel.empty().anomaly("KRW", 10**9) is None
    assert AmountModel.fit([]).currencies == frozenset()


def test_the_minimum_sample_size_can_be_chosen() -> None:
    samples = [("KRW", 1000 + i) for i in range(10)]
    assert AmountModel.fit(samples).anomaly("KRW", 1005) is None
    assert AmountModel.fit(samples, min_samples=10).anomaly("KRW", 1005) is not None
    with pytest.raises(ValueError, match="min_samples"):
        AmountModel.fit(samples, min_samples=0)


def test_amounts_that_are_not_positive_are_ignored(model: AmountModel) -> None:
    fitted = AmountModel.fit([("KRW", 0), ("KRW", -500), *[("KRW", 1000)] * 30])
    assert fitted.sample_size("KRW") == 30
    assert model.anomaly("KRW", 0) is None
    assert model.anomaly("KRW", -1) is None


def test_mad_zero_falls_back_to_the_mean_absolute_deviation() -> None:
    # 20 of 31 orders share one amount: the median absolute deviation is 0.
    samples = [("KRW", 10_000)] * 20 + [("KRW", 20_000)] * 11
    model = AmountModel.fit(samples)
    assert model.stats["KRW"].mad == 0
    assert model.anomaly("KRW", 10_000) == 0
    z_double = model.anomaly("KRW", 20_000)
    z_fifty = model.anomaly("KRW", 500_000)
    assert z_double is not None and z_fifty is not None
    assert math.isfinite(z_fifty) and 0 < z_double < OUTLIER_Z < z_fifty
    mean_ad = 11 * math.log(2) / 31
    assert z_fifty == pytest.approx(math.log(50) / (1.253314 * mean_ad))


def test_identical_amounts_still_give_a_finite_score() -> None:
    model = AmountModel.fit([("KRW", 10_000)] * 40)
    assert model.anomaly("KRW", 10_000) == 0
    z = model.anomaly("KRW", 500_000)
    assert z is not None and math.isfinite(z) and z > OUTLIER_Z
    slightly = model.anomaly("KRW", 10_100)  # 1 % more is not an outlier
    assert slightly is not None and slightly < OUTLIER_Z


# --- the model as a value ----------------------------------------------------------------------

def test_the_model_is_immutable(model: AmountModel) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.min_samples = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.stats["KRW"] = model.stats["USD"]  # type: ignore[index]


def test_fitting_is_deterministic_and_order_independent() -> None:
    samples = history(500)
    shuffled = list(samples)
    random.Random(1).shuffle(shuffled)
    assert AmountModel.fit(samples) == AmountModel.fit(shuffled)


def test_fitting_ten_thousand_samples_is_fast() -> None:
    samples = history(10_000)
    started = time.perf_counter()
    model = AmountModel.fit(samples)
    assert time.perf_counter() - started < 1.0
    assert model.sample_size("KRW") == 10_000
    assert model.sample_size("USD") == 2_500
