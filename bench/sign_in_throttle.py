"""Sign-in throttling under a password-guessing burst: are webhooks still acknowledged as fast?

Starts the app in-process (PostgreSQL by default, `--sqlite` for the embedded engine; the
embedded worker OFF, as in bench.webhook_ingest) and registers one customer. Then two phases:

1. **alone**: N signed sandbox `payment.succeeded` webhooks (unique ids, references that
   match no payment) with C requests in flight; each acknowledgement is timed.
2. **during a burst**: the same webhook stream, and at the same moment B wrong-password
   sign-ins (POST /v1/auth/login) for that one customer, G in flight (a handful of clients).
   The webhook stream goes on until the burst is over and at least N webhooks were sent.

Printed: webhook ack p50/p90/p99/max for both phases, the sign-in answers by status (401
before the limit, 429 after it), whether every 429 carried `Retry-After`, the range of those
values, and how many argon2 checks the app ran for the burst.

    .venv/bin/python -m bench.sign_in_throttle [-n 500] [-c 8] [--burst 200] [--json]
    .venv/bin/python -m bench.sign_in_throttle --rate-limit "sign_in.account=100000 per minute" \\
        --rate-limit "sign_in.address=100000 per minute"    # no throttling: every guess hashed
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp

import bootstrap
from bench._harness import (
    Running,
    add_count,
    add_load_flags,
    benchmark_parser,
    count_password_checks,
    parse_and_run,
    result_header,
    running_app,
    summary_ms,
)
from bench._webhooks import PATH, signed_headers, unmatched_event

PASSWORD = "the right passphrase"


async def webhook_stream(session: aiohttp.ClientSession, url: str, run: str, *,
                         at_least: int, concurrency: int,
                         until: asyncio.Event | None = None) -> tuple[list[float], Counter[str]]:
    """Send signed webhooks, `concurrency` in flight, until `at_least` were sent and, when
    given, `until` is set; every acknowledgement's latency in seconds."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    sent = 0

    def more() -> bool:
        return sent < at_least or (until is not None and not until.is_set())

    async def sender() -> None:
        nonlocal sent
        while more():
            body = unmatched_event("throttle", run, sent)
            sent += 1
            headers = signed_headers(body)
            began = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    latencies.append(time.perf_counter() - began)
                    outcomes[f"http_{response.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                latencies.append(time.perf_counter() - began)
                outcomes[f"error_{type(exc).__name__}"] += 1

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies, outcomes


async def guessing_burst(session: aiohttp.ClientSession, url: str, email: str, *,
                         guesses: int, concurrency: int) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    retry_after: list[int] = []
    missing_retry_after = 0
    pending = iter(range(guesses))
    began = time.perf_counter()

    async def guesser() -> None:
        nonlocal missing_retry_after
        for n in pending:
            body = {"email": email, "password": f"wrong guess {n:04d}"}
            try:
                async with session.post(url, json=body) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
                    if response.status == 429:
                        if "Retry-After" in response.headers:
                            retry_after.append(int(response.headers["Retry-After"]))
                        else:
                            missing_retry_after += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[f"error_{type(exc).__name__}"] += 1

    await asyncio.gather(*(guesser() for _ in range(concurrency)))
    return {"statuses": dict(statuses), "elapsed_s": round(time.perf_counter() - began, 3),
            "retry_after_s": [min(retry_after), max(retry_after)] if retry_after else None,
            "throttled_without_retry_after": missing_retry_after}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    fields = bootstrap.Settings.model_fields
    if "password_hashing_concurrency" in fields:  # code from before it has no such setting
        overrides["password_hashing_concurrency"] = args.hashing_threads
    if args.rate_limit:
        if "rate_limits" not in fields:
            raise SystemExit("--rate-limit: this version of the app has no rate limits")
        overrides["rate_limits"] = rate_limits(args.rate_limit)
    async with running_app(sqlite=args.sqlite, start_worker=False, pool_size=args.pool_size,
                           **overrides) as app:
        return await measure(args, app)


async def measure(args: argparse.Namespace, app: Running) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    connector = aiohttp.TCPConnector(limit=args.concurrency + args.burst_concurrency + 2)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    email = f"target.{run_id}@example.com"
    settings = app.container.settings()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        registered = await session.post(app.base_url + "/v1/auth/register",
                                        json={"email": email, "password": PASSWORD})
        if registered.status != 201:
            raise SystemExit(f"could not register the target: {registered.status} "
                             f"{await registered.text()}")
        hooks = app.base_url + PATH
        if args.warmup:
            await webhook_stream(session, hooks, f"{run_id}w", at_least=args.warmup,
                                 concurrency=args.concurrency)
        alone, alone_outcomes = await webhook_stream(
            session, hooks, f"{run_id}a", at_least=args.requests, concurrency=args.concurrency)

        checks = count_password_checks(app.container)
        burst_over = asyncio.Event()

        async def burst() -> dict[str, Any]:
            try:
                return await guessing_burst(session, app.base_url + "/v1/auth/login", email,
                                            guesses=args.burst,
                                            concurrency=args.burst_concurrency)
            finally:
                burst_over.set()

        (during, during_outcomes), guessed = await asyncio.gather(
            webhook_stream(session, hooks, f"{run_id}b", at_least=args.requests,
                           concurrency=args.concurrency, until=burst_over),
            burst())
        right = await session.post(app.base_url + "/v1/auth/login",
                                   json={"email": email, "password": PASSWORD})
        right_status = right.status
    return {
        **result_header("sign_in_throttle", app),
        "webhooks": args.requests, "concurrency": args.concurrency, "warmup": args.warmup,
        "burst": args.burst, "burst_concurrency": args.burst_concurrency,
        "hashing_threads": getattr(settings, "password_hashing_concurrency",
                                   "none (checks on the event loop)"),
        "sign_in_limits": {k: v for k, v in getattr(settings, "rate_limits", {}).items()
                           if k.startswith("sign_in.")} or "none (this code has no limits)",
        "alone": {"sent": len(alone), **summary_ms(alone), "outcomes": dict(alone_outcomes)},
        "during_burst": {"sent": len(during), **summary_ms(during),
                         "outcomes": dict(during_outcomes)},
        "sign_ins": guessed, "argon2_checks_during_burst": checks[0],
        "right_password_after_burst": right_status,
    }


def report(result: dict[str, Any]) -> list[str]:
    def row(name: str, phase: dict[str, Any]) -> str:
        return (f"  {name:<20}{phase['sent']:>6}  p50 {phase['p50_ms']:8.2f}  p90 "
                f"{phase['p90_ms']:8.2f}  p99 {phase['p99_ms']:8.2f}  max {phase['max_ms']:8.2f}"
                f"  {phase['outcomes']}")

    signs = result["sign_ins"]
    return [
        f"sign-in throttling on {result['database']}, embedded worker OFF",
        f"  webhooks            at least {result['webhooks']} per phase, {result['concurrency']} "
        f"in flight (+{result['warmup']} warm-up)",
        f"  burst               {result['burst']} wrong passwords for one account, "
        f"{result['burst_concurrency']} in flight; hashing threads "
        f"{result['hashing_threads']}; limits {result['sign_in_limits']}",
        "  webhook acks (ms)     sent",
        row("alone", result["alone"]),
        row("during the burst", result["during_burst"]),
        f"  sign-in answers     {signs['statuses']} in {signs['elapsed_s']:.3f} s",
        f"  Retry-After         {signs['retry_after_s']} s "
        f"(429s without it: {signs['throttled_without_retry_after']})",
        f"  argon2 checks       {result['argon2_checks_during_burst']} for "
        f"{result['burst']} guesses; the right password afterwards: "
        f"{result['right_password_after_burst']}",
    ]


def rate_limits(pairs: list[str]) -> dict[str, str]:
    limits: dict[str, str] = {}
    for pair in pairs:
        scope, _, rule = pair.partition("=")
        if not rule:
            raise SystemExit(f"--rate-limit {pair!r}: give scope=rule, e.g. "
                             "'sign_in.account=10 per 15 minutes'")
        limits[scope.strip()] = rule.strip()
    return limits


def main() -> None:
    parser = benchmark_parser(__doc__)
    add_load_flags(parser, requests=(500, "webhooks per phase, at least"),
                   concurrency=(8, "webhooks in flight"),
                   warmup=(100, "webhooks sent first and not measured"))
    add_count(parser, "--burst", default=200, what="wrong passwords for the one account")
    add_count(parser, "--burst-concurrency", default=8, what="sign-ins in flight")
    add_count(parser, "--hashing-threads", default=2, what="password_hashing_concurrency")
    parser.add_argument("--rate-limit", action="append", default=[],
                        help="override a limit, e.g. 'sign_in.account=10 per 15 minutes' "
                             "(repeatable)")
    parse_and_run(parser, run, report, label_width=20,
                  valid=lambda a: a.warmup >= 0 and min(
                      a.requests, a.concurrency, a.burst, a.burst_concurrency,
                      a.hashing_threads) >= 1,
                  complaint="counts must be positive, --warmup not negative")


if __name__ == "__main__":
    main()
