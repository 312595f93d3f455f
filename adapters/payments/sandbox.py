"""The sandbox payment gateway: behaves like a real one, driven by test payment-method tokens.

| token                                   | outcome                                            |
|-----------------------------------------|----------------------------------------------------|
| pm_sandbox_success                      | succeeded                                          |
| pm_sandbox_decline_insufficient_funds   | failed: insufficient_funds                         |
| pm_sandbox_decline_expired_card         | failed: expired_card                               |
| pm_sandbox_decline                      | failed: card_declined                              |
| pm_sandbox_action_required              | requires_action (3-D Secure redirect)              |
| pm_sandbox_stall                        | answers after the stall (20 s by default)          |
| pm_sandbox_virtual_account              | awaiting_deposit; "deposited" later by webhook     |
| pm_sandbox_unavailable                  | the provider is down: nothing is charged           |

Like a real provider it keeps its own books (one charge per idempotency key, answered again on
a repeat), and it reports outcomes by signed webhooks (`Sandbox-Signature`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.persistence.tables import SandboxCharge
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.signing import verified_event
from application.ports import EvidenceLedger, InboundEvent, PaymentRequest
from domain.errors import ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.payments import PaymentStatus, PaymentUpdate

SIGNATURE_HEADER = "Sandbox-Signature"

DECLINES = {
    "insufficient_funds": "Your card was declined for insufficient funds. Use another card or "
                          "payment method; retrying the same card will not help.",
    "expired_card": "Your card has expired. Use another card; retrying will not help.",
    "card_declined": "Your card was declined by its issuer. Try another card or contact your "
                     "bank.",
    "invalid_payment_method": "This payment method is not recognised. Choose another one.",
}


def scenario_of(token: str) -> str:
    for prefix, scenario in (
        ("pm_sandbox_decline_insufficient_funds", "insufficient_funds"),
        ("pm_sandbox_decline_expired_card", "expired_card"),
        ("pm_sandbox_decline", "card_declined"),
        ("pm_sandbox_action_required", "action_required"),
        ("pm_sandbox_stall", "stall"),
        ("pm_sandbox_virtual_account", "virtual_account"),
        ("pm_sandbox_unavailable", "unavailable"),
        ("pm_sandbox_success", "success"),
    ):
        if token.startswith(prefix):
            return scenario
    return "invalid_payment_method"


class SandboxGateway:
    name = "sandbox"

    def __init__(
        self,
        webhooks: SandboxWebhookSender,
        ledger: EvidenceLedger,
        secrets: Sequence[str],
        public_base_url: str,
        stall_seconds: float,
        deposit_delay_seconds: float,
        webhook_delay_seconds: float,
    ) -> None:
        self._webhooks, self._ledger, self._secrets = webhooks, ledger, list(secrets)
        self._base = public_base_url.rstrip("/")
        self._stall, self._deposit_delay = stall_seconds, deposit_delay_seconds
        self._webhook_delay = webhook_delay_seconds

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate:
        existing = await SandboxCharge.select().where(
            SandboxCharge.idempotency_key == request.idempotency_key).first()
        if existing is not None:
            return self._update(existing)
        scenario = scenario_of(request.method_token)
        if scenario == "unavailable":
            raise ProviderUnavailable("the sandbox gateway is down (pm_sandbox_unavailable)")
        if scenario == "stall":
            await asyncio.sleep(self._stall)
        status = {
            "success": "succeeded", "stall": "succeeded", "action_required": "requires_action",
            "virtual_account": "awaiting_deposit",
        }.get(scenario, "failed")
        row = SandboxCharge(
            idempotency_key=request.idempotency_key, reference=f"sbx_{uuid.uuid4().hex[:24]}",
            status=status, amount=request.amount.amount, currency=request.amount.currency,
            scenario=scenario, order_id=request.order_id,
            merchant_reference=request.payment_id, created_at=time.time(),
        )
        inserted = await SandboxCharge.insert(row).on_conflict(
            target=SandboxCharge.idempotency_key, action="DO NOTHING").returning(
            SandboxCharge.reference)
        stored = await SandboxCharge.select().where(
            SandboxCharge.idempotency_key == request.idempotency_key).first()
        assert stored is not None
        if inserted:
            await self._ledger.record(EvidenceDraft(
                source=self.name, kind="provider.charge", subject=f"order:{request.order_id}",
                context={"payment_id": request.payment_id, "reference": stored["reference"]},
                payload={"amount": request.amount.amount, "currency": request.amount.currency,
                         "status": status, "idempotency_key": request.idempotency_key},
            ))
            self._announce(stored)
        return self._update(stored)

    def _announce(self, charge: Mapping[str, Any]) -> None:
        """Webhooks a real gateway would send for this charge."""
        status = charge["status"]
        if status == "awaiting_deposit":
            self._webhooks.spawn(self._deposit_later(charge["reference"]))
        elif status in ("succeeded", "failed"):
            self._webhooks.schedule([
                (self._webhook_delay, self._event(f"payment.{status}", charge, status)),
            ])

    @staticmethod
    def _event(kind: str, charge: Mapping[str, Any], status: str) -> dict[str, Any]:
        return {
            "id": f"evt_{uuid.uuid4().hex}", "type": kind, "created": int(time.time()),
            "data": {"reference": charge["reference"], "order_id": charge["order_id"],
                     "status": status, "amount": charge["amount"],
                     "currency": charge["currency"],
                     "failure_code": None if status != "failed" else charge["scenario"],
                     "metadata": {"payment_id": charge["merchant_reference"]}},
        }

    def _update(self, charge: Mapping[str, Any]) -> PaymentUpdate:
        status = PaymentStatus(charge["status"])
        scenario, reference = charge["scenario"], charge["reference"]
        if status == PaymentStatus.FAILED:
            return PaymentUpdate(status, reference, scenario, DECLINES[scenario])
        if status == PaymentStatus.REQUIRES_ACTION:
            return PaymentUpdate(status, reference, next_action={
                "type": "redirect_to_url",
                "url": f"{self._base}/sandbox/3ds/{reference}",
            })
        if status == PaymentStatus.AWAITING_DEPOSIT:
            created = datetime.fromtimestamp(charge["created_at"], UTC)
            return PaymentUpdate(status, reference, deposit_account={
                "bank": "Sandbox Bank",
                "account_number": f"9900-{reference[-8:]}",
                "holder": "MALL SANDBOX",
                "amount": charge["amount"],
                "currency": charge["currency"],
                "expires_at": (created + timedelta(days=3)).isoformat(),
            })
        return PaymentUpdate(status, reference)

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        charge = await SandboxCharge.select().where(
            SandboxCharge.reference == provider_reference).first()
        if charge is None:
            raise ProviderUnavailable(f"the sandbox knows no payment {provider_reference}")
        return self._update(charge)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return verified_event(headers.get(SIGNATURE_HEADER), body, self._secrets,
                              "sandbox payment")

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        data = event.payload.get("data")
        if not isinstance(data, dict):
            return None
        status = {
            "payment.succeeded": PaymentStatus.SUCCEEDED,
            "virtual_account.deposited": PaymentStatus.SUCCEEDED,
            "payment.failed": PaymentStatus.FAILED,
        }.get(event.kind)
        if status is None or not data.get("reference"):
            return None
        code = data.get("failure_code")
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        return data["reference"], PaymentUpdate(
            status, data["reference"], code, DECLINES.get(code) if code else None,
            merchant_reference=metadata.get("payment_id") or None)

    async def _deposit_later(self, reference: str) -> None:
        await asyncio.sleep(self._deposit_delay)
        await self.deposit(reference)

    async def deposit(self, reference: str) -> bool:
        """The customer transfers the money: the sandbox books it and calls us back."""
        return await self._settle(reference, "awaiting_deposit", "virtual_account.deposited")

    async def complete_action(self, reference: str) -> bool:
        """The customer passes 3-D Secure at the bank: the charge goes through."""
        return await self._settle(reference, "requires_action", "payment.succeeded")

    async def _settle(self, reference: str, waiting: str, event_type: str) -> bool:
        moved = await SandboxCharge.update({SandboxCharge.status: "succeeded"}).where(
            (SandboxCharge.reference == reference) & (SandboxCharge.status == waiting)
        ).returning(SandboxCharge.reference)
        if not moved:
            return False
        charge = await SandboxCharge.select().where(SandboxCharge.reference == reference).first()
        assert charge is not None
        self._webhooks.spawn(self._webhooks.deliver(
            self._event(event_type, charge, "succeeded")))
        return True
