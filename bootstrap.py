"""The composition root: reads the settings and wires adapters into the use cases.

Every integration type's provider is picked by configuration through a `providers.Selector`,
so swapping a provider is a settings change (see README, "Configuration").
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, get_origin

from dependency_injector import containers, providers
from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.checkpoints import FileCheckpointStore, checkpoint_keys
from adapters.clock import SystemClock
from adapters.crypto import EnvelopeCipher, derive_key
from adapters.fraud import InHouseFraudScreen
from adapters.http import OutboundHttp
from adapters.identity.apple import apple_provider
from adapters.identity.naver import NaverProvider
from adapters.identity.oidc import PRESETS, OidcProvider, preset
from adapters.identity.real_name_sandbox import SandboxRealNameVerifier
from adapters.identity.sandbox import SandboxIdentityProvider
from adapters.logs import REQUEST_ID as REQUEST_ID  # the edge sets it per request
from adapters.logs import JsonLineFormatter
from adapters.messaging.console import ConsoleNotifier, LogAlertSink, LogAnalyticsSink
from adapters.messaging.segment import SegmentAnalyticsSink
from adapters.payments.sandbox import SIGNATURE_HEADER as PAYMENT_SIGNATURE
from adapters.payments.sandbox import SandboxGateway
from adapters.payments.stripe import StripeGateway
from adapters.payments.toss import TossGateway
from adapters.persistence.engine import close_pool, engine_for, migrate, open_pool
from adapters.persistence.periodic import PiccoloPeriodicRuns
from adapters.persistence.uow import LedgerWriter, PiccoloUnitOfWorkFactory
from adapters.queue import PROCESS_INBOX, RUN_OUTBOX, DramatiqTaskQueue, make_broker
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.security import Argon2PasswordHasher, JwtTokenIssuer
from adapters.shipping.sandbox import SIGNATURE_HEADER as CARRIER_SIGNATURE
from adapters.shipping.sandbox import SandboxCarrier
from adapters.throttling import LimitsRateLimiter, parse_rules
from application.accounts import Accounts
from application.bus import MessageBus
from application.evidence import EvidenceService
from application.idempotency import IdempotencyGuard
from application.identity import SessionService, SignIn
from application.operations import OperationsService
from application.ordering import Ordering
from application.outbox import OutboxRelay
from application.payments import KycRule, PaymentService
from application.periodic import PeriodicJobs
from application.privacy import Privacy, RealNameIdentities, policies_from
from application.shipping import Fulfilment
from application.throttling import DEFAULT_RATE_LIMITS, Throttle
from application.webhooks import Webhooks
from domain.redaction import redact_card_numbers
from domain.routing import ProviderContract

# Actor names the task queue adapter sends to; the entrypoints declare actors under them.
ACTOR_NAMES = {"outbox": RUN_OUTBOX, "inbox": PROCESS_INBOX}

DEFAULT_CONTRACTS = [
    {"provider": "sandbox", "countries": ["*"], "currencies": ["*"], "methods": ["*"],
     "priority": 100},
]


# The settings that choose providers, and the container provider each one chooses from: the
# names it offers are the names allowed.
PROVIDER_SETTINGS = {
    "payment_providers": "payment_gateways", "carriers": "carriers",
    "notifier_provider": "notifier", "analytics_provider": "analytics",
    "alert_provider": "alerts", "fraud_provider": "fraud",
    "real_name_provider": "real_name_verifier",
}


def provider_choices(setting: str) -> list[str]:
    """The provider names `setting` accepts: those the container can build."""
    provider = getattr(Container, PROVIDER_SETTINGS[setting])
    names = provider.providers if isinstance(provider, providers.Selector) else provider.kwargs
    return sorted(names)


def unbuildable_providers(container: Container) -> dict[str, str]:
    """Every configured provider that cannot be built (a missing key, an unreadable private
    key, ...), by the MALL_* variable that configures it, with the reason."""
    problems: dict[str, str] = {}
    for setting, name in {**PROVIDER_SETTINGS, "identity_providers": "identity_providers"}.items():
        try:
            getattr(container, name)()
        except Exception as exc:
            problems[f"MALL_{setting.upper()}"] = str(exc) or type(exc).__name__
    return problems


class Settings(BaseSettings):
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
    access_token_ttl_seconds: int = 900
    log_level: str = "INFO"

    payment_providers: list[str] = ["sandbox"]
    payment_contracts: list[dict[str, Any]] = DEFAULT_CONTRACTS
    carriers: list[str] = ["sandbox-express"]
    notifier_provider: str = "console"
    analytics_provider: str = "log"
    alert_provider: str = "log"
    fraud_provider: str = "rules"
    # Sign-in providers: "sandbox", "google", "kakao", "apple", "naver", or any name with an
    # "issuer" in identity_provider_settings (a generic OpenID Connect provider).
    identity_providers: list[str] = ["sandbox"]
    identity_provider_settings: dict[str, dict[str, Any]] = {}
    real_name_provider: str = "sandbox"  # or "none": no real-name verification offered
    refresh_token_ttl_days: int = 30
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
    retention_interval_seconds: float = 3600.0
    # Signed checkpoints of the evidence ledger, kept outside the database (README, Evidence):
    # keys by id (base64, 32 bytes or more; empty: derived from MALL_SECRET_KEY), the one that
    # signs (empty: the first), the append-only file (empty: beside the SQLite database, or in
    # var/ with PostgreSQL), and how often the worker signs one.
    evidence_checkpoint_keys: dict[str, str] = {}
    evidence_checkpoint_key_id: str = ""
    evidence_checkpoint_file: str = ""
    evidence_checkpoint_interval_seconds: float = 300.0
    segment_url: str = "https://api.segment.io"
    segment_write_key: str = ""
    fraud_review_threshold: float = 0.5
    fraud_reject_threshold: float = 0.95
    fraud_high_value_minor: dict[str, int] = {"KRW": 2_000_000, "USD": 150_000, "EUR": 150_000}
    fraud_model_max_age_minutes: float = 60.0
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
    kyc_rules: list[dict[str, Any]] = [
        {"country": "KR", "currency": "KRW", "threshold": 10_000_000},
    ]

    stripe_api_key: str = ""
    stripe_webhook_secrets: list[str] = []
    stripe_base_url: str = "https://api.stripe.com"
    stripe_return_url: str = ""  # where 3-D Secure sends the customer back (the storefront)
    toss_secret_key: str = ""
    toss_base_url: str = "https://api.tosspayments.com"
    toss_virtual_account_hours: int = 72
    toss_virtual_account_bank: str = "20"
    reconcile_after_minutes: float = 10.0
    reconcile_interval_seconds: float = 300.0

    sandbox_webhook_secrets: list[str] = ["whsec_sandbox_payments_dev"]
    sandbox_carrier_secrets: list[str] = ["whsec_sandbox_carrier_dev"]
    sandbox_stall_seconds: float = 20.0
    sandbox_deposit_delay_seconds: float = 5.0
    sandbox_webhook_delay_seconds: float = 0.5
    sandbox_tracking_step_seconds: float = 2.0

    http_timeout_seconds: float = 30.0
    http_retries: int = 2
    breaker_threshold: int = 5
    breaker_ttl_seconds: float = 30.0

    payment_sync_wait_seconds: float = 3.0
    payment_action_timeout_minutes: float = 30.0
    operation_slow_after_seconds: float = 15.0
    operation_update_every_seconds: float = 5.0
    idempotency_ttl_hours: int = 24
    inbox_give_up_after_seconds: float = 900.0

    outbox_max_attempts: int = 8
    outbox_lease_seconds: float = 90.0
    sweep_interval_seconds: float = 10.0
    sweep_older_than_seconds: float = 30.0
    worker_threads: int = 4
    worker_heartbeat_timeout_ms: int = 15_000
    embedded_worker: bool | None = None  # default: in-process worker unless REDIS_URL is set

    allow_sandbox: bool = False  # sandbox providers on a PostgreSQL database (staging)

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

    @field_validator(*PROVIDER_SETTINGS)
    @classmethod
    def _providers_known(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = provider_choices(info.field_name or "")
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
    def _gateways_have_keys(self) -> Settings:
        if "stripe" in self.payment_providers and not (
                self.stripe_api_key and self.stripe_webhook_secrets):
            raise ValueError("stripe is enabled: set MALL_STRIPE_API_KEY and "
                             "MALL_STRIPE_WEBHOOK_SECRETS (a JSON list, newest first)")
        if "toss" in self.payment_providers and not self.toss_secret_key:
            raise ValueError("toss is enabled: set MALL_TOSS_SECRET_KEY")
        return self

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


def _enabled(names: list[str], **available: Any) -> dict[str, Any]:
    """The configured providers, built on demand: a provider that is not enabled is never
    constructed (and needs no keys)."""
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown provider(s) in configuration: {', '.join(unknown)}; "
                         f"available: {', '.join(sorted(available))}")
    return {name: available[name]() for name in names}


def _identity_providers(names: list[str], configs: dict[str, dict[str, Any]], http: Any,
                        clock: Any, sandbox: Any) -> dict[str, Any]:
    """The configured sign-in providers; a missing setting is one clear error."""
    built: dict[str, Any] = {}
    for name in names:
        config = dict(configs.get(name, {}))
        try:
            if name == "sandbox":
                built[name] = sandbox()
            elif name == "naver":
                built[name] = NaverProvider(http, client_id=config["client_id"],
                                            client_secret=config["client_secret"])
            elif name == "apple":
                built[name] = apple_provider(
                    http, clock, client_id=config["client_id"], team_id=config["team_id"],
                    key_id=config["key_id"], private_key_pem=config["private_key_pem"])
            else:
                options = {**(preset(name) if name in PRESETS else {"name": name}), **config}
                if "issuer" not in options:
                    raise KeyError("issuer")
                built[name] = OidcProvider(http, clock, **{"name": name, **options})
        except KeyError as exc:
            raise ValueError(f"sign-in provider {name!r} needs {exc.args[0]!r} in "
                             "MALL_IDENTITY_PROVIDER_SETTINGS") from None
    return built


def _cipher(keys: dict[str, str], key_id: str, secret: str,
            blind_index_key: str = "") -> EnvelopeCipher:
    index_key = (base64.b64decode(blind_index_key) if blind_index_key
                 else derive_key(secret, "blind-index"))
    if not keys:
        return EnvelopeCipher({"local-1": derive_key(secret, "data-key")}, "local-1", index_key)
    decoded = {kid: base64.b64decode(value) for kid, value in keys.items()}
    return EnvelopeCipher(decoded, key_id or next(iter(decoded)), index_key)


def _kyc_rules(raw: list[dict[str, Any]]) -> list[KycRule]:
    return [KycRule(str(item["country"]).upper(), str(item["currency"]).upper(),
                    int(item["threshold"])) for item in raw]


def _first(values: list[str]) -> str:
    """The key we sign with: the first of the ring (the others are still accepted)."""
    return values[0]


def _contracts(raw: list[dict[str, Any]]) -> list[ProviderContract]:
    return [ProviderContract(
        provider=item["provider"], countries=frozenset(item.get("countries", ["*"])),
        currencies=frozenset(c.upper() for c in item.get("currencies", ["*"])),
        methods=frozenset(item.get("methods", ["*"])), priority=int(item.get("priority", 100)),
        enabled=bool(item.get("enabled", True)),
    ) for item in raw]


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    clock = providers.Singleton(SystemClock)
    engine = providers.Singleton(engine_for, config.database_url, config.sqlite_path)
    uow = providers.Singleton(PiccoloUnitOfWorkFactory, engine, clock)
    ledger = providers.Singleton(LedgerWriter, uow)
    pseudonym_key = providers.Callable(str.encode, config.pseudonym_key)

    alerts = providers.Selector(config.alert_provider, log=providers.Singleton(LogAlertSink))
    http = providers.Singleton(
        OutboundHttp, ledger, alerts, config.http_timeout_seconds, config.http_retries,
        config.breaker_threshold, config.breaker_ttl_seconds,
    )
    open_database_pool = providers.Callable(
        functools.partial, open_pool, engine, config.database_pool_size)
    close_database_pool = providers.Callable(functools.partial, close_pool, engine)
    broker = providers.Singleton(
        make_broker, config.redis_url, config.worker_heartbeat_timeout_ms,
        startups=providers.List(open_database_pool),
        cleanups=providers.List(http.provided.close, close_database_pool),
    )
    queue = providers.Singleton(DramatiqTaskQueue, broker)
    periodic = providers.Singleton(PeriodicJobs, providers.Singleton(PiccoloPeriodicRuns, clock),
                                   clock)

    # --- integrations: each chosen by configuration -------------------------------------
    sandbox_gateway = providers.Singleton(
        SandboxGateway,
        webhooks=providers.Singleton(
            SandboxWebhookSender, http, "sandbox-payments-webhooks",
            providers.Callable("{}/v1/webhooks/sandbox".format, config.base_url),
            providers.Callable(_first, config.sandbox_webhook_secrets), PAYMENT_SIGNATURE,
        ),
        ledger=ledger, secrets=config.sandbox_webhook_secrets,
        public_base_url=config.base_url, stall_seconds=config.sandbox_stall_seconds,
        deposit_delay_seconds=config.sandbox_deposit_delay_seconds,
        webhook_delay_seconds=config.sandbox_webhook_delay_seconds,
    )
    stripe_gateway = providers.Singleton(
        StripeGateway, http, config.stripe_api_key, config.stripe_webhook_secrets,
        config.stripe_base_url, config.stripe_return_url,
    )
    toss_gateway = providers.Singleton(
        TossGateway, http, config.toss_secret_key, config.toss_base_url,
        config.toss_virtual_account_hours, config.toss_virtual_account_bank,
    )
    payment_gateways = providers.Singleton(
        _enabled, config.payment_providers, sandbox=sandbox_gateway.provider,
        stripe=stripe_gateway.provider, toss=toss_gateway.provider)
    payment_contracts = providers.Callable(_contracts, config.payment_contracts)

    sandbox_carrier = providers.Singleton(
        SandboxCarrier,
        webhooks=providers.Singleton(
            SandboxWebhookSender, http, "sandbox-carrier-webhooks",
            providers.Callable("{}/v1/webhooks/sandbox-express".format, config.base_url),
            providers.Callable(_first, config.sandbox_carrier_secrets), CARRIER_SIGNATURE,
        ),
        ledger=ledger, secrets=config.sandbox_carrier_secrets,
        step_seconds=config.sandbox_tracking_step_seconds,
    )
    carriers = providers.Singleton(
        _enabled, config.carriers, **{"sandbox-express": sandbox_carrier.provider})

    notifier = providers.Selector(
        config.notifier_provider, console=providers.Singleton(ConsoleNotifier))
    analytics = providers.Selector(
        config.analytics_provider,
        log=providers.Singleton(LogAnalyticsSink),
        segment=providers.Singleton(SegmentAnalyticsSink, http, config.segment_url,
                                    config.segment_write_key),
    )
    fraud = providers.Selector(
        config.fraud_provider,
        rules=providers.Singleton(InHouseFraudScreen, config.fraud_review_threshold,
                                  config.fraud_high_value_minor,
                                  config.fraud_reject_threshold),
    )
    sandbox_identity = providers.Singleton(SandboxIdentityProvider, config.secret_key,
                                           config.base_url)
    identity_providers = providers.Singleton(
        _identity_providers, config.identity_providers, config.identity_provider_settings,
        http, clock, sandbox_identity.provider)
    real_name_verifier = providers.Selector(
        config.real_name_provider,
        sandbox=providers.Singleton(SandboxRealNameVerifier, config.secret_key),
        none=providers.Object(None),
    )
    cipher = providers.Singleton(_cipher, config.data_keys, config.data_key_id,
                                 config.secret_key, config.blind_index_key)
    hasher = providers.Singleton(Argon2PasswordHasher, config.password_hashing_concurrency)
    throttle = providers.Singleton(
        Throttle, providers.Singleton(LimitsRateLimiter, config.rate_limits, config.redis_url),
        pseudonym_key)
    tokens = providers.Singleton(JwtTokenIssuer, config.secret_key,
                                 config.access_token_ttl_seconds)

    # --- use cases ------------------------------------------------------------------------
    sessions = providers.Singleton(
        SessionService, uow, tokens, clock,
        providers.Callable(lambda days: timedelta(days=days), config.refresh_token_ttl_days))
    accounts = providers.Singleton(Accounts, uow, hasher, tokens, clock, queue, sessions,
                                   config.base_url, throttle=throttle)
    sign_in = providers.Singleton(SignIn, uow, identity_providers, sessions, clock, queue,
                                  pseudonym_key, config.base_url, cipher, throttle=throttle)
    privacy = providers.Singleton(
        Privacy, uow, clock, queue, pseudonym_key,
        providers.Callable(policies_from, config.retention_policies))
    real_names = providers.Singleton(RealNameIdentities, uow, real_name_verifier, cipher, clock)
    ordering = providers.Singleton(
        Ordering, uow, clock, queue, providers.Callable(frozenset, config.carriers))
    payments = providers.Singleton(
        PaymentService, uow, payment_gateways, payment_contracts, fraud, clock, queue,
        pseudonym_key, config.payment_sync_wait_seconds, config.operation_slow_after_seconds,
        kyc_rules=providers.Callable(_kyc_rules, config.kyc_rules),
        fraud_model_max_age=providers.Callable(
            lambda minutes: timedelta(minutes=minutes), config.fraud_model_max_age_minutes),
    )
    fulfilment = providers.Singleton(Fulfilment, uow, carriers, clock, queue)
    webhooks = providers.Singleton(
        Webhooks, uow, queue, payment_gateways, carriers, payments, fulfilment, clock,
        providers.Callable(lambda s: timedelta(seconds=s), config.inbox_give_up_after_seconds),
    )
    operations = providers.Singleton(
        OperationsService, uow, clock, config.operation_slow_after_seconds,
        config.operation_update_every_seconds,
    )
    idempotency = providers.Singleton(
        IdempotencyGuard, uow, clock,
        providers.Callable(lambda hours: timedelta(hours=hours), config.idempotency_ttl_hours),
    )
    evidence = providers.Singleton(
        EvidenceService, uow, clock,
        providers.Singleton(FileCheckpointStore, config.evidence_checkpoint_file),
        providers.Singleton(checkpoint_keys, config.evidence_checkpoint_keys,
                            config.evidence_checkpoint_key_id, config.secret_key), alerts)
    # The bus hands each command handler the dependencies it names (application/bus.py).
    bus = providers.Singleton(MessageBus, providers.Dict(
        uow=uow, clock=clock, payments=payments, fulfilment=fulfilment, webhooks=webhooks,
        notifier=notifier, analytics=analytics, alerts=alerts, links=accounts,
        pseudonym_key=pseudonym_key,
    ))
    outbox = providers.Singleton(
        OutboxRelay, uow, queue, bus, alerts, config.outbox_max_attempts,
        config.outbox_lease_seconds,
    )


def build(settings: Settings | None = None, **overrides: Any) -> Container:
    """A container for these settings (from the environment when none are given)."""
    settings = load_keys(settings or Settings(**overrides))
    container = Container()
    values = settings.model_dump()
    values["base_url"] = settings.base_url
    values["runs_worker_in_process"] = settings.runs_worker_in_process
    values["sandbox_enabled"] = settings.sandbox_enabled
    values["evidence_checkpoint_file"] = settings.evidence_checkpoint_path
    container.config.from_dict(values)
    container.settings = providers.Object(settings)  # type: ignore[attr-defined]
    return container


async def prepare(container: Container) -> None:
    """Bring the database schema up to date (idempotent; safe on every start)."""
    await migrate(container.engine())


def install_log_scrubber() -> None:
    """Scrub card numbers from every log record as it is created, whoever logs it and
    whichever handler writes it (access logs carry query strings, errors carry input)."""
    if getattr(logging.getLogRecordFactory(), "scrubs_card_numbers", False):
        return
    make_record = logging.getLogRecordFactory()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        cleaned = redact_card_numbers(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    scrubbed.scrubs_card_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed)


def configure_logging(level: str) -> None:
    """One JSON object per line (nothing a request carries can forge a line); no personal
    data: recipients and ids are pseudonymous in our own messages, and card numbers are
    scrubbed from every record."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLineFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("piccolo").setLevel(logging.WARNING)  # one line per connection otherwise
    install_log_scrubber()
    os.environ.setdefault("PICCOLO_CONF", "adapters.persistence.piccolo_conf")
