"""Swapping a provider is a configuration change; tests swap them through the container too."""

from __future__ import annotations

from typing import Any

import pytest

import bootstrap
from adapters.analytics.ga4 import Ga4Destination
from adapters.analytics.log import LogDestination
from adapters.analytics.segment import SegmentDestination
from adapters.messaging.mailbox import DevMailbox
from adapters.queue import DramatiqTaskQueue
from application.ports import Notification
from application.transactions import send
from domain.commands import SendNotification


def test_the_analytics_providers_are_chosen_by_configuration(tmp_path: Any) -> None:
    default = bootstrap.build(keys_file=str(tmp_path / "k.json"))
    assert [type(d) for d in default.analytics_destinations().values()] == [LogDestination]
    swapped = bootstrap.build(keys_file=str(tmp_path / "k.json"),
                              analytics_providers=["segment", "ga4"], segment_write_key="wk_test",
                              ga4_measurement_id="G-TEST", ga4_api_secret="s3cret")
    assert [type(d) for d in swapped.analytics_destinations().values()] == [
        SegmentDestination, Ga4Destination]
    # The older single-provider setting still chooses one.
    older = bootstrap.build(keys_file=str(tmp_path / "k.json"), analytics_provider="segment",
                            segment_write_key="wk_test")
    assert list(older.analytics_destinations()) == ["segment"]
    assert isinstance(swapped.notifier(), DevMailbox)  # the default


def test_the_environment_selects_providers(tmp_path: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALL_ANALYTICS_PROVIDER", "segment")
    monkeypatch.setenv("MALL_SEGMENT_WRITE_KEY", "wk_test")
    monkeypatch.setenv("MALL_KEYS_FILE", str(tmp_path / "k.json"))
    assert list(bootstrap.build().analytics_destinations()) == ["segment"]
    monkeypatch.setenv("MALL_ANALYTICS_PROVIDERS", '["log", "segment"]')
    assert list(bootstrap.build().analytics_destinations()) == ["log", "segment"]


def test_an_unknown_provider_is_refused_with_the_choices(tmp_path: Any) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"'nopay'; allowed: sandbox, stripe, toss"):
        bootstrap.build(keys_file=str(tmp_path / "k.json"), payment_providers=["sandbox", "nopay"])


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


async def test_a_provider_can_be_overridden_without_patching(container: Any) -> None:
    fake = RecordingNotifier()
    with container.notifier.override(fake):
        container.outbox.reset()
        await container.accounts().register("ada@example.com", "long enough password")
        async with container.uow()() as uow:
            message_id = await send(uow, SendNotification(
                "order_paid", {"order_id": "o1"}, audience="seller", seller_id="s1"))
            await uow.commit()
        assert await container.outbox().run(message_id)
    assert [n.recipient for n in fake.sent] == ["seller:s1"]


def test_sandboxes_are_refused_on_a_real_database_unless_allowed(tmp_path: Any) -> None:
    from pydantic import ValidationError

    real = {"database_url": "postgresql://mall@db/mall", "keys_file": str(tmp_path / "k")}
    with pytest.raises(ValidationError, match="MALL_ALLOW_SANDBOX"):
        bootstrap.Settings(**real)
    assert bootstrap.Settings(**real, allow_sandbox=True).sandbox_enabled
    assert not bootstrap.Settings(**real, payment_providers=[], carriers=[],
                                  identity_providers=[], real_name_provider="none").sandbox_enabled


def test_sandbox_pages_are_mounted_only_with_a_sandbox(tmp_path: Any) -> None:
    from entrypoints.http.app import create_app

    def paths(**settings: Any) -> set[str]:
        app = create_app(bootstrap.build(keys_file=str(tmp_path / "k"), **settings),
                         start_worker=False)
        return {r.resource.canonical for r in app.router.routes() if r.resource}

    assert "/sandbox/3ds/{provider_reference}" in paths()
    live = paths(payment_providers=[], carriers=[], identity_providers=[],
                 real_name_provider="none")
    assert not any(p.startswith("/sandbox/") for p in live)
    assert "/v1/webhooks/{provider}" in live


def test_the_broker_and_the_http_client_build_one_another_without_a_cycle(
        tmp_path: Any) -> None:
    """The broker closes the HTTP client, whose drift reports send through the broker's
    queue: the reports are built at the first drift, so both build."""
    container = bootstrap.build(keys_file=str(tmp_path / "k.json"))
    assert container.broker() is container.broker()
    assert container.http() is container.http()
    assert isinstance(container.queue(), DramatiqTaskQueue)
