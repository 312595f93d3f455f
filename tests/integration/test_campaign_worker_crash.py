"""A real worker process (Redis broker, PostgreSQL) killed in the middle of a campaign: after
a restart the campaign finishes, and each recipient is sent one message, exactly once."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter
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
        params={"headline": "Tea"}, admin_id="adm_1", send_at=now)

    log = tmp_path / "worker.log"
    first = start_worker(settings, log, **env)
    try:
        async def under_way() -> bool:
            return 20 <= await _queued()

        await eventually(under_way, timeout=60, interval=0.02,
                         what="the first worker to queue a few batches")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    handed_over = await _queued()
    assert handed_over < RECIPIENTS, "killed too late: the campaign was all queued"

    second = start_worker(settings, log, **env)
    try:
        async def finished() -> bool:
            view = await container.campaigns().view(campaign["id"])
            busy = await t.OutboxMessage.count().where(
                t.OutboxMessage.status.is_in(["pending", "processing"]))
            return bool(view["status"] == "done" and view["figures"]["queued"] == 0
                        and busy == 0)

        await eventually(finished, timeout=90, interval=0.5,
                         what="the restarted worker to finish the campaign")
        await asyncio.sleep(2.0)  # give a duplicate, if any, the time to show itself
    finally:
        stop_workers(second)
    output = log.read_text()[-3000:]

    messages = await campaign_messages(campaign["id"])
    sent_to = Counter(m["customer_id"] for m in messages)
    assert sent_to == Counter(customers), output  # one message each, nobody twice
    assert Counter(m["message_id"] for m in messages).most_common(1)[0][1] == 1
    assert {m["status"] for m in messages} == {"done"}, output
    view = await container.campaigns().view(campaign["id"])
    assert view["figures"] == {"pending": 0, "queued": 0, "sent": RECIPIENTS, "failed": 0,
                               "skipped": 0}, output
    # The dispatcher's record of each message, and what the provider (the dev mailbox) got:
    # each recipient once.
    deliveries = await t.MessageDelivery.select(
        t.MessageDelivery.customer_id, t.MessageDelivery.status).where(
        t.MessageDelivery.message_id.like(f"cmp:{campaign['id']}:%"))
    assert Counter(row["customer_id"] for row in deliveries) == Counter(customers), output
    assert {row["status"] for row in deliveries} == {"sent"}, output
    # What reached the provider: the dev mailbox, where it is the provider, keeps each message
    # id once; the console provider logs each (masked) recipient once.
    kept = await t.MailboxMessage.select(t.MailboxMessage.message_id).where(
        t.MailboxMessage.message_id.like(f"cmp:{campaign['id']}:%")
    ) if await t.MailboxMessage.table_exists() else []
    assert all(n == 1 for n in Counter(row["message_id"] for row in kept).values())
    logged = Counter(re.findall(r"to (rcpt_[0-9a-f]+) \[promotion\]", log.read_text()))
    assert all(n == 1 for n in logged.values()), logged.most_common(3)
    assert RECIPIENTS in (len(kept), len(logged)), output  # and everybody got theirs
