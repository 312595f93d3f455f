"""What every signed-in request checks, in one statement: the customer exists and the session
the token names is one of theirs and not revoked (a rotated one still is)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.customers import Customer
from domain.identity import Session, SessionStatus
from tests.sql_statements import count_statements

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def test_the_signed_in_customer_is_read_in_one_statement(container: Any) -> None:
    async with container.uow()() as uow:
        for customer_id in ("cus_a", "cus_b"):
            assert await uow.customers.add(Customer(customer_id, f"{customer_id}@example.com",
                                                    "", created_at=AT))
        for session_id, status in (("ses_live", SessionStatus.ACTIVE),
                                   ("ses_rotated", SessionStatus.ROTATED),
                                   ("ses_revoked", SessionStatus.REVOKED)):
            await uow.sign_ins.sessions.add(Session(session_id, "cus_a", "fam", session_id,
                                                    AT, AT + timedelta(days=1), status))
        await uow.commit()
    async with container.uow()(read_only=True) as uow:
        with count_statements() as statements:
            found = await uow.customers.signed_in("cus_a", "ses_live")
        assert found is not None and found.id == "cus_a" and statements.count == 1
        assert await uow.customers.signed_in("cus_a", "ses_rotated") is not None
        assert await uow.customers.signed_in("cus_a", "ses_revoked") is None
        assert await uow.customers.signed_in("cus_a", "ses_unknown") is None
        assert await uow.customers.signed_in("cus_b", "ses_live") is None  # not hers
        assert await uow.customers.signed_in("cus_gone", "ses_live") is None
