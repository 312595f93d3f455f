"""Bodies of the analytics API: the storefront's milestones and the admin's funnel report."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from entrypoints.http.schemas.fields import Answer, Strict

# A plan property's value: a code, a whole number or a yes/no (domain/tracking_plan.py).
PropertyValue = str | int | bool


class MilestoneIn(Strict):
    event: str = Field(min_length=1, max_length=64, examples=["Checkout Started"],
                       description="an event of the tracking plan the storefront may send")
    properties: dict[str, PropertyValue] = Field(
        default_factory=dict, max_length=25, examples=[{"item_count": 2, "currency": "KRW"}],
        description="the event's properties as the tracking plan types them; codes and "
                    "numbers only, never personal data")


class MilestoneOut(Answer):
    event: str
    message_id: str = Field(description="the event's id: analytics services dedupe on it")


class FunnelStepOut(Answer):
    event: str
    count: int


class FunnelOut(Answer):
    start: datetime
    end: datetime
    steps: list[FunnelStepOut] = Field(description="the purchase funnel's milestones, in order")
    other_events: dict[str, int] = Field(description="every other event of the tracking plan")


class DeadLettersOut(Answer):
    dead_letters: dict[str, int] = Field(description="events given up on, by service")


class ReplayOut(Answer):
    replayed: dict[str, int] = Field(description="dead letters due again, by service")
