"""Bodies of the admin API: refunds, the fraud review queue, reconciliation, dispute
bundles and the evidence ledger."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from entrypoints.http.schemas.fields import MAX_MINOR, Strict
from entrypoints.http.schemas.orders import MoneyOut, PaymentOut


class RefundIn(Strict):
    amount: int | None = Field(None, ge=1, le=MAX_MINOR,
                               description="minor units; absent: all that is still refundable")
    reason: str = Field("", max_length=200)


class RefundOut(MoneyOut):
    refund_id: str
    status: Literal["refunded", "pending", "failed"]
    message: str
    order_id: str
    order_status: str
    payments: list[PaymentOut]


class ReviewOut(BaseModel):
    order_id: str
    customer_id: str
    score: float
    reasons: list[str]
    status: Literal["pending", "approved", "rejected"]
    opened_at: str
    decided_at: str | None
    decided_by: str | None
    note: str


class ReviewList(BaseModel):
    reviews: list[ReviewOut]


class ReviewDecisionIn(Strict):
    decision: Literal["approve", "reject"]
    note: str = Field("", max_length=500)


class ReconciliationOut(BaseModel):
    checked: int
    changed: int
    unreachable: int


class DisputeBundleOut(BaseModel):
    """Everything about an order a card network asks for, with the provenance of each piece."""

    order: dict[str, Any]
    payments: list[PaymentOut]
    shipments: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    chain: dict[str, Any]
    generated_at: str


class EvidenceOut(BaseModel):
    seq: int
    source: str
    kind: str
    subject: str
    received_at: str
    context: dict[str, Any]
    payload_hash: str
    payload: Any
    prev_hash: str
    hash: str


class EvidenceList(BaseModel):
    subject: str
    records: list[EvidenceOut]


class CheckpointOut(BaseModel):
    """A signed checkpoint of the ledger, kept outside the database."""

    line: int | None = Field(description="its line in the checkpoint file")
    seq: int = Field(description="how many records it vouches for")
    head_hash: str = Field(description="the hash of the last of them")
    signed_at: str
    key_id: str


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None = Field(description="the first record that does not fit")
    reason: str | None
    checkpoint: CheckpointOut | None = Field(
        description="the signed checkpoint the ledger contradicts (or that is not trusted)")
    head_seq: int | None = Field(description="where the database says the chain ends")
    anchored_seq: int = Field(description="the last record a signed checkpoint vouches for")
