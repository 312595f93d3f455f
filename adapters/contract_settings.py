"""The entries of the list settings that describe contracts: payment routing, KYC rules and
shipping contracts (each a JSON object in its MALL_* variable, see adapters/settings.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ContractSetting(BaseModel):
    """One entry of MALL_PAYMENT_CONTRACTS: a provider and where it may be routed."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    countries: list[str] = ["*"]
    currencies: list[str] = ["*"]
    methods: list[str] = ["*"]
    priority: int = 100
    enabled: bool = True


class KycRuleSetting(BaseModel):
    """One entry of MALL_KYC_RULES: above `threshold` minor units of `currency`, an order
    shipped to `country` needs a verified identity."""

    model_config = ConfigDict(extra="forbid")

    country: str = Field(min_length=2, max_length=2)
    currency: str = Field(min_length=3, max_length=3)
    threshold: int = Field(ge=0)


class ShippingContractSetting(BaseModel):
    """One entry of MALL_SHIPPING_CONTRACTS: a carrier's service, where it delivers, its fee
    per currency (minor units; none: free) and its usual delivery time in business days."""

    model_config = ConfigDict(extra="forbid")

    carrier: str
    service: str = Field("standard", min_length=1, max_length=40)
    countries: list[str] = ["*"]
    fees: dict[str, int] = {}
    days: tuple[int, int] | None = None
    seller_ships: bool = False  # sellers hand parcels over and register the tracking number


DEFAULT_CONTRACTS = [
    {"provider": "sandbox", "countries": ["*"], "currencies": ["*"], "methods": ["*"],
     "priority": 100},
]
