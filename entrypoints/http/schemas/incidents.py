"""Bodies of the operators' incidents: what an alerted incident says and how it ends."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from domain.alerts import AlertStatus
from entrypoints.http.schemas.fields import Answer, Strict


class AlertedIncidentOut(Answer):
    """An incident the operators were alerted about, and what they did about it."""

    id: str
    kind: str
    subject: str
    status: AlertStatus
    severity: Literal["info", "warning", "error", "critical"] | None = Field(
        description="what it is alerted with now (one up once escalated); null: it was "
                    "alerted without its id (a job given up), so no page follows it")
    source: str
    summary: str
    opened_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    escalated_at: str | None
    resolved_at: str | None
    resolved_by: str | None
    note: str


class AlertedIncidentList(Answer):
    incidents: list[AlertedIncidentOut]


class ResolveIncidentIn(Strict):
    note: str = Field("", max_length=500, description="what was done; kept as evidence")
