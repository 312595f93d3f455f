"""Bodies of the provider registry (admin): contracts, their changes and switches."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from entrypoints.http.schemas.fields import Answer, Strict

Capability = Literal["payments", "shipping"]
Status = Literal["active", "standby", "retiring", "retired"]
CODES = r"^(\*|[A-Za-z]{2,3})$"


class ContractTerms(Strict):
    countries: list[str] | None = Field(None, min_length=1, max_length=250, description=(
        'ISO country codes of the destinations it serves, or ["*"]'))
    currencies: list[str] | None = Field(None, min_length=1, max_length=200, description=(
        'ISO 4217 codes, or ["*"]'))
    methods: list[str] | None = Field(None, min_length=1, max_length=20, description=(
        'payment methods (card, virtual_account) or carrier services, or ["*"]'))
    priority: int | None = Field(None, ge=0, le=100_000, description="lower is tried first")
    valid_from: datetime | None = Field(None, description="takes no new work before")
    valid_until: datetime | None = Field(None, description="takes no new work from then on")


class ContractIn(ContractTerms):
    capability: Capability
    provider: str = Field(min_length=1, max_length=40, examples=["stripe"])
    status: Literal["active", "standby", "retiring"] = Field(
        "standby", description="standby: ready, used only when every active one is down")


class ContractChangeIn(ContractTerms):
    version: int = Field(ge=1, description="the version the change was made on; a change "
                                           "made since by someone else is a 409")
    status: Status | None = None
    note: str = Field("", max_length=200, description="why; kept in its history")


class SwitchIn(Strict):
    capability: Capability
    from_provider: str = Field(alias="from", min_length=1, max_length=40)
    to_provider: str = Field(alias="to", min_length=1, max_length=40)


class ContractVersionOut(Answer):
    version: str
    status: str
    at: str
    by: str
    note: str


class ContractOut(Answer):
    id: str
    capability: Capability
    provider: str
    countries: list[str]
    currencies: list[str]
    methods: list[str]
    priority: int
    status: Status
    valid_from: str | None
    valid_until: str | None
    version: int
    history: list[ContractVersionOut]


class ContractList(Answer):
    contracts: list[ContractOut]


class PlanLineOut(Answer):
    provider: str
    statuses: list[str] = Field(description="the states of its contracts")
    takes_new_work: bool
    in_flight: int = Field(description="payments the provider may still change (waiting, "
                                       "authorized, disputed) or parcels not delivered yet")


class SwitchPlanOut(Answer):
    capability: Capability
    providers: list[PlanLineOut]
    drained: bool = Field(description="nothing is in flight with a provider that takes no "
                                      "new work")
