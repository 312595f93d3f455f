"""Bad settings stop the start with one line naming the variable, the value and what is
allowed (exit 2, no traceback); a port in use likewise; /readyz reports a configured provider
that cannot be built."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mall(tmp_path: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", command], cwd=tmp_path, timeout=60,
        capture_output=True, text=True,
        env={**clean, "PYTHONPATH": str(ROOT), "MALL_KEYS_FILE": str(tmp_path / "keys.json"),
             "MALL_SQLITE_PATH": str(tmp_path / "mall.sqlite"), "MALL_PORT": "0", **env},
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == "", "nothing (no banner) before the error"
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unknown_provider_names_the_variable_the_value_and_the_choices(
    tmp_path: Path, command: str,
) -> None:
    line = _one_line(_mall(tmp_path, command, MALL_PAYMENT_PROVIDERS='["nope"]'))
    assert "MALL_PAYMENT_PROVIDERS" in line
    assert "nope" in line
    assert "allowed: sandbox, stripe, toss" in line


@pytest.mark.parametrize(("variable", "value", "bad", "allowed"), [
    ("MALL_CARRIERS", '["sandbox-express", "ups"]', "'ups'", "allowed: easypost, sandbox-express"),
    ("MALL_NOTIFIER_PROVIDER", "smtp", "'smtp'", "allowed: console"),
    ("MALL_ANALYTICS_PROVIDER", "mixpanel", "'mixpanel'", "allowed: ga4, log, segment"),
    ("MALL_ANALYTICS_PROVIDERS", '["log", "mixpanel"]', "'mixpanel'",
     "allowed: ga4, log, segment"),
    ("MALL_ALERT_PROVIDER", "pagerduty", "'pagerduty'", "allowed: channels, log"),
    ("MALL_FRAUD_PROVIDER", "ml", "'ml'", "allowed: rules"),
    ("MALL_REAL_NAME_PROVIDER", "pass", "'pass'", "allowed: none, sandbox"),
    ("MALL_IDENTITY_PROVIDERS", '["nope"]', "'nope'",
     "allowed: apple, google, kakao, naver, sandbox"),
])
def test_every_provider_setting_is_checked(tmp_path: Path, variable: str, value: str,
                                           bad: str, allowed: str) -> None:
    line = _one_line(_mall(tmp_path, "serve", **{variable: value}))
    assert line.startswith(f"configuration error: {variable}={value}: ")
    assert bad in line and allowed in line


def test_a_list_setting_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    line = _one_line(_mall(tmp_path, "serve", MALL_CARRIERS="sandbox-express"))
    assert line.startswith("configuration error: MALL_CARRIERS=sandbox-express: not JSON")
    assert 'write a JSON list, e.g. ["sandbox-express"]' in line


def test_a_secret_setting_is_not_printed_back(tmp_path: Path) -> None:
    line = _one_line(_mall(tmp_path, "serve", MALL_STRIPE_WEBHOOK_SECRETS="whsec_not_json"))
    assert "MALL_STRIPE_WEBHOOK_SECRETS" in line and "not JSON" in line
    assert "whsec_not_json" not in line


def test_a_provider_that_cannot_be_built_stops_the_start(tmp_path: Path) -> None:
    line = _one_line(_mall(tmp_path, "serve", MALL_IDENTITY_PROVIDERS='["sandbox", "naver"]'))
    assert line == ("configuration error: MALL_IDENTITY_PROVIDERS: sign-in provider 'naver' "
                    "needs 'client_id' in MALL_IDENTITY_PROVIDER_SETTINGS")


def test_a_port_in_use_is_one_line_without_the_banner(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = _one_line(_mall(tmp_path, "serve", MALL_PORT=str(port)))
    assert line == f"port {port} is in use: stop the other server or set MALL_PORT"


async def test_readyz_reports_a_provider_that_cannot_be_built(shop_factory: Any) -> None:
    shop = await shop_factory(identity_providers=["sandbox", "naver"])
    response = await shop.client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["providers"] == (
        "cannot be built: MALL_IDENTITY_PROVIDERS: sign-in provider 'naver' needs "
        "'client_id' in MALL_IDENTITY_PROVIDER_SETTINGS")


async def test_readyz_checks_the_providers(shop: Any) -> None:
    response = await shop.client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"]["providers"] == "ok"
