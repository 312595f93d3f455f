"""One-click unsubscribe links (RFC 8058): minted, read back, and the withdrawal they make."""

from __future__ import annotations

import pytest

from domain.errors import DomainError, Unauthorized
from tests.unit.application.harness import Mall


def _token(header: str) -> str:
    assert header.startswith("<") and header.endswith(">")
    return header[1:-1].rsplit("/", 1)[1]


async def test_the_headers_carry_a_signed_https_link_and_the_one_click_marker(
        mall: Mall) -> None:
    links = mall.container.unsubscribe_links()
    headers = links.headers("cus_1", "marketing_email")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"][1:-1]
    assert url.startswith(mall.container.settings().base_url + "/v1/unsubscribe/")
    assert "marketing_email" not in url and "cus_1" not in url
    assert links.verify(_token(headers["List-Unsubscribe"])) == ("cus_1", "marketing_email")
    night = links.headers("cus_2", "marketing_night")["List-Unsubscribe"]
    assert links.verify(_token(night)) == ("cus_2", "marketing_night")


async def test_a_purpose_that_is_no_marketing_consent_has_no_link(mall: Mall) -> None:
    with pytest.raises(DomainError):
        mall.container.unsubscribe_links().headers("cus_1", "personalization")


async def test_a_tampered_or_foreign_token_is_refused(mall: Mall) -> None:
    links = mall.container.unsubscribe_links()
    token = _token(links.headers("cus_1", "marketing_sms")["List-Unsubscribe"])
    with pytest.raises(Unauthorized):
        links.verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    reset = mall.container.tokens().purpose_token("password_reset", "cus_1", "x", 60)
    with pytest.raises(Unauthorized):
        links.verify(reset)


async def test_the_link_withdraws_that_consent_once_with_evidence(mall: Mall) -> None:
    customer = await mall.customer()
    accounts = mall.container.accounts()
    await accounts.set_consents(customer.id, {"marketing_email": True, "marketing_sms": True})
    token = _token(mall.container.unsubscribe_links().headers(
        customer.id, "marketing_email")["List-Unsubscribe"])
    unsubscriptions = mall.container.unsubscriptions()
    assert await unsubscriptions.withdraw(token, method="one_click") == "marketing_email"
    assert await unsubscriptions.withdraw(token, method="page") == "marketing_email"
    assert await accounts.consents(customer.id) == {"marketing_email": False,
                                                    "marketing_sms": True}
    [withdrawal] = [e for e in mall.db.evidence("consent.changed")
                    if e.source == "unsubscribe-link"]
    assert withdrawal.subject == f"customer:{customer.id}"
    assert withdrawal.context == {"method": "one_click"}
    assert withdrawal.payload == {"changes": {"marketing_email": False}}


async def test_the_page_sees_whether_the_consent_still_stands(mall: Mall) -> None:
    customer = await mall.customer()
    await mall.container.accounts().set_consents(customer.id, {"marketing_push": True})
    token = _token(mall.container.unsubscribe_links().headers(
        customer.id, "marketing_push")["List-Unsubscribe"])
    unsubscriptions = mall.container.unsubscriptions()
    assert await unsubscriptions.state(token) == ("marketing_push", True)
    await unsubscriptions.withdraw(token, method="page")
    assert await unsubscriptions.state(token) == ("marketing_push", False)


async def test_a_link_of_an_erased_account_records_nothing(mall: Mall) -> None:
    token = _token(mall.container.unsubscribe_links().headers(
        "cus_gone", "marketing_email")["List-Unsubscribe"])
    assert await mall.container.unsubscriptions().withdraw(
        token, method="one_click") == "marketing_email"
    assert mall.db.rows("consents") == []
    assert [e for e in mall.db.evidence() if e.source == "unsubscribe-link"] == []
