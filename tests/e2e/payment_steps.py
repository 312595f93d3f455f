"""Steps the payment tests share: an admin's review decision, waiting for a payment to reach a
status, and card numbers typed into what a provider sends, searched for in every table."""

from __future__ import annotations

import json
import random
from typing import Any

from adapters.persistence.tables import EvidenceRecord
from tests.helpers import eventually


async def decide(shop: Any, admin: dict[str, str], order_id: str, decision: str) -> Any:
    """An admin approves or rejects a held order; the answer, once it is a 200."""
    response = await shop.client.post(f"/v1/admin/reviews/{order_id}",
                                      json={"decision": decision}, headers=admin)
    assert response.status == 200, await response.text()
    return response


async def payment_becomes(shop: Any, auth: dict[str, str], order_id: str, status: str,
                          what: str) -> dict[str, Any]:
    """The order's view once its (first) payment has reached `status`."""

    async def reached() -> dict[str, Any] | None:
        view = await shop.order(auth, order_id)
        return view if view["payments"][0]["status"] == status else None

    found: dict[str, Any] = await eventually(reached, what=what)
    return found


async def webhook_filed_under() -> str:
    """The subject the one webhook received so far was filed under as evidence."""
    [record] = await EvidenceRecord.select(EvidenceRecord.subject).where(
        EvidenceRecord.kind == "webhook.received")
    return str(record["subject"])


class CardNumbers:
    """Test card numbers from a seeded generator: plain, or typed every which way."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def plain(self) -> str:
        from tests.e2e.test_no_card_numbers import PANS

        return self.rng.choice(PANS)

    def typed(self) -> str:
        from tests.e2e.test_no_card_numbers import PANS, SEPARATORS, WRAPS, typed

        rng = self.rng
        return typed(rng.choice(PANS), rng.choice(SEPARATORS), rng.choice(WRAPS))


async def tables_holding_card_numbers() -> dict[str, Any]:
    """Each table in which a card number is found, with what was found."""
    from adapters.persistence.tables import ALL_TABLES
    from tests.e2e.test_no_card_numbers import leaks

    found = {table._meta.tablename: leaks(json.dumps(await table.select(), default=str))
             for table in ALL_TABLES}
    return {name: hits for name, hits in found.items() if hits}
