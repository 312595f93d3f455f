"""The app's own command line run as child processes of a benchmark (`serve`, `worker`), on
the benchmark's database and scratch folder, and stopped by their ids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_environment(database_url: str, scratch: Path, **settings: str) -> dict[str, str]:
    """MALL_* variables for a child: the database, keys and checkpoints in `scratch`,
    sandboxes allowed, warnings only; `settings` add or override (name without MALL_)."""
    env = {**os.environ, "MALL_DATABASE_URL": database_url, "MALL_ALLOW_SANDBOX": "true",
           "MALL_KEYS_FILE": str(scratch / "keys.json"),
           "MALL_SQLITE_PATH": str(scratch / "unused.sqlite"),
           "MALL_EVIDENCE_CHECKPOINT_FILE": str(scratch / "checkpoints.jsonl"),
           "MALL_LOG_LEVEL": "WARNING"}
    env.update({f"MALL_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def running(commands: list[tuple[list[str], dict[str, str], Path]]
            ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`python -m entrypoints.cli <args>` for each (args, environment, log file), each in a
    session of its own so that the processes it forks stop with it."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for args, env, log in commands:
            with log.open("ab") as output:
                started.append(subprocess.Popen(
                    [sys.executable, "-m", "entrypoints.cli", *args], cwd=ROOT, env=env,
                    stdout=output, stderr=subprocess.STDOUT, start_new_session=True))
        yield started
    finally:
        stop_all(started)


def stop_all(processes: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """SIGTERM to every process's group at once; SIGKILL to a group still running after
    `grace` seconds. Groups are named by the ids of the processes started here."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=5)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
