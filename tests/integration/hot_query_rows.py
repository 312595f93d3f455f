"""Rows for the hot-query test: 100k per table, spread as a shop's tables are after a while
(most payments settled, most messages done, a few percent due for retention), written by
PostgreSQL itself with INSERT ... SELECT over generate_series, in seconds.

Each table gets the columns named here, as SQL over `g` (1..rows) and `$1` (the test's now);
the others keep their defaults. Customers are `cus_0`..`cus_19999`, five orders each."""

from __future__ import annotations

from datetime import datetime

import asyncpg

ROWS = 100_000
CUSTOMER = "'cus_' || (g % 20000)"
ADDRESS = ("'{\"recipient\": \"R\", \"line1\": \"L\", \"line2\": \"\", \"city\": \"Seoul\", "
           "\"postal_code\": \"04524\", \"country\": \"KR\"}'")
AGO = "$1::timestamptz - g * interval '{}'"  # the g-th row, this much older per row


def _statuses(common: str, *rare: str) -> str:
    """One row in 100 in each rare status, the others in the common one."""
    cases = " ".join(f"WHEN {i} THEN '{status}'" for i, status in enumerate(rare))
    return f"CASE g % 100 {cases} ELSE '{common}' END"


TABLES: dict[str, dict[str, str]] = {
    "customer": {
        "id": "'cus_' || g", "email": "'c' || g || '@example.com'",
        "jurisdiction": "CASE g % 10 WHEN 0 THEN 'kr' ELSE 'default' END",
        "created_at": AGO.format("1 minute")},
    "orders": {
        "id": "'ord_' || g", "customer_id": CUSTOMER, "currency": "'KRW'",
        "status": _statuses("paid", "pending_payment", "cancelled", "awaiting_deposit"),
        "shipping_address": ADDRESS, "total": "g", "created_at": AGO.format("1 minute")},
    "payment": {
        "id": "'pay_' || g", "order_id": "'ord_' || g", "customer_id": CUSTOMER,
        "provider": "'sandbox'", "provider_reference": "'ref_' || g", "amount": "g",
        "currency": "'KRW'", "method": "'card'", "idempotency_key": "'key_' || g",
        "status": _statuses("captured", "awaiting_deposit", "requires_action", "processing",
                            "failed", "failed", "refunded"),
        "created_at": AGO.format("1 minute")},
    "payment_event": {
        "dedupe_key": "'pay_' || g || '|e'", "payment_id": "'pay_' || g", "seq": "0",
        "body": "'{\"type\": \"captured\"}'", "recorded_at": AGO.format("1 minute")},
    "fraud_review": {
        "order_id": "'ord_' || g", "customer_id": CUSTOMER, "score": "0.5",
        "status": _statuses("approved", "pending"), "opened_at": AGO.format("1 minute")},
    "shipment": {
        "id": "'shp_' || g", "order_id": "'ord_' || g", "seller_id": "'seller_1'",
        "carrier": "'sandbox'", "status": "'in_transit'", "tracking_number": "'trk_' || g"},
    "operation": {
        "id": "'op_' || g", "customer_id": CUSTOMER, "kind": "'payment'",
        "subject": "'payment:pay_' || g", "status": "'succeeded'", "message": "''",
        "created_at": AGO.format("1 minute")},
    "incident": {
        "id": "'inc_' || g", "kind": "'late'", "subject": "'order:ord_' || g",
        "detail": "'{}'", "opened_at": AGO.format("1 minute")},
    "evidence_record": {
        "seq": "g", "subject": "'order:ord_' || g", "received_at": "'2026-01-01T00:00:00+00:00'"},
    # 31 days of messages: a few percent are past the 30 days finished work is kept.
    "outbox_message": {
        "id": "'obx_' || g", "topic": "'SendNotification'", "payload": "'{}'",
        "status": _statuses("done", "pending", "processing", "dead"),
        "created_at": AGO.format("27 seconds"), "available_at": AGO.format("27 seconds")},
    "inbox_message": {
        "id": "'ibx_' || g", "dedupe_key": "'sandbox:evt_' || g", "provider": "'sandbox'",
        "event_id": "'evt_' || g", "kind": "'payment.succeeded'", "payload": "'{}'",
        "status": _statuses("applied", "received", "processing", "no_change", "ignored"),
        "received_at": AGO.format("27 seconds"), "available_at": AGO.format("27 seconds")},
    # 31 days of analytics events, a few percent sent before the 30 days they are kept.
    "analytics_delivery": {
        "id": "'ga4:evt_' || g", "message_id": "'evt_' || g", "destination": "'ga4'",
        "name": "'order_paid'", "anonymous_id": "md5('anon' || g)",
        "status": _statuses("sent", "pending", "dead"), "occurred_at": AGO.format("27 seconds"),
        "next_attempt_at": AGO.format("27 seconds"), "sent_at": AGO.format("27 seconds")},
    # A day of keys, the oldest few percent expired.
    "idempotency_key": {
        "id": "md5('idem' || g)", "customer_id": CUSTOMER, "request_hash": "''",
        "status": "'completed'", "expires_at": "$1::timestamptz + (97000 - g) * interval '1 s'"},
    "auth_session": {
        "id": "'ses_' || g", "customer_id": CUSTOMER, "family_id": "'fam_' || (g / 2)",
        "refresh_hash": "md5('refresh' || g)", "status": "'active'",
        "created_at": AGO.format("1 minute"), "expires_at": "$1::timestamptz"},
    "auth_flow": {
        "state_hash": "md5('state' || g)", "provider": "'google'", "purpose": "'sign_in'",
        "nonce": "''", "code_verifier": "''", "redirect_uri": "''", "customer_id": CUSTOMER,
        "created_at": AGO.format("0.9 seconds")},
    "pending_link": {
        "token_hash": "md5('link' || g)", "customer_id": CUSTOMER, "provider": "'google'",
        "subject": "'sub_' || g", "email": "''", "created_at": AGO.format("0.9 seconds")},
    "identity_link": {
        "dedupe_key": "'google|sub_' || g", "customer_id": CUSTOMER, "provider": "'google'",
        "subject": "'sub_' || g", "linked_at": AGO.format("1 minute")},
    "consent": {
        "dedupe_key": "'cus_' || g || '|marketing'", "customer_id": "'cus_' || g",
        "purpose": "'marketing'", "updated_at": AGO.format("1 minute")},
    "real_name_identity": {
        "customer_id": "'cus_' || g", "di_index": "md5('di' || g)", "ci_ciphertext": "''",
        "key_id": "'key_' || (g % 2)", "verified_at": AGO.format("1 minute")},
    "login_failure": {"customer_id": CUSTOMER, "at": AGO.format("26 seconds")},
    "notification_log": {
        "owner": CUSTOMER, "channel": "'email'", "template": "'order_paid'",
        "subject": "'order:ord_' || g", "sent_at": AGO.format("1 minute")},
    "auth_event": {
        "at": AGO.format("26 seconds"), "name": "'started'", "provider": "'google'"},
    "retained_record": {
        "id": "'ret_' || g", "record_class": "'contract_records'", "subject": "'anon_' || g",
        "jurisdiction": "'default'", "payload": "'{}'", "created_at": AGO.format("1 minute"),
        "retain_until": "$1::timestamptz + (g - 3000) * interval '1 minute'"},
}


async def seed(connection: asyncpg.Connection, now: datetime) -> None:
    for table, columns in TABLES.items():
        # Our own table and column names and expressions, never input.
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
               f"SELECT {', '.join(columns.values())} FROM generate_series(1, {ROWS}) AS g")
        await connection.execute(sql, *([now] if "$1" in sql else []))
    await connection.execute("ANALYZE")
