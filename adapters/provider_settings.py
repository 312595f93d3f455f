"""The settings of the outside providers: which ones are enabled, their credentials and
addresses, checked together so that an enabled provider without its keys fails at start."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from adapters.contract_settings import (
    DEFAULT_CONTRACTS,
    ContractSetting,
    ShippingContractSetting,
)
from adapters.durations import Days, Hours, Minutes, Seconds


class ProviderSettings(BaseSettings):
    """Part of `adapters.settings.Settings`: the providers and how to reach them."""

    payment_providers: list[str] = ["sandbox"]
    payment_contracts: list[ContractSetting] = Field(DEFAULT_CONTRACTS, validate_default=True)
    carriers: list[str] = ["sandbox-express"]
    # How often replaced credentials past their overlap and switched-away providers with
    # nothing left in flight are retired.
    provider_retirement_interval_seconds: Seconds = timedelta(minutes=1)
    # Where each carrier delivers and for what; empty: every enabled carrier everywhere, free
    # (see bootstrap.shipping_contracts), and the Korean domestic carriers within Korea.
    shipping_contracts: list[ShippingContractSetting] = []
    # Where sellers' notices go, and what the "mailbox" providers of each channel keep
    # messages in: the dev mailbox (/sandbox/mailbox) or the log.
    email_providers: list[str] = ["mailbox"]
    sms_providers: list[str] = ["mailbox"]
    push_providers: list[str] = ["mailbox"]
    # Email over SMTP (the "smtp" email provider): implicit TLS ("tls", usually port 465),
    # STARTTLS ("starttls", usually 587), or "none" only for a relay on the same host.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""  # empty: no AUTH
    smtp_password: str = ""
    smtp_sender: str = ""  # the From of every email, e.g. "Mall <no-reply@mall.example>"
    smtp_ca_file: str = ""  # a CA bundle trusted instead of the system's (a private relay)
    smtp_timeout_seconds: Seconds = timedelta(seconds=30)
    # SMS through Twilio (the "twilio" SMS provider): the account, and our number or a
    # messaging service; status callbacks come to <base URL>/v1/webhooks/twilio/status, signed
    # with the auth token (the secondary one too, during a rotation).
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_secondary_auth_token: str = ""
    twilio_from: str = ""  # our number, E.164
    twilio_messaging_service_sid: str = ""  # instead of twilio_from: the service picks one
    twilio_base_url: str = "https://api.twilio.com"
    # Push through FCM HTTP v1 (the "fcm" push provider): a service account's key file.
    fcm_service_account_file: str = ""
    fcm_project_id: str = ""  # empty: the key file's project_id
    fcm_base_url: str = "https://fcm.googleapis.com"
    stripe_api_key: str = ""
    stripe_webhook_secrets: list[str] = []
    stripe_base_url: str = "https://api.stripe.com"
    stripe_return_url: str = ""  # where 3-D Secure sends the customer back (the storefront)
    toss_secret_key: str = ""
    toss_base_url: str = "https://api.tosspayments.com"
    toss_virtual_account_hours: Hours = timedelta(hours=72)
    toss_virtual_account_bank: str = "20"
    easypost_api_key: str = ""
    easypost_webhook_secrets: list[str] = []
    easypost_base_url: str = "https://api.easypost.com"
    # Where EasyPost parcels leave from: {"company", "street1", "city", "state", "zip",
    # "country", "phone"}; without it the carrier quotes and tracks but books nothing.
    easypost_origin_address: dict[str, str] = {}
    # Delivery Tracker (tracker.delivery) follows Korean domestic parcels; without credentials
    # the URL is a self-hosted Delivery Tracker server.
    delivery_tracker_url: str = "https://apis.tracker.delivery/graphql"
    delivery_tracker_client_id: str = ""
    delivery_tracker_client_secret: str = ""
    # Its tracking webhook, when the mall can be reached from the internet: callbacks come to
    # <base URL>/v1/webhooks/delivery-tracker/<token> (the token is their only credential).
    # Without a base URL parcels are polled: a first wait, doubling up to the longest.
    delivery_tracker_webhook_base_url: str = ""
    delivery_tracker_webhook_token: str = ""
    delivery_tracker_webhook_lifetime_hours: Hours = timedelta(hours=48)
    delivery_tracker_first_poll_minutes: Minutes = timedelta(minutes=10)
    delivery_tracker_longest_poll_hours: Hours = timedelta(hours=6)
    delivery_tracker_follow_days: Days = timedelta(days=30)
    delivery_tracker_recheck_interval_seconds: Seconds = timedelta(minutes=1)

    @model_validator(mode="after")
    def _gateways_have_keys(self) -> Self:
        if "stripe" in self.payment_providers and not (
                self.stripe_api_key and self.stripe_webhook_secrets):
            raise ValueError("stripe is enabled: set MALL_STRIPE_API_KEY and "
                             "MALL_STRIPE_WEBHOOK_SECRETS (a JSON list, newest first)")
        if "toss" in self.payment_providers and not self.toss_secret_key:
            raise ValueError("toss is enabled: set MALL_TOSS_SECRET_KEY")
        if "easypost" in self.carriers and not (
                self.easypost_api_key and self.easypost_webhook_secrets):
            raise ValueError("easypost is enabled: set MALL_EASYPOST_API_KEY and "
                             "MALL_EASYPOST_WEBHOOK_SECRETS (a JSON list, newest first)")
        return self

    @model_validator(mode="after")
    def _smtp_usable(self) -> Self:
        if "smtp" in self.email_providers and not (self.smtp_host and self.smtp_sender):
            raise ValueError("smtp is an email provider: set MALL_SMTP_HOST and "
                             "MALL_SMTP_SENDER (e.g. \"Mall <no-reply@mall.example>\")")
        if self.smtp_sender and "@" not in parseaddr(self.smtp_sender)[1]:
            raise ValueError(f"MALL_SMTP_SENDER={self.smtp_sender!r} is no email address; "
                             "write e.g. \"Mall <no-reply@mall.example>\"")
        if self.smtp_tls == "none" and self.smtp_username:
            raise ValueError("MALL_SMTP_TLS=none would send the SMTP password in plain text: "
                             "use starttls or tls with MALL_SMTP_USERNAME")
        return self

    @model_validator(mode="after")
    def _sms_and_push_usable(self) -> Self:
        if "twilio" in self.sms_providers and not (
                self.twilio_account_sid and self.twilio_auth_token
                and (self.twilio_from or self.twilio_messaging_service_sid)):
            raise ValueError("twilio is an SMS provider: set MALL_TWILIO_ACCOUNT_SID, "
                             "MALL_TWILIO_AUTH_TOKEN and MALL_TWILIO_FROM (or "
                             "MALL_TWILIO_MESSAGING_SERVICE_SID)")
        if "fcm" in self.push_providers and not self.fcm_service_account_file:
            raise ValueError("fcm is a push provider: set MALL_FCM_SERVICE_ACCOUNT_FILE to "
                             "the service account's key file (JSON)")
        return self

    @model_validator(mode="after")
    def _delivery_tracker_webhook_guarded(self) -> Self:
        if self.delivery_tracker_webhook_base_url and len(
                self.delivery_tracker_webhook_token) < 32:
            raise ValueError(
                "MALL_DELIVERY_TRACKER_WEBHOOK_BASE_URL is set: set "
                "MALL_DELIVERY_TRACKER_WEBHOOK_TOKEN to an unguessable token of at least 32 "
                "characters (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if self.delivery_tracker_first_poll_minutes <= timedelta(0) or (
                self.delivery_tracker_longest_poll_hours
                < self.delivery_tracker_first_poll_minutes):
            raise ValueError("MALL_DELIVERY_TRACKER_FIRST_POLL_MINUTES must be above zero and "
                             "no longer than MALL_DELIVERY_TRACKER_LONGEST_POLL_HOURS")
        return self
