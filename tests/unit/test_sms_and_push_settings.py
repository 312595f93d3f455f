"""The twilio and fcm providers are refused at start without what they need."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adapters.settings import Settings

TWILIO = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "token",
          "twilio_from": "+15005550006"}


@pytest.mark.parametrize(("given", "complaint"), [
    ({"sms_providers": ["twilio"]}, "MALL_TWILIO_ACCOUNT_SID"),
    ({"sms_providers": ["twilio"], **TWILIO, "twilio_from": ""}, "MALL_TWILIO_FROM"),
    ({"push_providers": ["fcm"]}, "MALL_FCM_SERVICE_ACCOUNT_FILE"),
    ({"sms_providers": ["nexmo"]}, "allowed: mailbox, twilio"),
])
def test_a_provider_without_its_credentials_is_refused(given: dict[str, Any],
                                                       complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**given)


def test_with_them_it_is_accepted() -> None:
    settings = Settings(sms_providers=["twilio", "mailbox"], push_providers=["fcm"],
                        fcm_service_account_file="/run/secrets/fcm.json", **TWILIO)
    assert settings.sms_providers == ["twilio", "mailbox"]
    messaging_service = {**TWILIO, "twilio_from": "",
                         "twilio_messaging_service_sid": "MG" + "1" * 32}
    assert Settings(sms_providers=["twilio"], **messaging_service).twilio_from == ""
