"""The sandbox payment gateway: behaves like a real one, driven by test payment-method tokens.

| token                                   | outcome                                            |
|-----------------------------------------|----------------------------------------------------|
| pm_sandbox_success                      | captured (authorized only under manual capture)    |
| pm_sandbox_decline_insufficient_funds   | failed: insufficient_funds                         |
| pm_sandbox_decline_expired_card         | failed: expired_card                               |
| pm_sandbox_decline                      | failed: card_declined                              |
| pm_sandbox_action_required              | requires_action (3-D Secure redirect), then as     |
|                                         | pm_sandbox_success once the customer passed it     |
| pm_sandbox_stall                        | answers after the stall (20 s by default)          |
| pm_sandbox_virtual_account              | awaiting_deposit; "deposited" later by webhook     |
| pm_sandbox_unavailable                  | the provider is down: nothing is charged           |

Like a real provider it keeps its own books (one charge per idempotency key, answered again on
a repeat; refunds never above what is left; disputes opened and decided from the sandbox
pages), and it reports outcomes by signed webhooks (`Sandbox-Signature`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.http import OutboundHttp
from adapters.persistence import raw
from adapters.persistence.repositories.evidence import append_each, appended
from adapters.persistence.tables import SandboxCharge
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.signing import verified_event
from application.ports import Clock, EvidenceLedger, InboundEvent, PaymentRequest, ProviderCall
from domain.errors import ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.failures import FailureReason
from domain.payments import EventType, PaymentEvent, PaymentUpdate
from domain.redaction import card_safe_id

SIGNATURE_HEADER = "Sandbox-Signature"

FAILURES = {
    "insufficient_funds": FailureReason.INSUFFICIENT_FUNDS,
    "expired_card": FailureReason.EXPIRED_CARD,
    "card_declined": FailureReason.DECLINED,
    "invalid_payment_method": FailureReason.UNSUPPORTED_METHOD,
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



# Insert a charge unless its key is known, and the evidence of it only if it was: one
# statement, both or neither.
CHARGE = (f"WITH charge AS ({raw.insert_of(SandboxCharge)} "  # noqa: S608
          "ON CONFLICT (idempotency_key) DO NOTHING RETURNING *), "
          f"evidence AS ({append_each('charge', len(SandboxCharge._meta.columns) + 1)}) "
          "SELECT * FROM charge")


class SandboxGateway:
    name = "sandbox"
    supports_manual_capture = True

    def __init__(
        self,
        webhooks: SandboxWebhookSender,
        ledger: EvidenceLedger,
        secrets: Sequence[str],
        public_base_url: str,
        stall_seconds: float,
        deposit_delay_seconds: float,
        webhook_delay_seconds: float,
        clock: Clock,
        http: OutboundHttp | None = None,
    ) -> None:
        """`http`: its simulated calls go through the circuit breaker and the provider
        metrics of the real providers' HTTP client, so an outage opens its circuit too."""
        self._webhooks, self._ledger, self._secrets = webhooks, ledger, list(secrets)
        self._clock, self._http = clock, http
        self._base = public_base_url.rstrip("/")
        self._stall, self._deposit_delay = stall_seconds, deposit_delay_seconds
        self._webhook_delay = webhook_delay_seconds

    async def available(self) -> bool:
        return await self._http.available(self.name) if self._http else True

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate:
        guard = self._http.guarded(self.name) if self._http else contextlib.nullcontext()
        async with guard:
            return await self._authorize(request)

    async def _authorize(self, request: PaymentRequest) -> PaymentUpdate:
        # The charge is inserted unless its key is known: a request sent again is answered
        # with the first one's charge (found after the insert, which then did nothing).
        scenario = scenario_of(request.method_token)
        if scenario == "unavailable":
            raise ProviderUnavailable("the sandbox gateway is down (pm_sandbox_unavailable)",
                                      request_sent=False)
        if scenario == "stall":
            await asyncio.sleep(self._stall)
        settled = "succeeded" if request.capture else "authorized"
        status = {
            "success": settled, "stall": settled, "action_required": "requires_action",
            "virtual_account": "awaiting_deposit",
        }.get(scenario, "failed")
        row = SandboxCharge(
            idempotency_key=request.idempotency_key, reference=card_safe_id("sbx", 24),
            status=status, amount=request.amount.amount, currency=request.amount.currency,
            scenario=scenario, order_id=request.order_id,
            merchant_reference=request.payment_id, created_at=self._clock.now(),
            capture_method="automatic" if request.capture else "manual",
        )
        asked = EvidenceDraft(
            source=self.name, kind="provider.charge", subject=f"order:{request.order_id}",
            context={"payment_id": request.payment_id, "reference": row.reference},
            payload={"amount": request.amount.amount, "currency": request.amount.currency,
                     "status": status, "idempotency_key": request.idempotency_key})
        inserted = await self._insert(row, asked)
        # Sent before, or twice at once: the other one's charge is the answer.
        stored = inserted if inserted is not None else await self._charge(
            idempotency_key=request.idempotency_key)
        if inserted is not None:
            self._announce(stored)
        return self._update(stored)

    async def _insert(self, row: SandboxCharge, asked: EvidenceDraft) -> dict[str, Any] | None:
        """The charge as inserted, with the evidence of what was asked; None when its key
        was known (nothing inserted, nothing recorded). One statement on PostgreSQL."""
        if raw.on_postgres():
            _, evidence = appended(asked, self._clock.now())
            inserted = await raw.fetch(CHARGE, *raw.values_of(row), *evidence)
            return dict(inserted[0]) if inserted else None
        async def with_it() -> None:
            await self._ledger.record(asked)

        # On SQLite the charge and its evidence go with the COMMIT, in one trip.
        if not await raw.insert_new(row, SandboxCharge.idempotency_key, with_it):
            return None
        return row.to_dict()

    @staticmethod
    async def _charge(**where: str) -> dict[str, Any]:
        (column, value), = where.items()
        charge = await SandboxCharge.select().where(
            getattr(SandboxCharge, column) == value).first()
        if charge is None:
            raise ProviderUnavailable(f"the sandbox knows no payment {value}")
        return charge

    def _announce(self, charge: Mapping[str, Any]) -> None:
        """Webhooks a real gateway would send for this charge."""
        status = charge["status"]
        if status == "awaiting_deposit":
            self._webhooks.spawn(self._deposit_later(charge["reference"]))
        elif status in ("succeeded", "failed", "authorized"):
            self._webhooks.schedule([
                (self._webhook_delay, self._event(f"payment.{status}", charge)),
            ])

    def _event(self, kind: str, charge: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "id": card_safe_id("evt"), "type": kind, "created": self._clock.now().timestamp(),
            "data": {"reference": charge["reference"], "order_id": charge["order_id"],
                     "status": charge["status"], "amount": charge["amount"],
                     "currency": charge["currency"],
                     "failure_code": charge["scenario"] if charge["status"] == "failed"
                     else None,
                     "metadata": {"payment_id": charge["merchant_reference"]}, **extra},
        }

    def _update(self, charge: Mapping[str, Any]) -> PaymentUpdate:
        """Everything the sandbox knows about a charge, as facts."""
        status, reference = charge["status"], charge["reference"]
        created_at: datetime = charge["created_at"]
        created = created_at.timestamp()  # events carry the provider's time as epoch seconds
        facts: list[PaymentEvent] = []
        fields: dict[str, Any] = {"merchant_reference": charge["merchant_reference"] or None}
        if status == "failed":
            facts.append(PaymentEvent(EventType.FAILED, occurred_at=created))
            fields["failure_code"] = FAILURES[charge["scenario"]].value
        elif status == "requires_action":
            facts.append(PaymentEvent(EventType.ACTION_REQUIRED, occurred_at=created))
            fields["next_action"] = {"type": "redirect_to_url",
                                     "url": f"{self._base}/sandbox/3ds/{reference}"}
        elif status == "awaiting_deposit":
            facts.append(PaymentEvent(EventType.DEPOSIT_REQUESTED, occurred_at=created))
            fields["deposit_account"] = {
                "bank": "Sandbox Bank", "account_number": f"9900-{reference[-8:]}",
                "holder": "MALL SANDBOX", "amount": charge["amount"],
                "currency": charge["currency"],
                "expires_at": (created_at + timedelta(days=3)).isoformat(),
            }
        elif status == "authorized":
            facts.append(PaymentEvent(EventType.AUTHORIZED, occurred_at=created))
        elif status == "cancelled":
            facts.append(PaymentEvent(EventType.CANCELLED, occurred_at=created))
        elif status == "succeeded":
            facts.append(PaymentEvent(EventType.CAPTURED, charge["amount"], occurred_at=created))
        for refund in json.loads(charge.get("refunds") or "[]"):
            facts.append(PaymentEvent(EventType.REFUNDED, refund["amount"], refund["id"],
                                      settles=refund.get("key", "")))
        for dispute in json.loads(charge.get("disputes") or "[]"):
            facts.append(PaymentEvent(EventType.DISPUTE_OPENED, dispute["amount"],
                                      dispute["id"]))
            if dispute["status"] in ("won", "lost"):
                kind = EventType.DISPUTE_WON if dispute["status"] == "won" \
                    else EventType.DISPUTE_LOST
                facts.append(PaymentEvent(kind, dispute["amount"], dispute["id"]))
        return PaymentUpdate(tuple(facts), reference, **fields)

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        await SandboxCharge.update({SandboxCharge.status: "succeeded"}).where(
            (SandboxCharge.reference == call.provider_reference)
            & (SandboxCharge.status == "authorized"))
        return self._update(await self._charge(reference=call.provider_reference))

    async def cancel(self, call: ProviderCall) -> PaymentUpdate:
        await SandboxCharge.update({SandboxCharge.status: "cancelled"}).where(
            (SandboxCharge.reference == call.provider_reference)
            & SandboxCharge.status.is_in(["authorized", "requires_action", "awaiting_deposit"]))
        return self._update(await self._charge(reference=call.provider_reference))

    async def refund(self, call: ProviderCall) -> PaymentUpdate:
        """Refund part of a charge; the same key refunds once; more than is left is refused."""
        async with raw.together():  # SQLite's write lock before the read it writes after
            charge = await self._charge(reference=call.provider_reference)
            refunds = json.loads(charge["refunds"])
            if not any(r.get("key") == call.idempotency_key for r in refunds):
                left = charge["amount"] - sum(r["amount"] for r in refunds)
                if charge["status"] != "succeeded" or call.amount.amount > left:
                    update = self._update(charge)
                    return PaymentUpdate(
                        (*update.events,
                         PaymentEvent(EventType.REFUND_FAILED, reference=call.idempotency_key)),
                        update.provider_reference, failure_code="invalid_request")
                refunds.append({"id": card_safe_id("sbx_re", 16),
                                "amount": call.amount.amount, "key": call.idempotency_key})
                await SandboxCharge.update({SandboxCharge.refunds: json.dumps(refunds)}).where(
                    SandboxCharge.reference == call.provider_reference)
        return self._update(await self._charge(reference=call.provider_reference))

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        return self._update(await self._charge(reference=provider_reference))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return verified_event(headers.get(SIGNATURE_HEADER), body, self._secrets,
                              "sandbox payment")

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        data = event.payload.get("data")
        if not isinstance(data, dict) or not data.get("reference"):
            return None
        reference = str(data["reference"])
        created = event.payload.get("created")
        when = float(created) if isinstance(created, int | float) else None
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
        fields: dict[str, Any] = {"merchant_reference": metadata.get("payment_id") or None}
        amount = data.get("amount") if isinstance(data.get("amount"), int) else None
        dispute = str(data.get("dispute_id") or "")
        facts = {
            "payment.succeeded": [PaymentEvent(EventType.CAPTURED, amount, occurred_at=when)],
            "virtual_account.deposited": [
                PaymentEvent(EventType.CAPTURED, amount, occurred_at=when)],
            "payment.authorized": [PaymentEvent(EventType.AUTHORIZED, amount, occurred_at=when)],
            "payment.failed": [PaymentEvent(EventType.FAILED, occurred_at=when)],
            "dispute.created": [PaymentEvent(EventType.DISPUTE_OPENED, amount, dispute)],
            "dispute.won": [PaymentEvent(EventType.DISPUTE_OPENED, amount, dispute),
                            PaymentEvent(EventType.DISPUTE_WON, amount, dispute)],
            "dispute.lost": [PaymentEvent(EventType.DISPUTE_OPENED, amount, dispute),
                             PaymentEvent(EventType.DISPUTE_LOST, amount, dispute)],
        }.get(event.kind)
        if facts is None:
            return None
        if event.kind == "payment.failed":
            fields["failure_code"] = FAILURES.get(
                str(data.get("failure_code")), FailureReason.DECLINED).value
        return reference, PaymentUpdate(tuple(facts), reference, **fields)

    async def _deposit_later(self, reference: str) -> None:
        await asyncio.sleep(self._deposit_delay)
        await self.deposit(reference)

    async def deposit(self, reference: str) -> bool:
        """The customer transfers the money: the sandbox books it and calls us back."""
        return await self._settle(reference, "awaiting_deposit", "virtual_account.deposited")

    async def complete_action(self, reference: str) -> bool:
        """The customer passes 3-D Secure at the bank: the charge goes through, captured or,
        when the merchant asked for manual capture, only authorized."""
        charge = await SandboxCharge.select(SandboxCharge.capture_method).where(
            SandboxCharge.reference == reference).first()
        if charge is not None and charge["capture_method"] == "manual":
            return await self._settle(reference, "requires_action", "payment.authorized",
                                      outcome="authorized")
        return await self._settle(reference, "requires_action", "payment.succeeded")

    async def _settle(self, reference: str, waiting: str, event_type: str,
                      outcome: str = "succeeded") -> bool:
        moved = await SandboxCharge.update({SandboxCharge.status: outcome}).where(
            (SandboxCharge.reference == reference) & (SandboxCharge.status == waiting)
        ).returning(SandboxCharge.reference)
        if not moved:
            return False
        charge = await self._charge(reference=reference)
        self._webhooks.spawn(self._webhooks.deliver(self._event(event_type, charge)))
        return True

    async def dispute(self, reference: str, outcome: str | None = None) -> bool:
        """The card holder disputes the charge (outcome None), or the network decides it
        ("won" / "lost"): the sandbox books it and calls us back."""
        async with raw.together():  # SQLite's write lock before the read it writes after
            charge = await SandboxCharge.select().where(
                SandboxCharge.reference == reference).first()
            if charge is None or charge["status"] != "succeeded":
                return False
            disputes = json.loads(charge["disputes"])
            open_ones = [d for d in disputes if d["status"] == "open"]
            if outcome is None:
                if open_ones:
                    return False
                left = charge["amount"] - sum(r["amount"] for r in json.loads(charge["refunds"]))
                current = {"id": card_safe_id("sbx_dp", 16), "amount": left,
                           "status": "open"}
                disputes.append(current)
            else:
                if not open_ones:
                    return False
                current = open_ones[0]
                current["status"] = outcome
            await SandboxCharge.update({SandboxCharge.disputes: json.dumps(disputes)}).where(
                SandboxCharge.reference == reference)
        self._webhooks.spawn(self._webhooks.deliver(self._event(
            "dispute.created" if outcome is None else f"dispute.{outcome}", charge,
            dispute_id=current["id"], amount=current["amount"])))
        return True
