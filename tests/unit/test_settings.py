"""The settings: durations in the unit their variable names, lists checked item by item, the
provider names the container can build, and a README line for every one of them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from pydantic import ValidationError

import bootstrap
from adapters.settings import PROVIDER_CHOICES, Settings

README = Path(__file__).resolve().parents[2] / "README.md"
UNITS = {"_ms": "milliseconds", "_seconds": "seconds", "_minutes": "minutes",
         "_hours": "hours", "_days": "days"}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _no_mall_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MALL_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)


def _readme_variables() -> list[str]:
    """The first cell of each row of the Configuration table, one variable per row."""
    text = README.read_text()
    section = text[text.index("\n## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    table = section[section.index("| variable | default | meaning |"):].split("\n\n")[0]
    variables = []
    for row in table.splitlines()[2:]:
        # `DATABASE_URL` / `MALL_DATABASE_URL`: one setting under two names
        names = {re.sub(r"^MALL_", "", name) for name in re.findall(r"`([A-Z0-9_]+)`",
                                                                      row.split("|")[1])}
        assert len(names) == 1, f"one setting per row: {row}"
        variables.append(names.pop())
    return variables


def test_the_readme_lists_every_setting_once() -> None:
    documented = _readme_variables()
    assert sorted(documented) == sorted(name.upper() for name in Settings.model_fields)


def test_every_duration_is_a_timedelta_read_in_the_unit_its_name_ends_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    durations = [name for name in Settings.model_fields if name.endswith(tuple(UNITS))]
    assert len(durations) >= 20
    for name in durations:
        monkeypatch.setenv(f"MALL_{name.upper()}", "2.5")
    read = settings()
    for name in durations:
        unit = next(unit for suffix, unit in UNITS.items() if name.endswith(suffix))
        assert getattr(read, name) == timedelta(**{unit: 2.5}), name
        assert read.model_dump()[name] == 2.5, "a dump says it as the variable does"


def test_durations_keep_their_numeric_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALL_SWEEP_INTERVAL_SECONDS", "10")
    monkeypatch.setenv("MALL_RECONCILE_AFTER_MINUTES", "10")
    monkeypatch.setenv("MALL_IDEMPOTENCY_TTL_HOURS", "24")
    monkeypatch.setenv("MALL_REFRESH_TOKEN_TTL_DAYS", "30")
    monkeypatch.setenv("MALL_WORKER_HEARTBEAT_TIMEOUT_MS", "2000")
    read = settings(sandbox_webhook_delay_seconds=0.05)
    assert read.sweep_interval_seconds == timedelta(seconds=10)
    assert read.reconcile_after_minutes == timedelta(minutes=10)
    assert read.idempotency_ttl_hours == timedelta(hours=24)
    assert read.refresh_token_ttl_days == timedelta(days=30)
    assert read.worker_heartbeat_timeout_ms == timedelta(seconds=2)
    assert read.sandbox_webhook_delay_seconds == timedelta(milliseconds=50)
    dumped = read.model_dump()
    assert dumped["sweep_interval_seconds"] == 10 and isinstance(
        dumped["sweep_interval_seconds"], int), "whole numbers stay whole for the adapters"
    assert dumped["worker_heartbeat_timeout_ms"] == 2000
    assert settings(**dumped) == read


@pytest.mark.parametrize(("value", "message"), [
    ("ten", "not a number of seconds"),
    ("-1", "a duration cannot be negative"),
    ("nan", "not a number of seconds"),
    ("1e300", "too long a duration"),
    (True, "not a number of seconds"),
])
def test_a_bad_duration_is_refused_with_what_to_write(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        settings(sweep_interval_seconds=value)
    assert raised.value.errors()[0]["loc"] == ("sweep_interval_seconds",)


def test_lists_of_records_are_checked_item_by_item() -> None:
    with pytest.raises(ValidationError) as raised:
        settings(payment_contracts=[{"provider": "sandbox", "currency": ["KRW"]}],
                 kyc_rules=[{"country": "KR", "currency": "KRW"}])
    assert {error["loc"] for error in raised.value.errors()} == {
        ("payment_contracts", 0, "currency"), ("kyc_rules", 0, "threshold")}
    read = settings(payment_contracts='[{"provider": "sandbox", "priority": 5}]')
    assert read.payment_contracts[0].priority == 5
    assert read.payment_contracts[0].currencies == ["*"]


def test_the_container_offers_exactly_the_provider_names_the_settings_allow() -> None:
    assert set(bootstrap.PROVIDER_SETTINGS) == set(PROVIDER_CHOICES)
    for setting, attribute in bootstrap.PROVIDER_SETTINGS.items():
        provider = getattr(bootstrap.Container, attribute)
        offered = (provider.providers if isinstance(provider, providers.Selector)
                   else provider.kwargs)
        assert sorted(offered) == sorted(PROVIDER_CHOICES[setting]), setting


def test_use_cases_receive_durations_as_timedeltas(tmp_path: Path) -> None:
    container = bootstrap.build(settings(
        keys_file=str(tmp_path / "keys.json"), sqlite_path=str(tmp_path / "mall.sqlite"),
        idempotency_ttl_hours=2, refresh_token_ttl_days=3))
    assert container.settings().idempotency_ttl_hours == timedelta(hours=2)
    assert container.config.idempotency_ttl_hours() == 2
    assert timedelta(hours=2) in vars(container.idempotency()).values()
    assert timedelta(days=3) in vars(container.sessions()).values()
