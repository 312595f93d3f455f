"""Seeded history: orders and their payments of other customers, added with
INSERT ... SELECT generate_series, so the hot queries run over a table of a given size."""

from __future__ import annotations

import time

import asyncpg

CUSTOMERS = 20_000  # seeded orders are spread over this many other customers
ORDERS = (
    "INSERT INTO orders (id, customer_id, currency, status, carrier, note, lines, "
    "shipping_address, created_at, total, held_for_review) "
    "SELECT 'ord_seed_' || g, 'cus_seed_' || (g % $3), 'KRW', "
    "(ARRAY['paid','shipped','delivered','cancelled','pending_payment'])[1 + g % 5], "
    "'sandbox', '', '[]', '{}', now() - g * interval '30 seconds', 39000, false "
    "FROM generate_series($1::bigint, $2::bigint) AS g")
PAYMENTS = (
    "INSERT INTO payment (id, order_id, customer_id, provider, provider_reference, amount, "
    "currency, method, idempotency_key, status, capture, history, created_at) "
    "SELECT 'pay_seed_' || g, 'ord_seed_' || g, 'cus_seed_' || (g % $3), 'sandbox', "
    "'sbx_seed_' || g, 39000, 'KRW', 'card', md5(g::text), "
    "(ARRAY['captured','captured','captured','failed','refunded'])[1 + g % 5], "
    "'automatic', '[]', now() - g * interval '30 seconds' "
    "FROM generate_series($1::bigint, $2::bigint) AS g")


async def grow(url: str, have: int, want: int, *, chunk: int = 100_000,
               seconds: float = 120.0) -> int:
    """Add seeded orders and payments from `have` up to `want` in chunks, stopping early
    once `seconds` are spent; how many there are then. Afterwards the tables are vacuumed
    and analyzed and a checkpoint is forced, so that what follows is measured on tables
    at rest rather than beside autovacuum and the bulk load's writes to disk."""
    connection = await asyncpg.connect(url)
    deadline = time.monotonic() + seconds
    try:
        while have < want and time.monotonic() < deadline:
            upto = min(want, have + chunk)
            async with connection.transaction():
                await connection.execute(ORDERS, have + 1, upto, CUSTOMERS)
                await connection.execute(PAYMENTS, have + 1, upto, CUSTOMERS)
            have = upto
        await connection.execute("VACUUM (ANALYZE) orders, payment")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    return have
