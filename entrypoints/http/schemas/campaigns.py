"""Bodies of the campaigns admin API: a campaign as defined, and where it stands."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from entrypoints.http.schemas.fields import Answer, Strict

ParamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
ParamValue = Annotated[str, StringConstraints(max_length=2000)]
CampaignStatus = Literal["draft", "scheduled", "sending", "done", "cancelled"]


class AudienceIn(Strict):
    """Who receives it, besides the channel's marketing consent, which is always required.
    An empty list means any."""

    jurisdictions: list[Literal["KR", "EU", "default"]] = Field(
        default_factory=list, max_length=3,
        description="the customers' jurisdictions (KR, EU, default)")
    languages: list[Literal["en", "ko"]] = Field(default_factory=list, max_length=2)
    ordered_since: date | None = Field(
        None, strict=False, examples=["2026-06-01"],
        description="only customers who placed an order on or after this day (YYYY-MM-DD)")


class CampaignIn(Strict):
    """A promotional campaign. Without `send_at` it is kept as a draft until scheduled."""

    name: str = Field(min_length=1, max_length=120)
    channel: Literal["email", "sms", "push"]
    template: str = Field("promotion", pattern=r"^[a-z][a-z0-9_]{0,63}$",
                          description="a promotional template")
    params: dict[ParamName, ParamValue] = Field(
        default_factory=dict, max_length=20,
        description="the template's parameters; 'promotion' needs title and message "
                    "(the text every recipient reads)")
    audience: AudienceIn = Field(default_factory=AudienceIn)
    send_at: AwareDatetime | None = Field(
        None, strict=False, examples=["2026-12-24T10:00:00+09:00"],
        description="when sending starts (with its offset); a time past starts it at once")


class ScheduleIn(Strict):
    send_at: AwareDatetime = Field(strict=False, examples=["2026-12-24T10:00:00+09:00"])


class AudienceOut(Answer):
    jurisdictions: list[str]
    languages: list[str]
    ordered_since: str | None


class CampaignOut(Answer):
    """A campaign and where it stands. `figures` counts its recipients by status (pending,
    queued, sent, failed, skipped); `deliveries` counts its messages by the dispatcher's
    delivery status (queued, sent, delivered, bounced, ...) once it keeps them; `progress`
    is the share of recipients handed to the dispatcher or skipped."""

    id: str
    name: str
    channel: Literal["email", "sms", "push"]
    template: str
    params: dict[str, str]
    audience: AudienceOut
    status: CampaignStatus
    send_at: str | None
    started_at: str | None
    finished_at: str | None
    created_at: str | None
    created_by: str
    recipients: int
    figures: dict[str, int]
    deliveries: dict[str, int]
    progress: float = Field(ge=0, le=1)


class CampaignList(Answer):
    campaigns: list[CampaignOut]
