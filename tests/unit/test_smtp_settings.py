"""The SMTP settings refuse to start a mall that could not send its email, or would send
the SMTP password in plain text."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.unit.settings_steps import settings

pytestmark = pytest.mark.usefixtures("no_mall_environment")


def test_smtp_as_a_provider_needs_a_server_and_a_sender() -> None:
    with pytest.raises(ValidationError, match="MALL_SMTP_HOST and MALL_SMTP_SENDER"):
        settings(email_providers=["smtp"], smtp_sender="Mall <no-reply@mall.test>")
    with pytest.raises(ValidationError, match="MALL_SMTP_HOST and MALL_SMTP_SENDER"):
        settings(email_providers=["smtp", "mailbox"], smtp_host="mail.test")
    ready = settings(email_providers=["smtp"], smtp_host="mail.test",
                     smtp_sender="Mall <no-reply@mall.test>")
    assert (ready.smtp_port, ready.smtp_tls) == (587, "starttls")


def test_the_sender_is_an_address() -> None:
    with pytest.raises(ValidationError, match="no email address"):
        settings(smtp_sender="Mall")


def test_a_password_is_never_sent_in_plain_text() -> None:
    with pytest.raises(ValidationError, match="plain text"):
        settings(smtp_host="mail.test", smtp_tls="none", smtp_username="mall",
                 smtp_password="secret")
    settings(smtp_host="localhost", smtp_tls="none")  # a local relay without AUTH is fine


def test_the_tls_mode_is_one_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALL_SMTP_TLS", "ssl")
    with pytest.raises(ValidationError, match="starttls"):
        settings()
    monkeypatch.setenv("MALL_SMTP_TLS", "tls")
    assert settings().smtp_tls == "tls"
