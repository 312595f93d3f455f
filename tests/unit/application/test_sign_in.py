"""Signing in with an external provider on fakes: flows used once, accounts created or
offered a link, never taken over by an email alone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from application.identity import SignInResult, SignInStart
from application.ports import VerifiedIdentity
from domain.errors import ProviderUnavailable, SignInRefused
from tests.unit.application.harness import Mall

PASSWORD = "correct horse battery"


def _callback(started: SignInStart, **params: str) -> tuple[dict[str, str], dict[str, str]]:
    state = parse_qs(urlparse(started.authorization_url).query)["state"][0]
    return {"state": state, "code": "code-1", **params}, {
        started.cookie_name: started.browser_secret}


async def _sign_in(mall: Mall, subject: str = "sub-1", email: str | None = "ada@example.com",
                   verified: bool = True) -> SignInResult:
    mall.identity.next_identity = VerifiedIdentity("fakeid", subject, email, verified)
    sign_in = mall.container.sign_in()
    started = await sign_in.start("fakeid")
    params, cookies = _callback(started)
    return await sign_in.callback("fakeid", params, cookies)


def _events(mall: Mall) -> list[str]:
    return [e["name"] for e in mall.db.rows("auth_events")]


async def test_starting_keeps_the_flow_server_side_and_only_its_hash(mall: Mall) -> None:
    started = await mall.container.sign_in().start("fakeid", channel="Email!",
                                                   campaign="winter")
    params, _ = _callback(started)
    [request] = mall.identity.requests
    assert request.state == params["state"] and request.code_challenge and request.nonce
    [flow] = mall.db.rows("flows")
    assert params["state"] not in str(flow)  # only a digest of the state is stored
    assert (flow.channel, flow.campaign) == ("email", "winter")
    assert _events(mall) == ["login_started"]


async def test_a_first_sign_in_creates_a_verified_account_linked_to_the_provider(
        mall: Mall) -> None:
    result = await _sign_in(mall)
    assert (result.status, result.created) == ("signed_in", True)
    assert result.tokens is not None
    [customer] = mall.db.rows("customers")
    assert (customer.email, customer.email_verified, customer.password_hash) == (
        "ada@example.com", True, "")
    [identity] = mall.db.rows("identities")
    assert (identity.customer_id, identity.subject) == (customer.id, "sub-1")
    assert _events(mall)[-2:] == ["signed_up", "login_succeeded"]
    customer_seen = await mall.container.accounts().authenticate(result.tokens.access_token)
    assert customer_seen.id == customer.id


async def test_signing_in_again_opens_a_new_session_on_the_same_account(mall: Mall) -> None:
    first = await _sign_in(mall)
    again = await _sign_in(mall)
    assert (again.status, again.created, again.customer_id) == (
        "signed_in", False, first.customer_id)
    assert len(mall.db.rows("customers")) == 1 and len(mall.db.rows("sessions")) == 2


async def test_an_address_the_provider_did_not_verify_never_becomes_the_accounts(
        mall: Mall) -> None:
    result = await _sign_in(mall, email="ada@example.com", verified=False)
    assert result.created
    [customer] = mall.db.rows("customers")
    assert customer.email.endswith("@users.invalid") and not customer.email_verified


async def test_a_callback_is_good_once(mall: Mall) -> None:
    mall.identity.next_identity = VerifiedIdentity("fakeid", "sub-1", "a@example.com", True)
    sign_in = mall.container.sign_in()
    params, cookies = _callback(await sign_in.start("fakeid"))
    await sign_in.callback("fakeid", params, cookies)
    with pytest.raises(SignInRefused):
        await sign_in.callback("fakeid", params, cookies)
    assert len(mall.db.rows("sessions")) == 1


async def test_a_callback_from_another_browser_is_refused(mall: Mall) -> None:
    mall.identity.next_identity = VerifiedIdentity("fakeid", "sub-1", "a@example.com", True)
    sign_in = mall.container.sign_in()
    for secret in (None, "another-browsers-secret"):
        started = await sign_in.start("fakeid")
        params, _ = _callback(started)
        cookies = {} if secret is None else {started.cookie_name: secret}
        with pytest.raises(SignInRefused):
            await sign_in.callback("fakeid", params, cookies)
    assert mall.db.rows("customers") == []


async def test_a_state_we_never_issued_is_refused_with_the_ways_still_open(
        mall: Mall) -> None:
    with pytest.raises(SignInRefused) as refused:
        await mall.container.sign_in().callback("fakeid", {"state": "forged", "code": "c"})
    assert refused.value.reason == "state_mismatch"
    assert _events(mall) == ["login_failed"]


async def test_the_customer_cancelling_at_the_provider_is_said_plainly(mall: Mall) -> None:
    sign_in = mall.container.sign_in()
    params, cookies = _callback(await sign_in.start("fakeid"), error="access_denied")
    del params["code"]
    with pytest.raises(SignInRefused, match="cancelled") as refused:
        await sign_in.callback("fakeid", params, cookies)
    assert refused.value.reason == "access_denied"
    assert mall.db.rows("customers") == []


async def test_a_provider_that_is_down_is_not_where_the_customer_is_sent(mall: Mall) -> None:
    mall.identity.up = False
    with pytest.raises(ProviderUnavailable, match="did not send you there") as down:
        await mall.container.sign_in().start("fakeid")
    assert down.value.request_sent is False
    assert mall.db.rows("flows") == []


async def test_an_email_owned_by_a_verified_account_is_offered_as_a_link_not_taken(
        mall: Mall) -> None:
    accounts = mall.container.accounts()
    owner = await accounts.register("ada@example.com", PASSWORD)
    await mall.run_outbox()
    link = next(n.params["link"] for n in mall.notifier.sent if n.template == "verify_email")
    await accounts.verify_email(link.split("token=", 1)[1])

    result = await _sign_in(mall, email="Ada@Example.com")
    assert result.status == "link_pending" and result.link_token
    assert result.tokens is None and mall.db.rows("identities") == []
    identity = await mall.container.sign_in().confirm_link(owner.id, result.link_token)
    assert identity.customer_id == owner.id
    [linked] = mall.db.rows("identities")
    assert (linked.customer_id, linked.provider) == (owner.id, "fakeid")
    again = await _sign_in(mall, email="ada@example.com")
    assert (again.status, again.customer_id) == ("signed_in", owner.id)
    # The owner was told by email that a link waits, then that a new way in was added.
    await mall.run_outbox()
    told = [(n.template, n.params.get("provider")) for n in mall.notifier.sent
            if n.template in ("link_confirmation", "new_provider_sign_in")]
    assert told == [("link_confirmation", "fakeid"), ("new_provider_sign_in", "fakeid")]


async def test_an_email_owned_by_an_unverified_account_links_nothing(mall: Mall) -> None:
    await mall.container.accounts().register("ada@example.com", PASSWORD)
    result = await _sign_in(mall, email="ada@example.com")
    assert result.status == "email_in_use" and result.link_token is None
    assert "has not confirmed its address" in result.message
    assert mall.db.rows("identities") == [] and len(mall.db.rows("customers")) == 1
