"""Command line: serve, worker, migrate, create-admin, evidence verify|checkpoint, reconcile,
retention. Long commands show their progress on a terminal and end with a summary; --json
prints their report alone, for scripts."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import json
import os
import socket
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from pydantic_settings import SettingsError

import bootstrap
from domain.customers import Role
from domain.errors import DomainError
from entrypoints import cli_output as output


class StartupError(Exception):
    """What stops the start (a setting, a port), in lines the operator can act on; exit 2."""


def _container(*, starting: bool = False) -> tuple[bootstrap.Settings, bootstrap.Container]:
    settings = bootstrap.load_keys(bootstrap.Settings())
    bootstrap.configure_logging(settings.log_level)
    bootstrap.configure_tracing(settings)
    container = bootstrap.build(settings)
    if starting:  # a provider that cannot be built would fail every request that needs it
        problems = bootstrap.unbuildable_providers(container)
        if problems:
            raise StartupError("\n".join(f"configuration error: {variable}: {reason}"
                                         for variable, reason in problems.items()))
    return settings, container


def serve(workers: int = 1) -> int:
    """The HTTP server; with `workers` above 1, that many processes sharing the port."""
    from entrypoints.processes import run_processes

    settings, container = _container(starting=True)
    if workers > 1 and not settings.database_url:
        raise StartupError(
            "configuration error: --workers needs PostgreSQL (MALL_DATABASE_URL): the embedded "
            "SQLite database takes one writer at a time and the embedded worker's queue lives "
            "in one process; run one server process, or set MALL_DATABASE_URL (and "
            "MALL_REDIS_URL, with `mall worker --processes M` for the background work)")
    mode = "embedded" if settings.runs_worker_in_process else "api only"
    database = "PostgreSQL" if settings.database_url else f"SQLite ({settings.sqlite_path})"
    try:  # before anything starts: run_app would start the embedded worker, then fail
        socket.create_server((settings.host, settings.port)).close()
    except OSError as exc:
        raise StartupError(cannot_listen(settings.host, settings.port, exc)) from None

    def announce(_: str = "") -> None:  # once the port is open, not before
        processes = f"{workers} processes; " if workers > 1 else ""
        print(f"Mall integrations backend on {settings.base_url} ({processes}{mode}; "
              f"{database}); API reference at {settings.base_url}/docs",
              flush=True)

    if workers > 1:
        return run_processes(workers, _serve_one, name="web", on_ready=announce)
    _listen(settings, container, announce)
    return 0


def _serve_one(ready: Any) -> int:
    """One of the processes of `mall serve --workers N`, on the port the others share."""
    def serving() -> int:
        settings, container = _container(starting=True)
        _listen(settings, container, lambda _: ready.put(os.getpid()), reuse_port=True)
        return 0

    return _guarded(serving)


def _listen(settings: bootstrap.Settings, container: bootstrap.Container,
            announce: Callable[[str], None], *, reuse_port: bool = False) -> None:
    from entrypoints.http.access_log import PathOnlyAccessLogger
    from entrypoints.http.app import create_app

    try:
        web.run_app(create_app(container), host=settings.host, port=settings.port,
                    print=announce, access_log_class=PathOnlyAccessLogger,
                    reuse_port=reuse_port or None)
    except OSError as exc:
        raise StartupError(cannot_listen(settings.host, settings.port, exc)) from None


def work(processes: int = 1) -> int:
    """The Dramatiq worker; with `processes` above 1, that many worker processes."""
    from entrypoints.processes import run_processes
    from entrypoints.worker import main as worker_main

    if processes <= 1:
        worker_main(*_container(starting=True))
        return 0
    _container(starting=True)  # a setting that would stop every process stops the start
    return run_processes(
        processes, _work_one, name="worker",
        on_ready=lambda: print(f"{processes} worker processes running", flush=True))


def _work_one(ready: Any) -> int:
    """One of the processes of `mall worker --processes N`."""
    from entrypoints.worker import main as worker_main

    def working() -> int:
        worker_main(*_container(starting=True), ready=lambda: ready.put(os.getpid()))
        return 0

    return _guarded(working)


def cannot_listen(host: str, port: int, exc: OSError) -> str:
    """Why the server cannot listen, and what to change."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use: stop the other server or set MALL_PORT"
    if exc.errno == errno.EACCES:
        return (f"port {port} needs privileges this user does not have: set MALL_PORT to a "
                "port above 1023")
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}): check MALL_HOST and MALL_PORT"


async def _create_admin(email: str, password: str) -> str:
    _, container = _container()
    await bootstrap.prepare(container)
    customer = await container.accounts().register(email, password, role=Role.ADMIN)
    return customer.id


async def _evidence(action: str, quiet: bool) -> tuple[dict[str, Any], str]:
    """The report of `mall evidence verify|checkpoint`, and where the checkpoints are kept."""
    _, container = _container()
    await bootstrap.prepare(container)
    service = container.evidence()
    with output.progress("verifying the evidence chain", quiet) as shown:
        service.on_progress = shown
        report = await (service.verify() if action == "verify" else service.checkpoint())
    return report.as_dict(), container.config.evidence_checkpoint_file()


async def _reconcile(older_than_minutes: float) -> dict[str, int]:
    _, container = _container()
    await bootstrap.prepare(container)
    return await container.payments().reconcile(timedelta(minutes=older_than_minutes))


async def _retention() -> dict[str, int]:
    _, container = _container()
    await bootstrap.prepare(container)
    report = await container.privacy().enforce_retention()
    report["ci_resealed"] = await container.real_names().rotate_keys()
    return report


def evidence_problem(report: dict[str, Any], checkpoint_file: str) -> str:
    """What is wrong with the ledger, for the operator reading the terminal."""
    at = f"record {report['first_bad_seq']}: " if report["first_bad_seq"] is not None else ""
    lines = [f"evidence ledger not verified: {at}{report['reason']}"]
    checkpoint = report.get("checkpoint")
    if checkpoint:
        lines.append(
            f"  checkpoint concerned: line {checkpoint['line']} of {checkpoint_file}, vouching "
            f"for {checkpoint['seq']} records ending in {checkpoint['head_hash']}, signed at "
            f"{checkpoint['signed_at']} with key {checkpoint['key_id']}")
    lines.append("  keep the database and the checkpoint file as they are (they are the "
                 "evidence) and tell whoever answers for audits and disputes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mall", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serving = sub.add_parser("serve", help="run the HTTP server (and, in embedded mode, the "
                                           "worker)")
    serving.add_argument("--workers", type=_positive, default=1, metavar="N",
                         help="N server processes sharing the port (PostgreSQL only)")
    working = sub.add_parser("worker", help="run the Dramatiq worker (with REDIS_URL)")
    working.add_argument("--processes", type=_positive, default=1, metavar="N",
                         help="N worker processes")
    migrating = sub.add_parser("migrate", help="bring the database schema up to date")
    admin = sub.add_parser("create-admin", help="create an account with the admin role")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="read from MALL_ADMIN_PASSWORD or asked if omitted")
    evidence = sub.add_parser("evidence", help="the evidence ledger")
    evidence_actions = evidence.add_subparsers(dest="action", required=True)
    evidence_commands = [evidence_actions.add_parser(
        "verify", help="verify the chain against its recorded head and the signed checkpoints, "
                       "then sign a checkpoint; exit 1 on any problem"),
        evidence_actions.add_parser(
        "checkpoint", help="check the records added since the last checkpoint and sign one "
                           "(what the worker does periodically); exit 1 on any problem")]
    verifying = sub.add_parser("verify-evidence", help="the same as `evidence verify`")
    reconciling = sub.add_parser(
        "reconcile", help="ask the providers now about payments still waiting for their "
                          "answer (what the worker does every few minutes)")
    reconciling.add_argument("--older-than-minutes", type=float, default=0, metavar="M",
                             help="only payments waiting longer than M minutes (default: all)")
    retention = sub.add_parser(
        "retention", help="delete what no retention rule keeps any more and re-seal CIs "
                          "under the current key (what the worker does daily)")
    for command in (migrating, verifying, reconciling, retention, *evidence_commands):
        command.add_argument("--json", action="store_true",
                             help="print the report alone, as JSON, for scripts")
    seller_key = sub.add_parser("seller-key", help="print the API key a seller's system uses "
                                                   "to register parcels (/v1/seller/...)")
    seller_key.add_argument("seller_id")
    args = parser.parse_args(argv)

    return _guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return serve(args.workers)
    if args.command == "worker":
        return work(args.processes)
    if args.command == "migrate":
        _, container = _container()
        with output.working("bringing the database schema up to date", args.json):
            asyncio.run(bootstrap.prepare(container))
        output.report({"ok": True}, args.json, "database schema is up to date")
    elif args.command == "reconcile":
        with output.working("asking the providers about waiting payments", args.json):
            found = asyncio.run(_reconcile(args.older_than_minutes))
        output.report(found, args.json, (
            f"reconciliation: {found['checked']} payments asked about, {found['changed']} "
            f"changed, {found['unreachable']} left for later (provider unreachable)"))
    elif args.command == "retention":
        with output.working("deleting what no retention rule keeps", args.json):
            purged = asyncio.run(_retention())
        output.report(purged, args.json, "retention: " + ", ".join(
            f"{count} {what.replace('_', ' ')}" for what, count in purged.items()))
    elif args.command == "create-admin":
        password = (args.password or os.environ.get("MALL_ADMIN_PASSWORD")
                    or getpass.getpass("admin password: "))
        customer_id = asyncio.run(_create_admin(args.email, password))
        print(f"admin {customer_id} created")
    elif args.command == "seller-key":
        _, container = _container()
        try:
            print(container.seller_keys().issue(args.seller_id))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command in ("evidence", "verify-evidence"):
        report, checkpoint_file = asyncio.run(
            _evidence(getattr(args, "action", "verify"), args.json))
        output.report(report, args.json, (
            f"evidence ledger verified: {report['checked']} records checked, the chain ends "
            f"at {report['head_seq']}, a signed checkpoint vouches for "
            f"{report['anchored_seq']}") if report["ok"] else "evidence ledger NOT verified")
        if not report["ok"]:
            print(evidence_problem(report, checkpoint_file), file=sys.stderr)
            return 1
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return int(text)


def _guarded(command: Callable[[], int]) -> int:
    """Run a command; what stops it before it starts is printed, with exit code 2."""
    try:
        return command()
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
    except ValidationError as exc:
        print(configuration_error(exc), file=sys.stderr)
    except SettingsError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        print(f"configuration error: {exc}{cause}", file=sys.stderr)
    except StartupError as exc:
        print(exc, file=sys.stderr)
    return 2


# Settings whose values are not printed back: keys, secrets, URLs that may hold a password.
_HIDDEN = ("secret", "key", "password", "token", "database_url", "redis_url",
           "identity_provider_settings")


def configuration_error(exc: ValidationError) -> str:
    """A settings error, one line per problem: the MALL_* variable, the value given (unless it
    may be a secret), and what is allowed."""
    lines = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a rule across settings: its message names the variables
            lines.append(f"configuration error: {message}")
            continue
        name, *inner = map(str, error["loc"])
        value = error["input"]
        shown = ("(hidden)" if any(word in name for word in _HIDDEN)
                 else value if isinstance(value, str) else json.dumps(value, default=str))
        where = "".join(f"[{part}]" for part in inner)
        lines.append(f"configuration error: MALL_{name.upper()}{where}={shown[:200]}: {message}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
