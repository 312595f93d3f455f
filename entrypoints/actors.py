"""Dramatiq actors: thin, idempotent, each calling one use case.

Retry policy: failures are retried with exponential backoff (1 s up to 60 s); the outbox
counts attempts itself and, after the last one, opens an incident and alerts the operators.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

from bootstrap import ACTOR_NAMES, Container

log = logging.getLogger("mall.actors")

SWEEP = "sweep_unfinished_work"
RECONCILE = "reconcile_payments"
RETENTION = "enforce_retention"


def register(broker: dramatiq.Broker, container: Container) -> None:
    """Declare the actors on `broker`, bound to the use cases of `container`."""
    settings = container.config
    retries = {"max_retries": settings.outbox_max_attempts(), "min_backoff": 1_000,
               "max_backoff": 60_000}

    async def run_outbox_message(message_id: str) -> None:
        await container.outbox().run(message_id)

    async def process_inbox_message(message_id: str) -> None:
        await container.webhooks().process(message_id)

    async def sweep_unfinished_work() -> None:
        await container.outbox().sweep(settings.sweep_older_than_seconds())
        await container.idempotency().purge()
        await container.payments().expire_abandoned(
            timedelta(minutes=settings.payment_action_timeout_minutes()))

    async def reconcile_payments() -> None:
        """Ask the providers about payments stuck before a final answer (lost webhooks)."""
        report = await container.payments().reconcile(
            timedelta(minutes=settings.reconcile_after_minutes()))
        if report["changed"] or report["unreachable"]:
            log.info("reconciliation: %s", report)
        await container.payments().refresh_fraud_model()

    async def enforce_retention() -> None:
        """Delete what no retention rule keeps any more; re-seal CIs under a rotated key."""
        report = await container.privacy().enforce_retention()
        rotated = await container.real_names().rotate_keys()
        if any(report.values()) or rotated:
            log.info("retention: %s; CI re-sealed under the current key: %d", report, rotated)

    dramatiq.actor(run_outbox_message, broker=broker, actor_name=ACTOR_NAMES["outbox"],
                   **retries)
    dramatiq.actor(process_inbox_message, broker=broker, actor_name=ACTOR_NAMES["inbox"],
                   **retries)
    # A missed sweep is made up by the next one: no retries.
    dramatiq.actor(sweep_unfinished_work, broker=broker, actor_name=SWEEP, max_retries=0)
    dramatiq.actor(reconcile_payments, broker=broker, actor_name=RECONCILE, max_retries=0)
    dramatiq.actor(enforce_retention, broker=broker, actor_name=RETENTION, max_retries=0)
