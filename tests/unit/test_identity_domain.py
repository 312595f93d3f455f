"""The rules of sign-in flows, pending links, unlinking and rotating sessions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import Conflict, Unauthorized
from domain.identity import (
    FLOW_LIFETIME,
    PENDING_LINK_LIFETIME,
    AuthFlow,
    FlowPurpose,
    FlowRefused,
    Identity,
    LastWayIn,
    PendingLink,
    RefreshReused,
    Session,
    SessionStatus,
    binding_of,
    check_unlink,
    digest,
    pkce_challenge,
    ways_in,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


FLOW = AuthFlow(state_hash=digest("state"), provider="google", purpose=FlowPurpose.LOGIN,
                nonce="n", code_verifier="v" * 64,
                redirect_uri="http://127.0.0.1:8080/v1/auth/google/callback", created_at=NOW)


def flow(**overrides: Any) -> AuthFlow:
    """A fresh copy of FLOW with `overrides`."""
    return dataclasses.replace(FLOW, **overrides)


# --- AuthFlow.redeem --------------------------------------------------------------------------


def test_a_fresh_flow_redeems_once() -> None:
    f = flow()
    f.redeem("google", NOW + timedelta(seconds=30))
    assert f.used
    with pytest.raises(FlowRefused) as replayed:
        f.redeem("google", NOW + timedelta(seconds=31))
    assert replayed.value.reason == "state_replayed"
    assert isinstance(replayed.value, Unauthorized)


def test_a_flow_is_refused_for_another_provider_and_stays_unused() -> None:
    f = flow()
    with pytest.raises(FlowRefused) as foreign:
        f.redeem("kakao", NOW)
    assert foreign.value.reason == "state_mismatch"
    assert not f.used


def test_an_expired_flow_is_refused() -> None:
    f = flow()
    with pytest.raises(FlowRefused) as expired:
        f.redeem("google", NOW + FLOW_LIFETIME + timedelta(seconds=1))
    assert expired.value.reason == "flow_expired"
    assert not f.used
    flow().redeem("google", NOW + FLOW_LIFETIME)  # the last moment still counts


def test_a_flow_used_already_is_refused_first() -> None:
    with pytest.raises(FlowRefused) as refused:
        flow(used=True).redeem("kakao", NOW + timedelta(days=1))
    assert refused.value.reason == "state_replayed"


# --- PendingLink.confirm ----------------------------------------------------------------------


def pending(**overrides: Any) -> PendingLink:
    return dataclasses.replace(PendingLink(digest("link"), "cus_owner", "google", "g-1",
                                           "ada@example.com", NOW), **overrides)


def test_the_owner_confirms_a_pending_link_once() -> None:
    link = pending()
    link.confirm("cus_owner", NOW + timedelta(minutes=5))
    assert link.used
    with pytest.raises(Unauthorized, match="expired"):
        link.confirm("cus_owner", NOW + timedelta(minutes=6))


def test_another_account_cannot_confirm_a_pending_link() -> None:
    link = pending()
    with pytest.raises(Unauthorized, match="another account"):
        link.confirm("cus_intruder", NOW)
    assert not link.used


def test_a_pending_link_expires() -> None:
    link = pending()
    with pytest.raises(Unauthorized, match="expired"):
        link.confirm("cus_owner", NOW + PENDING_LINK_LIFETIME + timedelta(seconds=1))
    assert not link.used


# --- unlinking ----------------------------------------------------------------------------


def identity(provider: str, subject: str = "s-1") -> Identity:
    return Identity("cus_1", provider, subject, None, True, NOW)


def test_the_last_way_in_cannot_be_unlinked() -> None:
    google = identity("google")
    with pytest.raises(LastWayIn) as refused:
        check_unlink(google, [google], has_password=False)
    assert isinstance(refused.value, Conflict) and "only way to sign in" in refused.value.detail


def test_unlinking_is_fine_with_a_password_or_another_provider() -> None:
    google, kakao = identity("google"), identity("kakao")
    check_unlink(google, [google], has_password=True)
    check_unlink(google, [google, kakao], has_password=False)
    # A second account at the same provider is another way in too.
    check_unlink(google, [google, identity("google", "s-2")], has_password=False)


def test_ways_in_lists_providers_sorted_then_password_then_recovery() -> None:
    assert ways_in(has_password=True, providers=["kakao", "google"], email_recovery=True) == [
        "provider:google", "provider:kakao", "password", "email_recovery_link"]
    assert ways_in(has_password=False, providers=[], email_recovery=False) == []


# --- sessions -----------------------------------------------------------------------------


def session(status: SessionStatus = SessionStatus.ACTIVE) -> Session:
    return Session("ses_1", "cus_1", "fam_1", digest("refresh"), NOW, NOW + timedelta(days=30),
                   status)


def test_an_active_session_refreshes() -> None:
    session().check_refresh(NOW + timedelta(days=1))


def test_a_rotated_refresh_token_presented_again_is_reuse() -> None:
    with pytest.raises(RefreshReused) as reused:
        session(SessionStatus.ROTATED).check_refresh(NOW)
    assert reused.value.code == "refresh-token-reused" and isinstance(reused.value, Unauthorized)


def test_a_revoked_or_expired_session_does_not_refresh() -> None:
    with pytest.raises(Unauthorized) as revoked:
        session(SessionStatus.REVOKED).check_refresh(NOW)
    assert not isinstance(revoked.value, RefreshReused)
    with pytest.raises(Unauthorized) as expired:
        session().check_refresh(NOW + timedelta(days=30))
    assert not isinstance(expired.value, RefreshReused)


# --- digests and PKCE ---------------------------------------------------------------------


def test_pkce_challenge_matches_rfc_7636_appendix_b() -> None:
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


def test_digests_hide_the_secret_and_bindings_follow_the_state() -> None:
    assert digest("secret") == digest("secret") != digest("secret2")
    assert len(digest("secret")) == 64 and "secret" not in digest("secret")
    assert binding_of("hash-1") == digest("hash-1")[:32]
    assert binding_of("hash-1") != binding_of("hash-2")
