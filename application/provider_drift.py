"""Drift in a provider's answers becomes an incident, once per drift, with the first
offending exchange kept as its evidence, and an alert to the operators."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from application.ports import TaskQueue, UnitOfWorkFactory
from application.transactions import open_incident
from domain.evidence import EvidenceDraft
from domain.provider_drift import Drift
from domain.redaction import redact

log = logging.getLogger("mall.providers")
KIND = "provider_drift"
# An announced end leaves time to act; a value we do not know may already break a flow.
SEVERITY = {"deprecation": "warning", "sunset": "warning"}


class DriftReports:
    def __init__(self, uow: UnitOfWorkFactory, queue: TaskQueue) -> None:
        self._uow, self._queue = uow, queue
        self._seen: set[str] = set()  # this process's reported drifts: no look at the table

    async def report(self, provider: str, drifts: Sequence[Drift],
                     exchange: Mapping[str, Any]) -> None:
        for drift in drifts:
            subject = _subject(provider, drift)
            if subject in self._seen:
                continue
            try:
                await self._open(provider, drift, subject, exchange)
            except Exception:  # the provider's answer is still used; the next one reports
                log.exception("could not record drift of %s (%s)", provider, drift.signature)
                continue
            self._seen.add(subject)

    async def _open(self, provider: str, drift: Drift, subject: str,
                    exchange: Mapping[str, Any]) -> None:
        async with self._uow() as uow:
            if any(i["status"] != "resolved" for i in await uow.incidents.of_subject(subject)):
                return  # reported by another process, or before a restart
            detail = {"provider": provider, "drift": drift.kind, "where": drift.where,
                      "value": drift.value}
            incident_id = await open_incident(
                uow, KIND, subject, detail, severity=SEVERITY.get(drift.kind, "critical"),
                source=provider, summary=_summary(provider, drift))
            await uow.evidence.append(EvidenceDraft(
                source=provider, kind="provider.drift", subject=subject,
                context={"incident_id": incident_id, **detail},
                payload=redact(dict(exchange))))  # its digest too: no secret in it
            await uow.commit()
            new = list(uow.new_outbox_ids)
        if new:
            self._queue.dispatch_outbox(new)
        log.warning("%s", _summary(provider, drift))


def _subject(provider: str, drift: Drift) -> str:
    """`drift:<provider>:<signature>`, shortened with a digest past the column's 80."""
    subject = f"drift:{provider}:{drift.signature}"
    if len(subject) > 80:
        subject = f"{subject[:63]}#{hashlib.sha256(subject.encode()).hexdigest()[:16]}"
    return subject


def _summary(provider: str, drift: Drift) -> str:
    if drift.kind == "missing_field":
        return f"{provider} answered without {drift.where}, which the mall reads"
    if drift.kind == "unknown_value":
        return f"{provider} answered {drift.where}={drift.value!r}, a value the mall does not know"
    return f"{provider} announces the end of an API the mall calls ({drift.where}: {drift.value})"
