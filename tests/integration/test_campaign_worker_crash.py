"""Real worker processes (Redis broker, PostgreSQL) killed in the middle of a campaign: after
a restart the campaign finishes, and each recipient is sent one message, exactly once."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence import tables as t
from domain.campaigns import Audience
from domain.messages import Channel
from tests.helpers import eventually
from tests.integration.campaign_audience import add_customers, campaign_messages
from tests.integration.worker_processes import on_redis, start_worker, stop_workers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

RECIPIENTS = 150
RATE = {"email": 1200}  # 10 a run every half second: 15 runs, about 8 s of sending
TIMINGS = {
    "campaign_send_interval_seconds": 0.5, "campaign_lease_seconds": 3.0,
    "outbox_lease_seconds": 4.0, "worker_heartbeat_timeout_ms": 2000,
    "sweep_interval_seconds": 1.0, "sweep_older_than_seconds": 1.0, "worker_threads": 2,
    "sandbox_tracking_step_seconds": 3600.0,
}


async def _queued() -> int:
    return int(await t.CampaignRecipient.count().where(
        t.CampaignRecipient.status != "pending"))


async def _where_it_stands(campaign_id: str) -> dict[str, Any]:
    """The recipients, commands and delivery records of a campaign, counted by status."""
    recipients = await t.CampaignRecipient.select(t.CampaignRecipient.status)
    outbox = await t.OutboxMessage.select(t.OutboxMessage.status)
    deliveries = await t.MessageDelivery.select(t.MessageDelivery.status).where(
        t.MessageDelivery.message_id.like(f"cmp:{campaign_id}:%"))
    return {name: Counter(row["status"] for row in rows) for name, rows in (
        ("recipients", recipients), ("outbox", outbox), ("deliveries", deliveries))}


@pytest.mark.parametrize("engine_name", ["postgres"])
async def test_killing_a_worker_mid_campaign_and_restarting_sends_each_recipient_once(
    settings_factory: Any, tmp_path: Path, engine_name: str,
) -> None:
    settings, container = await on_redis(settings_factory, campaign_rate_limits=RATE,
                                         **TIMINGS)
    env = {**TIMINGS, "campaign_rate_limits": json.dumps(RATE)}
    now = datetime.now(UTC)
    # Night-time consent too: the test does not depend on the hour it runs at.
    customers = await add_customers(RECIPIENTS, now=now, consents={
        "marketing_email": True, "marketing_night": True})
    campaign = await container.campaigns().define(
        name="Crash test", channel=Channel.EMAIL, template="promotion", audience=Audience(),
        params={"title": "Tea", "message": "Jeju green tea, 20% off this week."},
        admin_id="adm_1", send_at=now)

    log = tmp_path / "worker.log"
    # Two workers killed one after the other, each with batches and messages under way.
    for killed_after in (20, 70):
        worker = start_worker(settings, log, **env)
        try:
            async def under_way(at_least: int = killed_after) -> bool:
                return at_least <= await _queued()

            await eventually(under_way, timeout=60, interval=0.02,
                             what=f"a worker to queue {killed_after} recipients")
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        assert await _queued() < RECIPIENTS, "killed too late: the campaign was all queued"

    second = start_worker(settings, log, **env)
    try:
        async def finished() -> bool:
            view = await container.campaigns().view(campaign["id"])
            busy = await t.OutboxMessage.count().where(
                t.OutboxMessage.status.is_in(["pending", "processing"]))
            return bool(view["status"] == "done" and busy == 0
                        and view["figures"]["queued"] == 0)

        try:
            await eventually(finished, timeout=60, interval=0.5,
                             what="the restarted worker to finish the campaign")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {await _where_it_stands(campaign['id'])}") from None
        await asyncio.sleep(2.0)  # give a duplicate, if any, the time to show itself
    finally:
        stop_workers(second)
    output = log.read_text()[-3000:]

    # Each recipient was handed to the dispatcher once: one command each, all performed.
    messages = await campaign_messages(campaign["id"])
    assert Counter(m["customer_id"] for m in messages) == Counter(customers), output
    assert Counter(m["message_id"] for m in messages).most_common(1)[0][1] == 1
    assert {m["status"] for m in messages} == {"done"}, output
    # The dispatcher kept one record of each message.
    deliveries = await _deliveries(campaign)
    assert Counter(row["customer_id"] for row in deliveries) == Counter(customers), output
    # Nobody got it twice. A worker killed after the provider call and before recording it
    # leaves a claim the retry takes over: the provider is handed the same message id again
    # and, deduplicating on it, keeps one message. The dev mailbox (the provider here) keeps
    # each message id once; the provider's log names one message per (masked) recipient.
    kept = await t.MailboxMessage.select(t.MailboxMessage.message_id).where(
        t.MailboxMessage.message_id.like(f"cmp:{campaign['id']}:%")
    ) if await t.MailboxMessage.table_exists() else []
    assert all(n == 1 for n in Counter(row["message_id"] for row in kept).values())
    handed: dict[str, set[str]] = defaultdict(set)
    for recipient, message in re.findall(r'to (rcpt_[0-9a-f]+) \[promotion\][^"]*: ([^"]+)"',
                                         log.read_text()):
        handed[recipient].add(message)
    twice = {r: m for r, m in handed.items() if len(m) > 1}
    assert not twice, list(twice.items())[:3]
    # And everybody got theirs: a message claimed by a killed worker before its provider
    # call was taken over by the retry once the claim's lease (the outbox lease) ran out.
    assert {row["status"] for row in deliveries} == {"sent"}, output
    assert RECIPIENTS in (len(kept), len(handed)), output
    view = await container.campaigns().view(campaign["id"])
    assert view["figures"] == {"pending": 0, "queued": 0, "sent": RECIPIENTS, "failed": 0,
                               "skipped": 0}, output


async def _deliveries(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    return await t.MessageDelivery.select(
        t.MessageDelivery.customer_id, t.MessageDelivery.status).where(
        t.MessageDelivery.message_id.like(f"cmp:{campaign['id']}:%"))

