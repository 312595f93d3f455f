"""Local accounts and sessions on fakes (a fast password hasher instead of argon2)."""

from __future__ import annotations

import pytest

from domain.commands import SendNotification, TrackEvent
from domain.customers import Customer
from domain.errors import AlreadyExists, DomainError, TooManyAttempts, Unauthorized
from domain.identity import RefreshReused
from tests.unit.application.harness import Mall

PASSWORD = "correct horse battery"


async def _link(mall: Mall, customer: Customer, template: str) -> str:
    await mall.run_outbox()
    [sent] = [n for n in mall.notifier.sent
              if n.template == template and n.recipient == customer.email]
    return str(sent.params["link"]).split("token=", 1)[1]


async def test_registering_stores_the_customer_with_a_hashed_password(mall: Mall) -> None:
    customer = await mall.container.accounts().register("Ada@Example.COM", PASSWORD,
                                                        country="DE")
    async with mall.container.uow()() as unit:
        stored = await unit.customers.get(customer.id)
    assert stored is not None
    assert stored.email == "ada@example.com"
    assert stored.password_hash != PASSWORD and stored.password_hash.startswith("fake$")
    assert (stored.email_verified, stored.jurisdiction) == (False, "EU")
    [evidence] = mall.db.evidence("account.registered")
    assert evidence.subject == f"customer:{customer.id}"
    assert [e["name"] for e in mall.db.rows("auth_events")] == ["signed_up"]


async def test_registering_asks_for_a_verification_email_and_tracks_the_sign_up(
        mall: Mall) -> None:
    customer = await mall.customer()
    assert SendNotification("verify_email", customer_id=customer.id,
                            mint="verify_email") in mall.db.commands(SendNotification)
    assert TrackEvent(customer.id, "Signed Up", {"method": "password"}) in mall.db.commands(
        TrackEvent)
    await mall.run_outbox()
    [sent] = mall.notifier.sent
    assert sent.recipient == customer.email and "token=" in sent.params["link"]
    # The link is minted at sending: no live token waits in the outbox.
    assert all("link" not in str(m.payload) for m in mall.db.outbox())


async def test_an_email_is_one_account_whatever_its_case(mall: Mall) -> None:
    accounts = mall.container.accounts()
    await accounts.register("ada@example.com", PASSWORD)
    with pytest.raises(AlreadyExists, match="exists already"):
        await accounts.register("ADA@example.com", PASSWORD)
    assert len(mall.db.rows("customers")) == 1


async def test_a_short_password_is_refused_before_it_is_hashed(mall: Mall) -> None:
    with pytest.raises(DomainError, match="at least"):
        await mall.container.accounts().register("ada@example.com", "short")
    assert mall.db.rows("customers") == []


async def test_signing_in_opens_a_session_the_access_token_is_bound_to(mall: Mall) -> None:
    customer = await mall.customer()
    accounts = mall.container.accounts()
    pair = await accounts.login(customer.email.upper(), PASSWORD)
    assert (await accounts.authenticate(pair.access_token)).id == customer.id
    [session] = mall.db.rows("sessions")
    assert session.customer_id == customer.id
    assert pair.refresh_token not in str(mall.db.rows("sessions"))  # only its digest is kept
    assert [e["name"] for e in mall.db.rows("auth_events")][-1] == "login_succeeded"


async def test_a_wrong_password_is_refused_and_counted_as_a_fraud_signal(mall: Mall) -> None:
    customer = await mall.customer()
    with pytest.raises(Unauthorized, match="email or password is wrong"):
        await mall.container.accounts().login(customer.email, "wrong password!")
    async with mall.container.uow()() as unit:
        failures = await unit.customers.login_failures_since(
            customer.id, mall.clock.now().replace(hour=0))
    assert failures == 1
    assert [e["reason"] for e in mall.db.rows("auth_events")][-1] == "wrong_credentials"


async def test_an_unknown_email_is_refused_alike_after_the_same_work(mall: Mall) -> None:
    with pytest.raises(Unauthorized, match="email or password is wrong"):
        await mall.container.accounts().login("nobody@example.com", PASSWORD)
    assert mall.hasher.verified == 1  # a decoy check: the timing does not tell


async def test_too_many_wrong_passwords_hold_the_account_even_for_the_right_one(
        mall: Mall) -> None:
    customer = await mall.customer()
    accounts = mall.container.accounts()
    for _ in range(10):
        with pytest.raises(Unauthorized):
            await accounts.login(customer.email, "wrong password!")
    with pytest.raises(TooManyAttempts) as held:
        await accounts.login(customer.email, PASSWORD)
    assert held.value.retry_after > 0


async def test_the_emailed_link_verifies_the_address_once(mall: Mall) -> None:
    customer = await mall.customer()
    token = await _link(mall, customer, "verify_email")
    accounts = mall.container.accounts()
    assert (await accounts.verify_email(token)).email_verified
    with pytest.raises(Unauthorized, match="used already"):
        await accounts.verify_email(token)
    assert await accounts.resend_verification(await accounts.me(customer.id)) is False


async def test_a_password_reset_link_sets_a_new_password_and_ends_every_session(
        mall: Mall) -> None:
    customer = await mall.customer()
    accounts = mall.container.accounts()
    old = await accounts.login(customer.email, PASSWORD)
    await accounts.forgot_password(customer.email)
    token = await _link(mall, customer, "password_reset")
    await accounts.reset_password(token, "a brand new passphrase")

    with pytest.raises(Unauthorized, match="signed out"):
        await accounts.authenticate(old.access_token)
    with pytest.raises(Unauthorized):
        await accounts.login(customer.email, PASSWORD)
    assert (await accounts.login(customer.email, "a brand new passphrase")).access_token
    with pytest.raises(Unauthorized, match="used already"):
        await accounts.reset_password(token, "yet another passphrase")
    [evidence] = mall.db.evidence("account.password_reset")
    assert evidence.payload["sessions_revoked"] == 1


async def test_asking_a_reset_for_an_unknown_address_sends_nothing_and_says_nothing(
        mall: Mall) -> None:
    await mall.container.accounts().forgot_password("nobody@example.com")
    await mall.run_outbox()
    assert mall.notifier.sent == []


async def test_a_refresh_token_rotates_and_a_reused_one_revokes_the_whole_family(
        mall: Mall) -> None:
    customer = await mall.customer()
    sessions = mall.container.sessions()
    first = await mall.container.accounts().login(customer.email, PASSWORD)
    second = await sessions.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert (await sessions.authenticate(second.access_token)).id == customer.id

    with pytest.raises(RefreshReused):
        await sessions.refresh(first.refresh_token)  # a stolen copy comes back
    with pytest.raises(Unauthorized):
        await sessions.authenticate(second.access_token)
    with pytest.raises(Unauthorized):
        await sessions.refresh(second.refresh_token)
    assert {s.status.value for s in mall.db.rows("sessions")} == {"revoked"}
    assert len(mall.db.evidence("session.refresh_reused")) == 1


async def test_an_expired_refresh_token_is_refused(mall: Mall) -> None:
    customer = await mall.customer()
    pair = await mall.container.accounts().login(customer.email, PASSWORD)
    mall.clock.advance(days=31)
    with pytest.raises(Unauthorized):
        await mall.container.sessions().refresh(pair.refresh_token)


async def test_signing_out_ends_the_session(mall: Mall) -> None:
    customer = await mall.customer()
    accounts = mall.container.accounts()
    pair = await accounts.login(customer.email, PASSWORD)
    other = await accounts.login(customer.email, PASSWORD)
    assert await mall.container.sessions().logout(pair.access_token) == 1
    with pytest.raises(Unauthorized):
        await accounts.authenticate(pair.access_token)
    assert (await accounts.authenticate(other.access_token)).id == customer.id
    assert await mall.container.sessions().logout(other.access_token, everywhere=True) == 1


async def test_consents_are_kept_per_purpose_with_evidence(mall: Mall) -> None:
    customer = await mall.customer()
    accounts = mall.container.accounts()
    assert await accounts.set_consents(customer.id, {"marketing": True,
                                                     "analytics": False}) == {
        "marketing": True, "analytics": False}
    assert await accounts.set_consents(customer.id, {"analytics": True}) == {
        "marketing": True, "analytics": True}
    assert len(mall.db.evidence("consent.changed")) == 2
