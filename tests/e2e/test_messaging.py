"""Messages through the real app on its database: the customer's contact details, delivery
records moved by provider callbacks, and an address suppressed after a bounce."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from adapters.persistence import tables as t
from domain.messages import DeliveryStatus
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)


async def test_the_customer_gives_a_phone_language_and_time_zone(shop: Any) -> None:
    auth = await shop.sign_up()
    response = await shop.client.get("/v1/me/contact", headers=auth)
    assert response.status == 200
    assert (await response.json())["phone"] == ""

    response = await shop.client.patch("/v1/me/contact", headers=auth, json={
        "phone": "+82 10-1234-5678", "language": "ko", "time_zone": "Asia/Seoul"})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body == {"phone": "+821012345678", "language": "ko", "time_zone": "Asia/Seoul",
                    "effective_language": "ko", "effective_time_zone": "Asia/Seoul"}

    # Only what is given changes; "" clears it (then the country decides).
    response = await shop.client.patch("/v1/me/contact", headers=auth,
                                       json={"language": ""})
    body = await response.json()
    assert body["phone"] == "+821012345678" and body["language"] == ""
    assert body["effective_language"] == "en"

    [changed, *_] = [row for row in await t.EvidenceRecord.select().where(
        t.EvidenceRecord.kind == "contact.changed")]
    assert "+821012345678" not in json.dumps(changed, default=str)
    # The export holds them too (GDPR art. 15).
    exported = await (await shop.client.get("/v1/me/export", headers=auth)).json()
    assert exported["contact"] == {"phone": "+821012345678", "language": "",
                                   "time_zone": "Asia/Seoul"}


@pytest.mark.parametrize(("body", "says"), [
    ({"phone": "010-1234-5678"}, "international form"),
    ({"language": "fr"}, "en, ko"),
    ({"time_zone": "Mars/Olympus"}, "IANA"),
    ({"phone": 821012345678}, "phone"),
])
async def test_contact_details_that_cannot_be_used_are_refused_with_a_reason(
        shop: Any, body: dict[str, Any], says: str) -> None:
    auth = await shop.sign_up()
    response = await shop.client.patch("/v1/me/contact", headers=auth, json=body)
    assert response.status == 422
    assert says in await response.text()


async def test_contact_details_are_the_account_holders_alone(shop: Any) -> None:
    response = await shop.client.patch("/v1/me/contact", json={"language": "ko"})
    assert response.status == 401


async def _delivery_of(email_template: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        row = await t.MessageDelivery.select().where(
            (t.MessageDelivery.template == email_template)
            & (t.MessageDelivery.status != DeliveryStatus.SENDING.value)).first()
        return dict(row) if row else None

    record = await eventually(found, what=f"the {email_template} delivery record")
    assert record is not None
    return record


async def test_a_bounce_reported_by_the_provider_suppresses_the_address(shop: Any) -> None:
    email = f"c{uuid.uuid4().hex[:8]}@example.com"
    await shop.sign_up(email)
    record = await _delivery_of("verify_email")
    assert record["status"] == "sent" and record["channel"] == "email"
    assert record["masked_address"] == f"{email[0]}***@example.com"
    messaging = shop.container.messaging()

    assert await messaging.record_status(record["provider"], record["provider_message_id"],
                                         DeliveryStatus.BOUNCED, "550 5.1.1 no such user")
    assert not await messaging.record_status(
        record["provider"], record["provider_message_id"], DeliveryStatus.DELIVERED)
    row = await t.MessageDelivery.select().where(
        t.MessageDelivery.message_id == record["message_id"]).first()
    assert row is not None and row["status"] == "bounced"
    assert await t.MessageSuppression.count() == 1

    # The next message to that address is not sent, and says why.
    sent_before = len(shop.container.notifier().sent)
    response = await shop.client.post("/v1/auth/password/forgot", json={"email": email})
    assert response.status in (200, 202), await response.text()
    refused = await _delivery_of("password_reset")
    assert (refused["status"], refused["error_code"]) == ("suppressed", "suppressed")
    assert len(shop.container.notifier().sent) == sent_before


async def test_an_opt_in_keeps_where_it_was_given_and_the_words_agreed_to(shop: Any) -> None:
    auth = await shop.sign_up()
    wording = "Yes, send me the mall's offers by text message, also at night."
    response = await shop.client.put("/v1/me/consents", headers=auth, json={
        "consents": {"marketing_sms": True, "marketing_night": True},
        "source": "checkout_form", "wording": wording})
    assert response.status == 200, await response.text()
    assert (await response.json())["consents"] == {"marketing_sms": True,
                                                   "marketing_night": True}
    [row] = await t.EvidenceRecord.select().where(
        (t.EvidenceRecord.kind == "consent.changed")
        & (t.EvidenceRecord.subject == f"customer:{await _me(shop, auth)}"))
    assert _json(row["context"])["source"] == "checkout_form"
    assert _json(row["payload"])["wording"] == wording


async def _me(shop: Any, auth: dict[str, str]) -> str:
    response = await shop.client.get("/v1/me", headers=auth)
    return str((await response.json())["id"])


def _json(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value)
