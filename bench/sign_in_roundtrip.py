"""Sign-in round trip: signing in (and up) through the sandbox OpenID-Connect-shaped provider,
then rotating the refresh token.

Starts the app in-process (PostgreSQL by default, `--sqlite` for the embedded engine) with
the embedded worker ON (`--no-worker`: the funnel's outbox messages wait in the broker). Then
N sign-ins, one after another, alternating a new customer (sign-up: 201) and a returning one
(an earlier customer of this run, picked at random: 200). Each sign-in is three requests, each
timed: GET /v1/auth/sandbox/start (302 to the provider), the provider's page
GET /sandbox/identity/authorize?...&login_hint=<name> (302 back with code, state and iss), and
GET /v1/auth/sandbox/callback?code&state&iss (the tokens). Then N refreshes,
POST /v1/auth/refresh with each sign-in's refresh token (it rotates), also timed. Failed
steps are counted by phase and reason, and the run goes on; the exit status is 1 if any
failed.

    .venv/bin/python -m bench.sign_in_roundtrip [-n 200] [--sqlite] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from adapters.persistence.tables import (
    AuthEvent,
    AuthFlow,
    AuthSession,
    Customer,
    IdentityLink,
    OutboxMessage,
)
from bench._harness import (
    ID_LIKE,
    add_count,
    benchmark_parser,
    latency_row,
    parse_and_run,
    quarter_medians,
    quarter_medians_line,
    result_header,
    running_app,
    summary_ms,
)

PHASES = ("start", "provider", "callback")
INCLUDES = ("server-side state, nonce and PKCE verifier stored (auth_flow) and the "
            "login_started funnel event with its outbox message; the sandbox page issuing an "
            "HMAC-signed code bound to redirect URI, nonce and PKCE challenge; the callback "
            "taking the flow (state checked, single use), redeeming the code (issuer, "
            "signature, expiry, replay, redirect URI, PKCE S256 and nonce checks), finding "
            "or creating the customer and identity link (sign-up: an evidence-ledger append "
            "too), opening a session (refresh-token digest stored, HS256 access token), the "
            "funnel events (signed_up and/or login_succeeded) and their analytics outbox "
            "messages, commit and dispatch")
EXCLUDES = ("a real provider's network latency, its sign-in page and its discovery, token "
            "and JWKS endpoints (the sandbox redeems the code in-process: no HTTP call, no ID "
            "token signature to verify); the browser's own redirects and rendering; new TCP "
            "connections (the client keeps them alive)")


class Failed(Exception):
    def __init__(self, phase: str, reason: str) -> None:
        super().__init__(f"{phase}: {reason}")
        self.phase, self.reason = phase, reason


@dataclass
class SignIn:
    new: bool
    hint: str
    phases: dict[str, float]
    total: float
    customer_id: str
    refresh_token: str


async def _get(session: aiohttp.ClientSession, url: str, phase: str,
               status: int | tuple[int, ...]) -> tuple[aiohttp.ClientResponse, str, float]:
    wanted = status if isinstance(status, tuple) else (status,)
    began = time.perf_counter()
    try:
        async with session.get(url, allow_redirects=False) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Failed(phase, f"{type(exc).__name__}: {exc}") from None
    took = time.perf_counter() - began
    if response.status not in wanted:
        raise Failed(phase, f"HTTP {response.status}: {text[:200]}")
    return response, text, took


async def sign_in(session: aiohttp.ClientSession, base: str, hint: str, new: bool) -> SignIn:
    """One sign-in as `hint`, each step timed; raises Failed on the first wrong answer."""
    began = time.perf_counter()
    response, _, start_s = await _get(session, f"{base}/v1/auth/sandbox/start", "start", 302)
    page = response.headers.get("Location", "")
    if "/sandbox/identity/authorize?" not in page:
        raise Failed("start", f"redirected to {page[:120]!r}, not the sandbox provider")
    response, _, provider_s = await _get(
        session, f"{page}&{urlencode({'login_hint': hint})}", "provider", 302)
    back = response.headers.get("Location", "")
    if "/v1/auth/sandbox/callback?" not in back:
        raise Failed("provider", f"redirected to {back[:120]!r}, not our callback")
    _, text, callback_s = await _get(session, back, "callback", 201 if new else 200)
    total = time.perf_counter() - began
    body = json.loads(text)
    if body.get("status") != "signed_in" or bool(body.get("created")) != new \
            or not body.get("access_token") or not body.get("refresh_token"):
        raise Failed("callback", f"unexpected answer: {text[:200]}")
    return SignIn(new, hint, {"start": start_s, "provider": provider_s,
                              "callback": callback_s}, total,
                  str(body["customer_id"]), str(body["refresh_token"]))


async def refresh(session: aiohttp.ClientSession, base: str, token: str) -> float:
    began = time.perf_counter()
    try:
        async with session.post(f"{base}/v1/auth/refresh",
                                json={"refresh_token": token}) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Failed("refresh", f"{type(exc).__name__}: {exc}") from None
    took = time.perf_counter() - began
    if response.status != 200:
        raise Failed("refresh", f"HTTP {response.status}: {text[:200]}")
    rotated = json.loads(text).get("refresh_token")
    if not rotated or rotated == token:
        raise Failed("refresh", "the refresh token did not rotate")
    return took


class Plan:
    """Who signs in next: new customers and returning ones (earlier customers of this run,
    picked with a fixed seed) alternate, starting with a new one."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}  # login hint -> customer id
        self._count = 0
        self._random = random.Random(20261126)

    def next(self) -> tuple[str, bool]:
        self._count += 1
        if self._count % 2 == 1 or not self.known:
            return f"bench-customer-{len(self.known) + 1:05d}", True
        return self._random.choice(sorted(self.known)), False


async def sign_ins(session: aiohttp.ClientSession, base: str, plan: Plan, count: int,
                   failures: Counter[str]) -> list[SignIn]:
    done = []
    for _ in range(count):
        hint, new = plan.next()
        try:
            result = await sign_in(session, base, hint, new)
        except Failed as exc:
            failures[f"{'sign-up' if new else 'returning'} {exc.phase}: "
                     f"{ID_LIKE.sub('<id>', exc.reason)[:160]}"] += 1
            if new:
                plan.known.setdefault(hint, "")  # it may exist now: a returning one later
            continue
        if new:
            plan.known[hint] = result.customer_id
        elif plan.known.get(hint) not in ("", result.customer_id):
            failures[f"returning callback: signed in as another customer than {hint}'s"] += 1
            continue
        done.append(result)
    return done


async def refreshes(session: aiohttp.ClientSession, base: str, tokens: list[str],
                    failures: Counter[str]) -> list[float]:
    timings = []
    for token in tokens:
        try:
            timings.append(await refresh(session, base, token))
        except Failed as exc:
            failures[f"refresh: {ID_LIKE.sub('<id>', exc.reason)[:160]}"] += 1
    return timings


async def drain(seconds: float) -> int:
    """Wait (bounded) for the funnel's outbox messages to be handled; how many are left."""
    deadline = time.monotonic() + seconds
    while True:
        left = int(await OutboxMessage.count().where(
            OutboxMessage.status.is_in(["pending", "processing"])))
        if left == 0 or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.2)


async def checks() -> dict[str, Any]:
    """What ended up in the database (warm-up included)."""
    events = await AuthEvent.select(AuthEvent.name).where(AuthEvent.provider == "sandbox")
    sessions = await AuthSession.select(AuthSession.status)
    outbox = await OutboxMessage.select(OutboxMessage.topic, OutboxMessage.status)
    return {
        "customers": int(await Customer.count()),
        "identity_links": int(await IdentityLink.count()),
        "auth_flows": int(await AuthFlow.count()),
        "auth_flows_unused": int(await AuthFlow.count().where(AuthFlow.used == False)),  # noqa: E712
        "sessions_by_status": dict(Counter(str(row["status"]) for row in sessions)),
        "auth_events": dict(Counter(str(row["name"]) for row in events)),
        "outbox_by_topic_status": dict(Counter(f"{row['topic']}/{row['status']}"
                                               for row in outbox)),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    failures: Counter[str] = Counter()
    warmup_failures: Counter[str] = Counter()
    plan = Plan()
    async with running_app(sqlite=args.sqlite, start_worker=not args.no_worker,
                           pool_size=args.pool_size) as app:
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        # A browser: it keeps the cookie that binds the sign-in to it (127.0.0.1 is an IP).
        async with aiohttp.ClientSession(timeout=timeout,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            warm = await sign_ins(session, app.base_url, plan, args.warmup, warmup_failures)
            await refreshes(session, app.base_url, [s.refresh_token for s in warm],
                            warmup_failures)
            began = time.perf_counter()
            done = await sign_ins(session, app.base_url, plan, args.sign_ins, failures)
            sign_in_elapsed = time.perf_counter() - began
            began = time.perf_counter()
            rotated = await refreshes(session, app.base_url, [s.refresh_token for s in done],
                                      failures)
            refresh_elapsed = time.perf_counter() - began
        left = await drain(args.drain) if not args.no_worker else None
        database = await checks()
    new = [s for s in done if s.new]
    returning = [s for s in done if not s.new]
    trips = [s.total for s in done]
    return {
        **result_header("sign_in_roundtrip", app), "embedded_worker": not args.no_worker,
        "sign_ins": args.sign_ins, "warmup": args.warmup,
        "succeeded": {"new": len(new), "returning": len(returning), "refresh": len(rotated)},
        "sign_in_elapsed_s": round(sign_in_elapsed, 3),
        "refresh_elapsed_s": round(refresh_elapsed, 3),
        "round_trip": summary_ms(trips),
        "phases": {phase: summary_ms([s.phases[phase] for s in done]) for phase in PHASES},
        "new": {"round_trip": summary_ms([s.total for s in new]),
                "callback": summary_ms([s.phases["callback"] for s in new])},
        "returning": {"round_trip": summary_ms([s.total for s in returning]),
                      "callback": summary_ms([s.phases["callback"] for s in returning])},
        "refresh": summary_ms(rotated),
        **quarter_medians(trips),
        "failures": dict(failures), "warmup_failures": dict(warmup_failures),
        "background_work_left": left, "database_checks": database,
        "includes": INCLUDES, "excludes": EXCLUDES,
    }


def report(result: dict[str, Any]) -> list[str]:
    def row(name: str, s: dict[str, float]) -> str:
        return latency_row(name, s, name_width=22, digits=7)

    ok = result["succeeded"]
    failed = sum(result["failures"].values())
    lines = [
        f"sandbox sign-in round trip on {result['database']}, embedded worker "
        f"{'ON' if result['embedded_worker'] else 'OFF'}",
        f"  sign-ins    {result['sign_ins']} sequential, alternating new and returning "
        f"(+{result['warmup']} warm-up, not counted), {result['sign_in_elapsed_s']:.1f} s; "
        f"succeeded: {ok['new']} sign-ups (201), {ok['returning']} returning (200)",
        row("round trip", result["round_trip"]),
        *(row(f"  {phase}", result["phases"][phase]) for phase in PHASES),
        row("round trip, sign-up", result["new"]["round_trip"]),
        row("  callback, sign-up", result["new"]["callback"]),
        row("round trip, returning", result["returning"]["round_trip"]),
        row("  callback, returning", result["returning"]["callback"]),
        quarter_medians_line(result),
        f"  refreshes   {ok['refresh']} rotated, one per signed-in session, "
        f"{result['refresh_elapsed_s']:.1f} s",
        row("refresh (rotation)", result["refresh"]),
        f"  failed steps        {failed or 'none'}",
        *(f"    {n:>5} x {what}" for what, n in sorted(result["failures"].items(),
                                                      key=lambda i: -i[1])),
    ]
    if result["warmup_failures"]:
        lines.append(f"  failed warm-up steps {sum(result['warmup_failures'].values())}")
    checks = result["database_checks"]
    left = result["background_work_left"]
    lines += [
        f"  database (warm-up included): {checks['customers']} customers, "
        f"{checks['identity_links']} identity links, {checks['auth_flows']} auth flows "
        f"({checks['auth_flows_unused']} unused), sessions {checks['sessions_by_status']}",
        f"    funnel events {checks['auth_events']}",
        f"    outbox {checks['outbox_by_topic_status']}",
        "  background work left at shutdown: "
        + ("not waited for (worker off)" if left is None else str(left)),
        *textwrap.wrap(result["includes"], 92, initial_indent="  includes    ",
                       subsequent_indent=" " * 14),
        *textwrap.wrap(result["excludes"], 92, initial_indent="  excludes    ",
                       subsequent_indent=" " * 14),
    ]
    return lines


def main() -> None:
    parser = benchmark_parser(__doc__)
    add_count(parser, "-n", "--sign-ins", default=200,
              what="sign-ins, one after another, alternating new and returning customers; "
                   "as many refreshes follow")
    add_count(parser, "--warmup", default=0,
              what="extra sign-ins and refreshes first, not measured")
    parser.add_argument("--no-worker", action="store_true",
                        help="embedded worker off: the funnel's outbox messages wait in the "
                             "broker")
    parser.add_argument("--drain", type=float, default=15.0,
                        help="seconds to wait for the outbox before shutdown (default 15)")
    result = parse_and_run(parser, run, report, label_width=12,
                           valid=lambda a: a.sign_ins >= 2 and a.warmup >= 0,
                           complaint="--sign-ins must be at least 2, --warmup not negative")
    if result["failures"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
