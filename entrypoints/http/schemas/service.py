"""Answers of the service itself: problem details, health, webhook acknowledgements."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from entrypoints.http.schemas.accounts import ProviderAccountOut
from entrypoints.http.schemas.fields import Answer


class WebhookAck(Answer):
    status: Literal["accepted", "duplicate"]


class Problem(BaseModel):
    """RFC 9457 problem details, plus whether a retry can help."""

    type: str
    title: str
    status: int
    detail: str
    retryable: bool
    instance: str | None = None
    alternatives: list[str] | None = Field(
        None, description="when a partner is unavailable: the other gateways, or the other "
                          "ways to sign in, that work now")
    reason: str | None = Field(None, description="a refused sign-in: which check it failed")
    ways_in: list[str] | None = Field(None, description="a refused sign-in: the ways in left")
    options: list[dict[str, Any]] | None = Field(
        None, description="no-shipping-option: the carriers and services that do deliver to "
                          "the address (as GET /v1/shipping/options lists them)")
    countries_served: list[str] | None = Field(
        None, description="no-shipping-option: where the mall ships (* is everywhere)")


class SignInConflict(Problem):
    """A sign-in that cannot go on as asked (problem+json): `outcome` says why and the rest
    what the customer can do (another way in, or a link for the account's owner to confirm)."""

    outcome: Literal["link_pending", "email_in_use"]
    message: str
    customer_id: str | None
    created: bool
    ways_in: list[str]
    link_token: str | None = None
    account: ProviderAccountOut | None = None


class Health(Answer):
    status: Literal["ok", "ready", "degraded", "not ready"]
    checks: dict[str, str] = {}
