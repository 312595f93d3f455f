"""The provider registry's table (domain/provider_registry.py)."""

from __future__ import annotations

from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.table import Table

from adapters.persistence.columns import Json


class ProviderContractRow(Table, tablename="provider_contract"):
    """A provider contract's current version; `history` lists every version's state (each
    is also evidence under `provider-contract:<id>`)."""

    id = Varchar(length=40, primary_key=True)
    capability = Varchar(length=16, index=True)
    provider = Varchar(length=40)
    countries = Json(default='["*"]')
    currencies = Json(default='["*"]')
    methods = Json(default='["*"]')
    priority = Integer(default=100)
    status = Varchar(length=12)
    valid_from = Timestamptz(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    changed_at = Timestamptz(null=True, default=None)
    changed_by = Varchar(length=40, default="")
    note = Varchar(length=200, default="")
    history = Json(default="[]")
