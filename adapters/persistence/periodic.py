"""The PeriodicRuns port on the `periodic_run` table (PostgreSQL and SQLite alike)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from adapters.persistence import raw
from adapters.persistence.tables import PeriodicRun
from application.ports import Clock

# Insert the period's row unless taken; only then delete the job's runs older than the
# last argument.
CLAIM_AND_PRUNE = (
    f"WITH claimed AS ({raw.insert_of(PeriodicRun)} "  # noqa: S608
    "ON CONFLICT (id) DO NOTHING RETURNING id, job), "
    f"pruned AS (DELETE FROM periodic_run p USING claimed WHERE p.job = claimed.job "
    f"AND p.period_start < ${len(PeriodicRun._meta.columns) + 1}) SELECT id FROM claimed")


class PiccoloPeriodicRuns:
    """A period is claimed by inserting its row: the primary key (job, period start) lets
    exactly one insert through, in one statement, whichever process and engine."""

    def __init__(self, clock: Clock, keep: timedelta = timedelta(days=1)) -> None:
        self._clock = clock
        self._keep = keep

    @staticmethod
    def _key(job: str, period_start: datetime) -> str:
        return f"{job}@{period_start.isoformat()}"

    async def claim(self, job: str, period_start: datetime) -> bool:
        now = self._clock.now()
        row = PeriodicRun(
            id=self._key(job, period_start), job=job, period_start=period_start,
            # The pid is read here, not at start: a forked worker is a holder of its own.
            holder=f"{socket.gethostname()}:{os.getpid()}"[:120], started_at=now)
        if raw.on_postgres():
            # The claim and the pruning of the job's old runs, one statement.
            return bool(await raw.fetch(CLAIM_AND_PRUNE, *raw.values_of(row),
                                        period_start - self._keep))
        inserted = await PeriodicRun.insert(row).on_conflict(
            target=PeriodicRun.id, action="DO NOTHING").returning(PeriodicRun.id)
        if not inserted:
            return False
        await PeriodicRun.delete().where(
            (PeriodicRun.job == job)
            & (PeriodicRun.period_start < period_start - self._keep))
        return True

    async def finish(self, job: str, period_start: datetime, outcome: str) -> None:
        await PeriodicRun.update({
            PeriodicRun.finished_at: self._clock.now(),
            PeriodicRun.outcome: outcome,
        }).where(PeriodicRun.id == self._key(job, period_start))
