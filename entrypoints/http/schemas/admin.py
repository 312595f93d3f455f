"""Bodies of the admin API: refunds, the fraud review queue, reconciliation, dispute
bundles and the evidence ledger."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from domain.orders import OrderStatus
from entrypoints.http.schemas.fields import MAX_MINOR, Answer, Strict
from entrypoints.http.schemas.orders import MoneyOut, OrderOut, PaymentOut, ShipmentOut


class RefundIn(Strict):
    amount: int | None = Field(None, ge=1, le=MAX_MINOR,
                               description="minor units; absent: all that is still refundable")
    reason: str = Field("", max_length=200)


class RefundOut(MoneyOut):
    refund_id: str
    status: Literal["refunded", "pending", "failed"]
    message: str
    order_id: str
    order_status: OrderStatus
    payments: list[PaymentOut]


class ReviewOut(Answer):
    order_id: str
    customer_id: str
    score: float
    reasons: list[str]
    status: Literal["pending", "approved", "rejected"]
    opened_at: str
    decided_at: str | None
    decided_by: str | None
    note: str


class ReviewList(Answer):
    reviews: list[ReviewOut]


class ReviewDecisionIn(Strict):
    decision: Literal["approve", "reject"]
    note: str = Field("", max_length=500)


class ReconciliationOut(Answer):
    checked: int
    changed: int
    unreachable: int


class EvidenceOut(Answer):
    """A record of the ledger; one appended but not sealed yet (listed after the sealed ones)
    has no place in the chain yet: its seq, prev_hash and hash are null."""

    seq: int | None = Field(description="its place in the chain; null until sealed")
    source: str
    kind: str
    subject: str
    received_at: str
    context: dict[str, Any]
    payload_hash: str
    payload: Any
    prev_hash: str | None = Field(description="the hash of the record before; null until sealed")
    hash: str | None = Field(description="null until sealed")


class EvidenceList(Answer):
    subject: str
    records: list[EvidenceOut]


class CheckpointOut(Answer):
    """A signed checkpoint of the ledger, kept outside the database."""

    line: int | None = Field(description="its line in the checkpoint file")
    seq: int = Field(description="how many records it vouches for")
    head_hash: str = Field(description="the hash of the last of them")
    signed_at: str
    key_id: str


class ChainReportOut(Answer):
    ok: bool
    checked: int
    first_bad_seq: int | None = Field(description="the first record that does not fit")
    reason: str | None
    checkpoint: CheckpointOut | None = Field(
        description="the signed checkpoint the ledger contradicts (or that is not trusted)")
    head_seq: int | None = Field(description="where the database says the chain ends")
    anchored_seq: int = Field(description="the last record a signed checkpoint vouches for")


class ShipmentHistoryOut(ShipmentOut):
    history: list[str] = Field(description="the statuses it went through, in order")


class DisputeBundleOut(Answer):
    """Everything about an order a card network asks for, with the provenance of each piece."""

    order: OrderOut
    payments: list[PaymentOut]
    shipments: list[ShipmentHistoryOut]
    evidence: list[EvidenceOut]
    chain: ChainReportOut
    generated_at: str


class SignInGroupOut(Answer):
    """Counts of one provider and channel; rates are None without a started sign-in."""

    provider: str
    channel: str
    started: int
    succeeded: int
    failed: int
    signed_up: int
    linked: int
    unlinked: int
    failure_reasons: dict[str, int]
    campaigns: dict[str, int] = Field(description="sign-ups per campaign")
    signup_conversion: float | None
    success_rate: float | None


class SignInReportOut(Answer):
    """Sign-up conversion and attribution over [from, to): counts only, no personal data."""

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    groups: list[SignInGroupOut]
