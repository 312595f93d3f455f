"""Every statement one purchase sends, in order, by whose work it was, with the code that
sent it: the list behind `statements_per_purchase`, for finding what to cut.

    .venv/bin/python -m bench.purchase_statements [--purchases 1] [--warmup 3]

Runs purchases as `bench.suite` does (PostgreSQL, embedded worker, sandbox answering at
once, periodic jobs an hour away), then counts `--purchases` more the same way
(bench/purchase_cost.py) and prints, per origin (customer, callback, background), each
statement (its first 70 characters, the connection it ran on, the app's last four frames
that sent it), then how often each distinct one ran, and the totals per purchase.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import traceback
from collections import Counter
from pathlib import Path

import aiohttp

from bench import _harness as harness
from bench.order_payment_roundtrip import FAST_SANDBOX, sign_in, timed_round_trips
from bench.purchase_cost import counted_purchases
from bench.sql_count import BACKGROUND, CALLBACK, CUSTOMER, ORIGIN, SqlCounter, tag_requests
from bench.suite import QUIET_PERIODIC

SPACES = re.compile(r"\s+")
ROOT = str(Path(__file__).resolve().parent.parent)


def _sender() -> str:
    """The app's frames that sent the statement, innermost last (module.function)."""
    frames = [f"{Path(frame.filename).stem}.{frame.name}"
              for frame in traceback.extract_stack()
              if frame.filename.startswith(ROOT) and "/bench/" not in frame.filename
              and "/.venv/" not in frame.filename]
    return " > ".join(frames[-4:])


class Listing(SqlCounter):
    """Counts as the benchmark does, and keeps each statement with whoever sent it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int, str]] = []

    def saw(self, connection: object, query: str) -> None:
        if id(connection) not in self._ignored:
            text = SPACES.sub(" ", query).strip()[:70]
            self.seen.append((ORIGIN.get(), id(connection) % 10_000, f"{text}  <- {_sender()}"))
        super().saw(connection, query)


async def run(purchases: int, warmup: int) -> None:
    listing = Listing()
    async with harness.scratch_postgres() as url:
        async with harness.running_app(sqlite=False, start_worker=True, database_url=url,
                                       prepare=tag_requests, **FAST_SANDBOX,
                                       **QUIET_PERIODIC) as app:
            async with aiohttp.ClientSession() as session:
                auth = await sign_in(session, app.base_url)
                await timed_round_trips(session, app.base_url, auth, iterations=warmup,
                                        warmup=0)
                cost = await counted_purchases(session, app.base_url, auth, url,
                                               purchases=purchases, counter=listing)
    for origin in (CUSTOMER, CALLBACK, BACKGROUND):
        rows = [(connection, text) for o, connection, text in listing.seen if o == origin]
        print(f"\n== {origin}: {len(rows)} statements")
        for connection, text in rows:
            print(f"  [{connection:4d}] {text}")
    print("\n== distinct statements, all origins")
    for text, n in Counter(text for _, _, text in listing.seen).most_common():
        print(f"  {n:4d}  {text}")
    total = cost.total
    print(f"\nper purchase: {cost.per_purchase(total.statements):.1f} statements in "
          f"{cost.per_purchase(total.transactions):.1f} transactions; the customer's "
          f"{cost.per_purchase(cost.customer.statements):.1f}; callbacks "
          f"{cost.per_purchase(cost.callbacks.statements):.1f}; background "
          f"{cost.per_purchase(cost.background.statements):.1f}; on the sandbox providers' "
          f"own tables {cost.per_purchase(cost.stand_ins):.1f}; settled {cost.settled}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--purchases", type=int, default=1, help="purchases counted (1)")
    parser.add_argument("--warmup", type=int, default=3, help="purchases before them (3)")
    args = parser.parse_args()
    harness.configure_logging("ERROR")
    asyncio.run(run(args.purchases, args.warmup))


if __name__ == "__main__":
    main()
