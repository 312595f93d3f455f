"""The suite's one table (Markdown, printed and optionally written to a results file) and
the key=value lines a script reads, in a fixed order, "n/a" for what was not measured."""

from __future__ import annotations

import os
import time
from typing import Any

from bench._harness import percentile
from bench.purchase_cost import Cost
from bench.server_processes import Ingest
from bench.sql_count import Tally

KEYS = ("ingest_ratio", "ingest_p99_ms", "statements_per_purchase",
        "transactions_per_purchase", "outbox_msgs_per_s", "scale_2_over_1", "sqlite_over_pg")


def _ms(trips: list[float], p: float) -> float:
    return float(percentile(trips, p)) * 1000


def _mean(runs: list[Ingest], field: str) -> float:
    return sum(float(getattr(run, field)) for run in runs) / len(runs)


class Report:
    def __init__(self, code: str, command: str) -> None:
        self.code, self.command = code, command
        self.date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self._load_before = os.getloadavg()[0]
        self.rows: list[tuple[str, str, str]] = []
        self.keys: dict[str, str] = dict.fromkeys(KEYS, "n/a")
        self._ceiling = 0.0
        self._pg_p50: float | None = None  # the first PostgreSQL purchase step's
        self.footer: list[str] = []

    def row(self, what: str, figure: str, note: str = "") -> None:
        self.rows.append((what, figure, note))

    def ceiling(self, rate: float, again: bool = False) -> None:
        if again:  # after seeding: beside the first, how far the machine's speed drifted
            self.row("raw ceiling again, after seeding", f"{rate:,.0f}/s",
                     f"{rate / self._ceiling:.2f}x the first: the machine, not the tables")
            return
        self._ceiling = rate
        self.row("raw ceiling: one-row INSERT transactions, asyncpg, 8 connections",
                 f"{rate:,.0f}/s", "3 s on a scratch table of the same database")

    def ingest(self, result: dict[str, Any], seeded: int) -> None:
        rate = float(result["throughput_rps"])
        ratio = rate / self._ceiling if self._ceiling else float("nan")
        first = self.keys["ingest_ratio"] == "n/a"
        if first:
            self.keys["ingest_ratio"] = f"{ratio:.3f}"
            self.keys["ingest_p99_ms"] = f"{result['p99_ms']:.1f}"
        self.row(f"webhook ingest, 8 senders, in process ({seeded:,} orders)",
                 f"{rate:,.0f}/s; p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms",
                 f"{ratio:.1%} of the ceiling; {result['requests']} callbacks after "
                 f"{result['warmup']} warm-up; non-2xx {result['non_2xx']}; no worker; "
                 f"{result['cpu_ms_per_request']:.2f} ms of this process's CPU a callback "
                 "(server and sending client)")

    def purchase(self, engine: str, trips: list[float], seeded: int | None = None) -> None:
        p50 = _ms(trips, 50)
        if self._pg_p50 is None:
            self._pg_p50 = p50
        size = f" ({seeded:,} orders)" if seeded is not None else ""
        self.row(f"purchase round trip (order + payment), {engine}{size}",
                 f"p50 {p50:.1f} ms, p99 {_ms(trips, 99):.1f} ms",
                 f"{len(trips)} sequential, embedded worker, sandbox answering at once")

    def cost(self, cost: Cost) -> None:
        total = cost.total
        per = cost.per_purchase
        self.keys["statements_per_purchase"] = f"{per(total.statements):.1f}"
        self.keys["transactions_per_purchase"] = f"{per(total.transactions):.1f}"
        settled = (f"settled in {cost.settle_s:.1f} s" if cost.settled
                   else f"NOT settled after {cost.settle_s:.1f} s")
        self.row("SQL per purchase, all (customer + callbacks + background)",
                 self._tally(total, per), f"{cost.purchases} purchases counted, {settled}")
        self.row("  of which the customer's own requests", self._tally(cost.customer, per),
                 "POST /v1/orders and POST /v1/orders/{id}/payments")
        self.row("  of which the provider's callbacks", self._tally(cost.callbacks, per),
                 "the sandbox's webhook requests")
        self.row("  of which background work", self._tally(cost.background, per),
                 "worker: outbox, inbox, sealing; anything outside a request")
        self.row("  of which the sandbox providers' own tables",
                 f"{per(cost.stand_ins):.1f} statements",
                 "sandbox_charge, sandbox_parcel(_event), mailbox_message: kept by the "
                 "provider itself with a real gateway, carrier or email service; counted in "
                 "the figures above all the same")
        most_first = sorted(cost.kinds.items(), key=lambda item: -item[1])
        self.row("  work statements by kind",
                 ", ".join(f"{kind} {per(n):.1f}" for kind, n in most_first),
                 "all origins, per purchase")

    @staticmethod
    def _tally(t: Tally, per: Any) -> str:
        return (f"{per(t.statements):.1f} statements ({per(t.work):.1f} work, "
                f"{per(t.control):.1f} BEGIN/COMMIT/ROLLBACK, {per(t.resets):.1f} pool resets) "
                f"in {per(t.transactions):.1f} transactions ({per(t.single):.1f} of them a "
                f"single statement without BEGIN), {per(t.read_only):.1f} read-only")

    def relay(self, rate: float, left: int, how: str, count: int) -> None:
        self.keys["outbox_msgs_per_s"] = f"{rate:.0f}"
        self.row("outbox relay, TrackEvent to the log sink", f"{rate:,.0f} messages/s",
                 f"{count} seeded messages, {left} not done in time; {how}")

    def processes(self, one: list[Ingest], two: list[Ingest], shared: bool) -> None:
        mean = {count: sum(i.rate for i in runs) / len(runs)
                for count, runs in ((1, one), (2, two))}
        ratio = mean[2] / mean[1] if mean[1] else float("nan")
        for count, runs in ((1, one), (2, two)):
            self.row(f"webhook ingest, 8 senders, {count} server process{'es' * (count > 1)}",
                     f"{mean[count]:,.0f}/s; p50 {_mean(runs, 'p50_ms'):.1f} ms, "
                     f"p99 {_mean(runs, 'p99_ms'):.1f} ms",
                     f"mean of {len(runs)} runs alternating 1 and 2 processes ("
                     f"{', '.join(f'{i.rate:.0f}/s' for i in runs)}); `python -m "
                     f"entrypoints.cli serve`, no worker; failed {sum(i.failed for i in runs)}; "
                     f"the sending client used {_mean(runs, 'client_cores'):.2f} of a core")
        if shared:
            self.keys["scale_2_over_1"] = f"{ratio:.2f}"
            self.row("2 processes over 1", f"{ratio:.2f}", "`serve --workers 2`, one port "
                     "(SO_REUSEPORT); client, servers and PostgreSQL share the 2 cores")
        else:
            self.row("2 processes over 1", f"n/a ({ratio:.2f} side by side)",
                     "`serve` has no --workers yet, so 2 processes cannot share a port; they "
                     "listened on 2 ports, 4 senders each")

    def sqlite(self, trips: list[float], postgres: list[float], turns: int) -> None:
        """SQLite's purchase against PostgreSQL's, measured by turns in the same minutes."""
        p50, pg_p50 = _ms(trips, 50), _ms(postgres, 50)
        earlier = p50 / (self._pg_p50 or pg_p50)
        each = len(trips) // turns
        self.row("purchase round trip (order + payment), SQLite",
                 f"p50 {p50:.1f} ms, p99 {_ms(trips, 99):.1f} ms",
                 f"{len(trips)} sequential in {turns} turns of {each}, each after {each} on "
                 f"PostgreSQL: p50 {pg_p50:.1f} ms there, so {p50 / pg_p50:.2f}x (over the "
                 f"first PostgreSQL step's p50, minutes earlier: {earlier:.2f}x); "
                 "embedded worker, sandbox answering at once")
        self.keys["sqlite_over_pg"] = f"{p50 / pg_p50:.2f}"

    def seeded(self, small: int, grown: int, wanted: int, seconds: float) -> None:
        reached = "all" if grown >= wanted else f"stopped at {grown:,} (time budget)"
        self.row("seeded orders and payments", f"{small:,} -> {grown:,}",
                 f"asked for {wanted:,}: {reached}; {seconds:.0f} s; other customers' "
                 f"history, INSERT ... SELECT generate_series, then VACUUM ANALYZE and "
                 f"CHECKPOINT")

    def finish(self, seconds: float, errors: dict[str, int], code_after: str) -> None:
        if code_after.split("+")[0] != self.code.split("+")[0]:
            self.code += f" (HEAD moved to {code_after} during the run)"
        elif code_after != self.code:
            self.code += f" ({code_after} at the end: files changed during the run)"
        logged = sum(errors.values())
        self.footer = [f"{self.date}, code {self.code}, {os.cpu_count()} cores (1-minute "
                       f"load average {self._load_before:.1f} at the start, "
                       f"{os.getloadavg()[0]:.1f} at the end: other work shares them), "
                       f"{seconds:.0f} s; errors logged: {logged or 'none'}",
                       *(f"  {n} x {what}" for what, n in errors.items()),
                       f"command: {self.command}"]

    def table(self) -> list[str]:
        return ["| what | figure | notes |", "|---|---|---|",
                *(f"| {what} | {figure} | {note} |" for what, figure, note in self.rows)]

    def key_lines(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.keys.items()]

    def render(self) -> str:
        return "\n".join([*self.table(), "", *self.footer, "", *self.key_lines()])

    def markdown(self) -> str:
        """The results file: the same table, the run's details, the key lines."""
        return "\n".join(["# `make bench` results", "",
                          "Written by `.venv/bin/python -m bench.suite --results "
                          "bench/RESULTS.md`; how to read it: README.md, Benchmarks.", "",
                          *self.table(), "",
                          *(f"    {line}" for line in self.footer), "", "```",
                          *self.key_lines(), "```", ""])
