"""An identity provider's client secret rotated through the admin workflow, against the real
OpenID provider: a secret the provider does not know is rejected at validation (an incident,
an alert, nothing changed), the one it knows is validated at its token endpoint, and once
activated sign-ins use it without a restart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord, Incident
from tests.e2e.identity_steps import admin_of
from tests.e2e.identity_steps import admin_post as post
from tests.e2e.oidc_sign_in import steps
from tests.oidc_provider import OidcProviderProcess

pytestmark = pytest.mark.timeout(60)
REVOKED = "mall-e2e-secret-revoked-at-the-provider"


async def test_a_client_secret_rotation_is_validated_at_the_providers_token_endpoint(
        shop_factory: Any, app_port: int, op: OidcProviderProcess) -> None:
    # The mall still holds a secret the provider has revoked: sign-ins fail.
    shop = await steps.oidc_shop(shop_factory, app_port, {"oidc": {
        **steps.oidc_settings(op.issuer), "client_secret": REVOKED}})
    status, answer = await steps.sign_in_with(shop, "grace@example.com")
    assert status == 401 and answer["reason"] == "token_request_refused", answer
    admin = await admin_of(shop)

    wrong = await post(shop, admin, "/v1/admin/providers/oidc/credentials",
                       {"kind": "api_key", "value": "a-secret-nobody-issued"}, status=201)
    rejected = await post(shop, admin, f"/v1/admin/credentials/{wrong['id']}/validate")
    assert rejected["status"] == "rejected"
    assert "invalid_client" in rejected["reason"], rejected
    [incident] = await Incident.select().where(
        Incident.kind == "credential_validation_failed")
    assert incident["subject"] == "provider:oidc"

    new = await post(shop, admin, "/v1/admin/providers/oidc/credentials",
                     {"kind": "api_key", "value": steps.CLIENT_SECRET}, status=201)
    validated = await post(shop, admin, f"/v1/admin/credentials/{new['id']}/validate")
    assert validated["status"] == "validated", validated
    await post(shop, admin, f"/v1/admin/credentials/{new['id']}/activate",
               {"overlap_minutes": 0})
    status, answer = await steps.sign_in_with(shop, "grace@example.com")
    assert status == 201 and answer["status"] == "signed_in", answer

    ledger = json.dumps([dict(row) for row in await EvidenceRecord.select()], default=str)
    assert steps.CLIENT_SECRET not in ledger and "a-secret-nobody-issued" not in ledger
