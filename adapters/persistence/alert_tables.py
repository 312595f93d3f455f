"""Tables of operator alerts: what each alerted incident was paged with, and what the
operators did about it (domain/alerts.py)."""

from __future__ import annotations

from piccolo.columns import Timestamptz, Varchar
from piccolo.table import Table


class IncidentAlert(Table, tablename="incident_alert"):
    """One row per incident opened with an alert (the incident's own row keeps its status):
    the severity it is alerted with now, who acknowledged and resolved it, when it escalated.
    No personal data: the summary is the mall's own words, the note is redacted."""

    incident_id = Varchar(length=40, primary_key=True)
    severity = Varchar(length=16)
    source = Varchar(length=40)
    summary = Varchar(length=300)
    opened_at = Timestamptz(index=True)
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = Varchar(length=40, default="")
    escalated_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = Varchar(length=40, default="")
    note = Varchar(length=500, default="")
