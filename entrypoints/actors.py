"""Dramatiq actors: thin, idempotent, each calling one use case.

Retry policy: failures are retried with exponential backoff (1 s up to 60 s); the outbox
counts attempts itself and, after the last one, opens an incident and alerts the operators.
Periodic jobs are not retried: a missed period is made up by the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import dramatiq

from bootstrap import ACTOR_NAMES, Container
from domain.commands import ApplyProviderEvent

log = logging.getLogger("mall.actors")

SWEEP = "sweep_unfinished_work"
RECONCILE = "reconcile_payments"
RETENTION = "enforce_retention"
ANCHOR = "anchor_evidence"
SEAL = "seal_evidence"
FOLLOW_PARCELS = "follow_parcels"
ESCALATE_DELIVERY_INCIDENTS = "escalate_delivery_incidents"
ESCALATE_ALERTS = "escalate_unacknowledged_alerts"
SEND_CAMPAIGNS = "send_campaigns"
SEND_DEFERRED_MESSAGES = "send_deferred_messages"
REMIND_CONSENTS = "remind_consents"
FLUSH_ANALYTICS = "flush_analytics"
RETIRE_PROVIDERS = "retire_providers"


def periods(container: Container) -> dict[str, float]:
    """Every periodic job and its period in seconds. The worker sends each one at the start
    of each of its periods, and the job runs once per period across every worker process."""
    config = container.config
    return {
        SWEEP: config.sweep_interval_seconds(),
        RECONCILE: config.reconcile_interval_seconds(),
        RETENTION: config.retention_interval_seconds(),
        ANCHOR: config.evidence_checkpoint_interval_seconds(),
        SEAL: config.evidence_seal_interval_seconds(),
        FOLLOW_PARCELS: config.delivery_tracker_recheck_interval_seconds(),
        ESCALATE_DELIVERY_INCIDENTS: config.delivery_incident_check_interval_seconds(),
        ESCALATE_ALERTS: config.alert_escalation_check_interval_seconds(),
        SEND_CAMPAIGNS: config.campaign_send_interval_seconds(),
        SEND_DEFERRED_MESSAGES: config.deferred_messages_interval_seconds(),
        REMIND_CONSENTS: config.consent_reminder_interval_seconds(),
        FLUSH_ANALYTICS: config.analytics_flush_interval_seconds(),
        RETIRE_PROVIDERS: config.provider_retirement_interval_seconds(),
    }


def register(broker: dramatiq.Broker, container: Container) -> None:
    """Declare the actors on `broker`, bound to the use cases of `container`."""
    settings = container.config
    retries = {"max_retries": settings.outbox_max_attempts(), "min_backoff": 1_000,
               "max_backoff": 60_000}

    async def run_outbox_messages(message_ids: list[str]) -> None:
        await container.outbox().run_batch(message_ids)

    async def run_outbox_message(message_id: str) -> None:
        await container.outbox().run(message_id)

    async def process_inbox_message(message_id: str) -> None:
        await container.bus().handle(ApplyProviderEvent(message_id))

    def periodic(name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Declare the periodic job `name` (listed in `periods`), run once per period."""
        period = timedelta(seconds=periods(container)[name])

        async def run_once_per_period(period_start: float | None = None) -> None:
            await container.periodic().run_once_per_period(
                name, period, work,
                None if period_start is None else datetime.fromtimestamp(period_start, UTC))

        dramatiq.actor(broker=broker, actor_name=name, max_retries=0)(run_once_per_period)

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

    async def anchor_evidence() -> None:
        """Check the evidence added since the last checkpoint and sign one of the ledger's
        head, kept outside the database (a chain that does not check out is logged, unsigned)."""
        await container.evidence().checkpoint()

    async def seal_evidence() -> None:
        """Chain the evidence appended since the last run into the ledger, in batches, off
        the requests that appended it."""
        await container.evidence().seal()

    async def remind_consents() -> None:
        """Remind customers of their marketing opt-ins every two years (Korea's rule)."""
        queued = await container.messaging().remind_consents()
        if queued:
            log.info("consent reminders queued: %d", queued)

    async def send_deferred_messages() -> None:
        """Send the promotional messages held back by quiet hours whose hour has come."""
        due = await container.messaging().send_due()
        if due:
            log.info("deferred messages sent on: %d", due)

    async def send_campaigns() -> None:
        """Start the campaigns whose time has come and queue a batch of each one sending,
        within its channel's rate limit."""
        queued = await container.campaigns().send_due()
        if queued:
            log.info("campaign recipients queued: %d", queued)

    async def escalate_delivery_incidents() -> None:
        """Hand the operators every delivery incident left alone past its deadline."""
        escalated = await container.delivery_incidents().escalate_overdue()
        if escalated:
            log.info("delivery incidents escalated: %d", escalated)

    async def escalate_unacknowledged_alerts() -> None:
        """Alert again, one severity up, every incident nobody acknowledged in time."""
        escalated = await container.incident_alerts().escalate_unacknowledged()
        if escalated:
            log.info("unacknowledged incidents escalated: %d", escalated)

    async def flush_analytics() -> None:
        """Send the analytics events that are due to each service, in batches."""
        await container.analytics_service().flush()

    async def retire_providers() -> None:
        """Retire the replaced credentials whose overlap is over, and the providers switched
        away from that hold nothing in flight any more."""
        credentials = await container.provider_credentials().retire_due()
        contracts = await container.provider_registry().retire_drained()
        if credentials or contracts:
            log.info("retired: %d credentials, %d provider contracts", credentials, contracts)

    async def follow_parcels() -> None:
        """Send a look at every Korean domestic parcel whose next one is due."""
        await container.parcel_tracking().send_due_looks()

    dramatiq.actor(broker=broker, actor_name=ACTOR_NAMES["outbox"], **retries)(
        run_outbox_messages)
    dramatiq.actor(broker=broker, actor_name=ACTOR_NAMES["outbox_one"], **retries)(
        run_outbox_message)
    dramatiq.actor(broker=broker, actor_name=ACTOR_NAMES["inbox"], **retries)(
        process_inbox_message)
    periodic(SWEEP, sweep_unfinished_work)
    periodic(RECONCILE, reconcile_payments)
    periodic(RETENTION, enforce_retention)
    periodic(ANCHOR, anchor_evidence)
    periodic(SEAL, seal_evidence)
    periodic(FOLLOW_PARCELS, follow_parcels)
    periodic(ESCALATE_DELIVERY_INCIDENTS, escalate_delivery_incidents)
    periodic(ESCALATE_ALERTS, escalate_unacknowledged_alerts)
    periodic(SEND_CAMPAIGNS, send_campaigns)
    periodic(SEND_DEFERRED_MESSAGES, send_deferred_messages)
    periodic(REMIND_CONSENTS, remind_consents)
    periodic(FLUSH_ANALYTICS, flush_analytics)
    periodic(RETIRE_PROVIDERS, retire_providers)
