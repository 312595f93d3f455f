"""Every setting of the mall, typed and checked: read from MALL_* environment variables (and an
optional .env file) by `bootstrap.py` alone, documented one by one in the README's
"Configuration" table.

Durations are `timedelta`s; their variables keep a number in the unit their name ends with
(MALL_SWEEP_INTERVAL_SECONDS=10 is ten seconds). Lists and mappings are JSON.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, get_origin

from pydantic import (
    AliasChoices,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from adapters.alert_settings import AlertSettings
from adapters.analytics_settings import AnalyticsSettings
from adapters.checkpoints import checkpoint_keys
from adapters.contract_settings import KycRuleSetting
from adapters.durations import Days, Hours, Milliseconds, Minutes, Seconds
from adapters.identity.oidc import PRESETS
from adapters.provider_settings import ProviderSettings
from adapters.shipping.sandbox_scenarios import known_scenario
from adapters.throttling import parse_rules
from application.throttling import DEFAULT_RATE_LIMITS
from domain.carriers import KOREAN_CARRIERS
from domain.delivery_incidents import DEFAULT_DEADLINES
from domain.shipments import DeliveryProblem

# The provider names each provider setting accepts: the adapters the container can build for
# it (tests/unit/test_settings.py holds the two together).
PROVIDER_CHOICES: dict[str, tuple[str, ...]] = {
    "payment_providers": ("sandbox", "stripe", "toss"),
    "carriers": ("sandbox-express", "easypost"),
    "notifier_provider": ("console", "mailbox"),
    "analytics_providers": ("ga4", "log", "segment"),
    "alert_provider": ("log", "channels"),
    "fraud_provider": ("rules",),
    "real_name_provider": ("none", "sandbox"),
    "email_providers": ("mailbox", "smtp"),
    "sms_providers": ("mailbox", "twilio"),
    "push_providers": ("mailbox", "fcm"),
}


class Settings(AlertSettings, AnalyticsSettings, ProviderSettings):
    """All settings, read from MALL_* environment variables (and an optional .env file)."""

    # List and dict settings are JSON, decoded by `_json_settings` so that a value that is not
    # JSON is a settings error naming the variable, not a traceback.
    model_config = SettingsConfigDict(env_prefix="MALL_", env_file=".env", extra="ignore",
                                      enable_decoding=False)

    database_url: str = Field("", validation_alias=AliasChoices("MALL_DATABASE_URL",
                                                                "DATABASE_URL"))
    sqlite_path: str = "var/mall.sqlite"
    database_pool_size: int = 10  # PostgreSQL connections per event loop; 0: one per query
    redis_url: str = Field("", validation_alias=AliasChoices("MALL_REDIS_URL", "REDIS_URL"))
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str = ""
    secret_key: str = ""
    pseudonym_key: str = ""
    keys_file: str = "var/keys.json"
    access_token_ttl_seconds: Seconds = timedelta(seconds=900)
    log_level: str = "INFO"

    notifier_provider: str = "mailbox"
    alert_provider: str = "log"
    fraud_provider: str = "rules"
    # Sign-in providers: "sandbox", "google", "kakao", "apple", "naver", or any name with an
    # "issuer" in identity_provider_settings (a generic OpenID Connect provider).
    identity_providers: list[str] = ["sandbox"]
    identity_provider_settings: dict[str, dict[str, Any]] = {}
    real_name_provider: str = "sandbox"  # or "none": no real-name verification offered
    refresh_token_ttl_days: Days = timedelta(days=30)
    # Master keys for sealing CI (base64 of 32 bytes, by key id) and the one to seal with;
    # empty: one derived from MALL_SECRET_KEY (embedded mode).
    data_keys: dict[str, str] = {}
    data_key_id: str = ""
    # The key of the DI blind index (base64 of 32 bytes). It must never change (indexes made
    # under another key no longer match); empty: derived from MALL_SECRET_KEY (embedded).
    blind_index_key: str = ""
    # Days each record class is kept after an erasure, per jurisdiction (KR: Act on Consumer
    # Protection in Electronic Commerce, art. 6; Protection of Communications Secrets Act).
    retention_policies: dict[str, dict[str, int]] = {
        "KR": {"payment_records": 1825, "contract_records": 1825, "complaints": 1095,
               "access_logs": 90},
        "EU": {"payment_records": 3650, "contract_records": 3650, "complaints": 1095,
               "access_logs": 180},
        "default": {"payment_records": 2555, "contract_records": 2555, "complaints": 1095,
                    "access_logs": 90},
    }
    retention_interval_seconds: Seconds = timedelta(hours=1)
    # Signed checkpoints of the evidence ledger, kept outside the database (README, Evidence):
    # keys by id (base64, 32 bytes or more; empty: derived from MALL_SECRET_KEY), the one that
    # signs (empty: the first), the append-only file (empty: beside the SQLite database, or in
    # var/ with PostgreSQL), and how often the worker signs one.
    evidence_checkpoint_keys: dict[str, str] = {}
    evidence_checkpoint_key_id: str = ""
    evidence_checkpoint_file: str = ""
    evidence_checkpoint_interval_seconds: Seconds = timedelta(minutes=5)
    # How often the worker seals the evidence appended since (appends wait for no lock; audits
    # list what is not sealed yet, and verifying seals first).
    evidence_seal_interval_seconds: Seconds = timedelta(seconds=2)
    # Messages to customers (README, "Messages"): each channel's providers, tried in this
    # order ("mailbox": the dev mailbox); the channels of message types tried in another
    # order than domain/messages.py gives ({"order_paid": ["push", "email"]}); the sender
    # named in promotional messages; how often deferred ones (quiet hours) are looked at.
    message_channels: dict[str, list[str]] = {}
    message_sender_name: str = "Mall"
    deferred_messages_interval_seconds: Seconds = timedelta(minutes=1)
    # How often marketing opt-ins two years old are looked for, to remind their customers.
    consent_reminder_interval_seconds: Seconds = timedelta(days=1)
    # /metrics: with a token, scrapers send it as a bearer token; without, only clients on
    # this machine (loopback) are answered.
    metrics_token: str = ""
    # Traces: exported over OTLP/HTTP to this collector URL (e.g.
    # http://otel-collector:4318/v1/traces); empty: not recorded.
    otlp_endpoint: str = ""
    otlp_service_name: str = "mall"
    # Risk scores (0 to 1) from which an order is held for review, and refused.
    fraud_review_threshold: float = Field(0.5, gt=0, le=1)
    fraud_reject_threshold: float = Field(0.95, gt=0, le=1)
    fraud_high_value_minor: dict[str, int] = {"KRW": 2_000_000, "USD": 150_000, "EUR": 150_000}
    fraud_model_max_age_minutes: Minutes = timedelta(minutes=60)
    # The edge proxy's header carrying the client's country (ISO 3166-1 alpha-2).
    client_country_header: str = "CF-IPCountry"
    # The edge proxy's header carrying the client's address (e.g. "X-Real-IP"); empty: the
    # TCP peer's address. Sign-in limits per address count by it.
    client_address_header: str = ""
    # Attempts per sliding window by action and by account or address (README, "Sign-in
    # limits"); the entries given replace those defaults, the others stay.
    rate_limits: dict[str, str] = DEFAULT_RATE_LIMITS
    password_hashing_concurrency: int = 2  # argon2 checks at once, in threads off the loop
    # KYC/AML: above the threshold (minor units), orders shipped to the country need a
    # customer whose identity was verified.
    kyc_rules: list[KycRuleSetting] = Field(
        [{"country": "KR", "currency": "KRW", "threshold": 10_000_000}],
        validate_default=True)

    # Hours a delivery incident may wait on its owner before it escalates to the operators,
    # by problem; the entries given replace those defaults, the others stay.
    delivery_incident_deadlines: dict[str, float] = {
        problem.value: hours / timedelta(hours=1)
        for problem, hours in DEFAULT_DEADLINES.items()}
    delivery_incident_check_interval_seconds: Seconds = timedelta(minutes=5)
    # Promotional campaigns: how often the worker sends a batch, messages a minute per
    # channel (every campaign on it together), how long one sender holds a campaign.
    campaign_send_interval_seconds: Seconds = timedelta(seconds=5)
    campaign_rate_limits: dict[str, int] = {"email": 600, "sms": 60, "push": 600}
    campaign_lease_seconds: Seconds = timedelta(seconds=60)
    reconcile_after_minutes: Minutes = timedelta(minutes=10)
    reconcile_interval_seconds: Seconds = timedelta(minutes=5)

    sandbox_webhook_secrets: list[str] = ["whsec_sandbox_payments_dev"]
    sandbox_carrier_secrets: list[str] = ["whsec_sandbox_carrier_dev"]
    sandbox_stall_seconds: Seconds = timedelta(seconds=20)
    sandbox_deposit_delay_seconds: Seconds = timedelta(seconds=5)
    sandbox_webhook_delay_seconds: Seconds = timedelta(seconds=0.5)
    sandbox_tracking_step_seconds: Seconds = timedelta(seconds=2)
    # The journey a sandbox parcel plays unless its address line 2 says `scenario:<name>`
    # (adapters/shipping/sandbox_scenarios.py lists them).
    sandbox_carrier_scenario: str = "normal"

    http_timeout_seconds: Seconds = timedelta(seconds=30)
    http_retries: int = 2
    breaker_threshold: int = 5
    breaker_ttl_seconds: Seconds = timedelta(seconds=30)

    payment_sync_wait_seconds: Seconds = timedelta(seconds=3)
    payment_action_timeout_minutes: Minutes = timedelta(minutes=30)
    operation_slow_after_seconds: Seconds = timedelta(seconds=15)
    operation_update_every_seconds: Seconds = timedelta(seconds=5)
    idempotency_ttl_hours: Hours = timedelta(hours=24)
    inbox_give_up_after_seconds: Seconds = timedelta(minutes=15)

    outbox_max_attempts: int = 8
    outbox_lease_seconds: Seconds = timedelta(seconds=90)
    sweep_interval_seconds: Seconds = timedelta(seconds=10)
    sweep_older_than_seconds: Seconds = timedelta(seconds=30)
    worker_threads: int = 4
    worker_heartbeat_timeout_ms: Milliseconds = timedelta(seconds=15)
    embedded_worker: bool | None = None  # default: in-process worker unless REDIS_URL is set

    allow_sandbox: bool = False  # sandbox providers on a PostgreSQL database (staging)
    # Check every JSON answer against its declared model; a mismatch is logged and answers 500
    # (the tests). Off in production, for speed.
    validate_responses: bool = False

    @property
    def sandbox_enabled(self) -> bool:
        return ("sandbox" in self.payment_providers or "sandbox-express" in self.carriers
                or "sandbox" in self.identity_providers or self.real_name_provider == "sandbox")

    @field_validator("*", mode="before")
    @classmethod
    def _json_settings(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[info.field_name or ""]
        kind = get_origin(field.annotation)
        if not isinstance(value, str) or kind not in (list, dict):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            default = json.dumps(field.default)
            example = (default if field.default and len(default) <= 40
                       else '["a", "b"]' if kind is list else '{"name": "value"}')
            raise ValueError(f"not JSON ({exc.msg} at character {exc.pos}); write a JSON "
                             f"{'list' if kind is list else 'object'}, e.g. {example}") from None

    @field_validator(*PROVIDER_CHOICES)
    @classmethod
    def _providers_known(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = sorted(PROVIDER_CHOICES[info.field_name or ""])
        unknown = [name for name in ([value] if isinstance(value, str) else value)
                   if name not in allowed]
        if unknown:
            raise ValueError(f"unknown provider {', '.join(map(repr, unknown))}; allowed: "
                             f"{', '.join(allowed)}")
        return value

    @model_validator(mode="after")
    def _sign_in_providers_known(self) -> Settings:
        known = {"sandbox", "naver", "apple", *PRESETS}
        unknown = [name for name in self.identity_providers if name not in known
                   and "issuer" not in self.identity_provider_settings.get(name, {})]
        if unknown:
            raise ValueError(
                f"MALL_IDENTITY_PROVIDERS={json.dumps(self.identity_providers)}: unknown sign-in "
                f"provider {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(known))}, "
                "or any name given an \"issuer\" in MALL_IDENTITY_PROVIDER_SETTINGS")
        return self

    @model_validator(mode="after")
    def _shipping_contracts_name_carriers(self) -> Settings:
        for contract in self.shipping_contracts:
            if contract.seller_ships and contract.carrier not in KOREAN_CARRIERS:
                raise ValueError(
                    f"MALL_SHIPPING_CONTRACTS: sellers register parcels only with "
                    f"{', '.join(sorted(KOREAN_CARRIERS))}, not {contract.carrier!r}")
            if not contract.seller_ships and contract.carrier not in self.carriers:
                raise ValueError(
                    f"MALL_SHIPPING_CONTRACTS: {contract.carrier!r} is not an enabled carrier "
                    f"(MALL_CARRIERS={json.dumps(self.carriers)}); a Korean domestic carrier "
                    "needs \"seller_ships\": true")
        return self

    @field_validator("sandbox_carrier_scenario")
    @classmethod
    def _sandbox_scenario_known(cls, value: str) -> str:
        return known_scenario(value)

    @field_validator("rate_limits", mode="after")
    @classmethod
    def _rate_limits_over_defaults(cls, given: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(given) - set(DEFAULT_RATE_LIMITS))
        if unknown:
            raise ValueError(f"unknown rate limit(s) {', '.join(unknown)}; known: "
                             f"{', '.join(DEFAULT_RATE_LIMITS)}")
        merged = {**DEFAULT_RATE_LIMITS, **given}
        parse_rules(merged)
        return merged

    @field_validator("message_channels", mode="after")
    @classmethod
    def _message_channels_known(cls, given: dict[str, list[str]]) -> dict[str, list[str]]:
        known = ("email", "sms", "push")
        for template, channels in given.items():
            if not channels or any(c not in known for c in channels):
                raise ValueError(f"the channels of {template!r} are one or more of "
                                 f"{', '.join(known)}, in the order they are tried")
        return given

    @field_validator("delivery_incident_deadlines", mode="after")
    @classmethod
    def _deadlines_per_problem(cls, given: dict[str, float]) -> dict[str, float]:
        known = [problem.value for problem in DeliveryProblem]
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown delivery problem(s) {', '.join(unknown)}; known: "
                             f"{', '.join(known)}")
        if any(not 0 < hours <= 24 * 365 for hours in given.values()):
            raise ValueError("a deadline is more than 0 and at most 8760 hours")
        defaults = {p.value: d / timedelta(hours=1) for p, d in DEFAULT_DEADLINES.items()}
        return {**defaults, **given}

    @model_validator(mode="after")
    def _checkpoint_keys_usable(self) -> Settings:
        if self.evidence_checkpoint_keys:  # a bad key ring fails at start, not at the checkpoint
            checkpoint_keys(self.evidence_checkpoint_keys, self.evidence_checkpoint_key_id, "")
        return self

    @model_validator(mode="after")
    def _no_sandbox_in_production(self) -> Settings:
        # The sandboxes' secrets are public and their pages pay orders without money: fine on
        # a laptop, never by accident on a real database.
        if self.database_url and self.sandbox_enabled and not self.allow_sandbox:
            raise ValueError(
                "sandbox providers are configured while DATABASE_URL points at a real "
                "database; configure real providers (MALL_PAYMENT_PROVIDERS, MALL_CARRIERS, "
                "MALL_IDENTITY_PROVIDERS, MALL_REAL_NAME_PROVIDER) or, for a staging stack, "
                "set MALL_ALLOW_SANDBOX=true"
            )
        return self

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def evidence_checkpoint_path(self) -> str:
        if self.evidence_checkpoint_file:
            return self.evidence_checkpoint_file
        folder = Path("var") if self.database_url else Path(self.sqlite_path).parent
        return str(folder / "evidence-checkpoints.jsonl")

    @property
    def runs_worker_in_process(self) -> bool:
        return self.embedded_worker if self.embedded_worker is not None else not self.redis_url


def load_keys(settings: Settings) -> Settings:
    """Fill in missing signing and pseudonym keys: random, kept in `keys_file` so that tokens
    and analytics ids survive a restart of the embedded mode. Production sets both."""
    if settings.secret_key and settings.pseudonym_key:
        return settings
    path = Path(settings.keys_file)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name in ("secret_key", "pseudonym_key"):
        if not stored.get(name):
            stored[name] = secrets.token_urlsafe(48)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(stored))
    return settings.model_copy(update={
        "secret_key": settings.secret_key or stored["secret_key"],
        "pseudonym_key": settings.pseudonym_key or stored["pseudonym_key"],
    })
