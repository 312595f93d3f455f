"""How long commands show their work: a progress bar (or a spinner) on stderr while they run
when it is a terminal, then a summary; with --json, the report alone on stdout, for scripts."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_errors = Console(stderr=True)


@contextlib.contextmanager
def progress(what: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A bar for `what`; the callable it gives takes (done, total). Nothing with `quiet`
    (--json) or when stderr is not a terminal."""
    if quiet or not _errors.is_terminal:
        yield lambda done, total: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=_errors, transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextlib.contextmanager
def working(what: str, quiet: bool) -> Iterator[None]:
    """A spinner for work whose size is not known beforehand."""
    if quiet or not _errors.is_terminal:
        yield
        return
    with _errors.status(what):
        yield


def report(result: dict[str, Any], as_json: bool, summary: str) -> None:
    """The report as JSON (--json), or the summary line for a person."""
    if as_json:
        print(json.dumps(result))
    else:
        print(summary)
        sys.stdout.flush()
