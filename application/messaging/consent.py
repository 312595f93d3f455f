"""Consent as messaging records it: an opt-out a provider reported (an SMS STOP), kept as a
withdrawal with its evidence like one the customer made."""

from __future__ import annotations

from application.ports import UnitOfWork
from domain.evidence import EvidenceDraft
from domain.messages import MARKETING_CONSENT, Channel


async def record_opt_out(unit: UnitOfWork, customer_id: str, channel: Channel, *,
                         source: str) -> None:
    """Withdraw the customer's marketing consent for `channel`, in `unit`'s transaction."""
    purpose = MARKETING_CONSENT[channel]
    await unit.customers.consents.set(customer_id, purpose, False)
    await unit.evidence.append(EvidenceDraft(
        source=source, kind="consent.changed", subject=f"customer:{customer_id}",
        context={"method": "provider_opt_out"}, payload={"changes": {purpose: False}}))
