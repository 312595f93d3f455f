"""The composition root: reads the settings and wires adapters into the use cases.

Every integration type's provider is picked by configuration through a `providers.Selector`,
so swapping a provider is a settings change (see README, "Configuration").
"""

from __future__ import annotations

import base64
import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dependency_injector import containers, providers

from adapters.alerting.email import EmailAlerts
from adapters.alerting.pagerduty import PagerDutyAlerts
from adapters.alerting.routing import RoutingAlertSink, channels_needed
from adapters.alerting.slack import SlackAlerts
from adapters.analytics.ga4 import Ga4Destination
from adapters.analytics.keys import analytics_policy as analytics_policy_from
from adapters.analytics.log import LogDestination
from adapters.analytics.pending import PiccoloAnalyticsQueue
from adapters.analytics.segment import SegmentDestination
from adapters.checkpoints import FileCheckpointStore, checkpoint_keys
from adapters.clock import SystemClock
from adapters.credential_checks import CredentialChecks, easypost_access, stripe_access
from adapters.credentials import CredentialsInForce, LiveSecrets, LiveSetting
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
from adapters.messaging.console import ConsoleNotifier, LogAlertSink
from adapters.messaging.console_sender import (
    ConsoleTemplateRenderer,
    FallbackRenderer,
    NotifierSender,
)
from adapters.messaging.fcm import FcmPush, ServiceAccount
from adapters.messaging.mailbox import DevMailbox
from adapters.messaging.rendering import JinjaTemplateRenderer
from adapters.messaging.smtp import SmtpEmailSender, SmtpServer
from adapters.messaging.twilio import STATUS_CALLBACK_PATH as TWILIO_STATUS_PATH
from adapters.messaging.twilio import TwilioSms, TwilioStatusCallbacks
from adapters.metrics import MetricsPage
from adapters.metrics import request_answered as request_answered  # the edge counts
from adapters.operation_watch import operation_watch as operation_watch_for
from adapters.payments.sandbox import SIGNATURE_HEADER as PAYMENT_SIGNATURE
from adapters.payments.sandbox import SandboxGateway
from adapters.payments.stripe import StripeGateway
from adapters.payments.toss import TossGateway
from adapters.persistence.campaigns import PiccoloCampaigns
from adapters.persistence.engine import close_pool, engine_for, migrate, open_pool
from adapters.persistence.parcel_watches import PiccoloParcelWatches
from adapters.persistence.periodic import PiccoloPeriodicRuns
from adapters.persistence.uow import LedgerWriter, PiccoloUnitOfWorkFactory
from adapters.provider_contracts import CONTRACTS as PINNED_CONTRACTS
from adapters.provider_routing import ContractsInForce, LiveContracts
from adapters.queue import (
    PROCESS_INBOX,
    RUN_OUTBOX,
    RUN_OUTBOX_ONE,
    DramatiqTaskQueue,
    make_broker,
)
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.security import Argon2PasswordHasher, JwtTokenIssuer
from adapters.seller_keys import SellerKeys
from adapters.settings import Settings as Settings  # entrypoints read settings from here
from adapters.settings import load_keys as load_keys
from adapters.shipping.delivery_tracker import DeliveryTrackerClient
from adapters.shipping.easypost import EasyPostCarrier
from adapters.shipping.sandbox import SIGNATURE_HEADER as CARRIER_SIGNATURE
from adapters.shipping.sandbox import SandboxCarrier
from adapters.shipping.sandbox_tracking import SandboxTrackingPlan
from adapters.shipping.sandbox_tracking import poll_seconds as tracking_poll_seconds
from adapters.throttling import LimitsRateLimiter
from adapters.tracing import configure_export
from adapters.tracing import server_span as server_span  # the edge traces
from application.accounts import Accounts
from application.analytics import AnalyticsService
from application.bus import MessageBus
from application.campaigns import Campaigns
from application.delivery_incidents import DeliveryIncidents
from application.devices import PushDevices
from application.evidence import EvidenceService
from application.idempotency import IdempotencyGuard
from application.identity import SessionService, SignIn
from application.incident_alerts import IncidentAlerts
from application.messaging import Messaging, MessagingPolicy
from application.messaging.contact import ContactDetails
from application.operations import OperationsService
from application.ordering import Ordering
from application.outbox import OutboxRelay
from application.parcel_tracking import FollowPolicy, ParcelTracking
from application.payments import PaymentService
from application.payments.core import KycRule
from application.periodic import PeriodicJobs
from application.privacy import Privacy, RealNameIdentities, policies_from
from application.provider_credentials import ProviderCredentials
from application.provider_drift import DriftReports
from application.provider_registry import ProviderRegistry
from application.seller_parcels import SellerParcels
from application.shipping import Fulfilment
from application.throttling import Throttle
from application.unsubscribe import UnsubscribeLinks, Unsubscriptions
from application.webhooks import Webhooks
from domain.carriers import KOREAN_CARRIERS
from domain.messages import Channel
from domain.provider_credentials import CredentialKind
from domain.provider_drift import Drift
from domain.provider_registry import Capability
from domain.redaction import redact_card_numbers_in_log
from domain.routing import ProviderContract
from domain.shipping_options import ShippingCatalogue, contracts_from

# Actor names the task queue adapter sends to; the entrypoints declare actors under them.
ACTOR_NAMES = {"outbox": RUN_OUTBOX, "outbox_one": RUN_OUTBOX_ONE, "inbox": PROCESS_INBOX}

# The settings that choose providers, and the container provider each one chooses from (it
# offers the names adapters.settings.PROVIDER_CHOICES allows).
PROVIDER_SETTINGS = {
    "payment_providers": "payment_gateways", "carriers": "carriers",
    "notifier_provider": "notifier", "analytics_providers": "analytics_destinations",
    "alert_provider": "alerts", "fraud_provider": "fraud",
    "real_name_provider": "real_name_verifier",
    "email_providers": "email_senders", "sms_providers": "sms_senders",
    "push_providers": "push_senders",
}


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


def _enabled(names: list[str], **available: Any) -> dict[str, Any]:
    """The configured providers, built on demand: a provider that is not enabled is never
    constructed (and needs no keys)."""
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown provider(s) in configuration: {', '.join(unknown)}; "
                         f"available: {', '.join(sorted(available))}")
    return {name: available[name]() for name in names}


def _identity_providers(names: list[str], configs: dict[str, dict[str, Any]], http: Any,
                        clock: Any, sandbox: Any, live: CredentialsInForce) -> dict[str, Any]:
    """The configured sign-in providers; a missing setting is one clear error. An OpenID
    provider's client secret is the one rotated in, else the configured one."""
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
                options.setdefault("client_secret_factory", LiveSetting(
                    live, name, CredentialKind.API_KEY, options.get("client_secret", "")).get)
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


def _credentials_in_force(container: Container) -> CredentialsInForce:
    return CredentialsInForce(container.uow(), container.cipher())


def _credential_checks(container: Container) -> CredentialChecks:
    """What validates a proposed credential: the providers' read-only calls, with the base
    URL and key in force, and their webhook verifiers with the secrets in force."""
    live, config = container.credentials_in_force(), container.config

    def in_force(provider: str, kind: CredentialKind, configured: str) -> Callable[[], str]:
        return LiveSetting(live, provider, kind, configured).get

    access = {provider: make(in_force(provider, CredentialKind.ENDPOINT, base_url()),
                             in_force(provider, CredentialKind.API_KEY, key()))
              for provider, make, base_url, key in (
                  ("stripe", stripe_access, config.stripe_base_url, config.stripe_api_key),
                  ("easypost", easypost_access, config.easypost_base_url,
                   config.easypost_api_key))}
    secrets = {"stripe": container.stripe_secrets, "easypost": container.easypost_secrets,
               "twilio": container.twilio_secrets, "sandbox": container.sandbox_secrets}
    return CredentialChecks(container.http(), access,
                            lambda provider: list(secrets[provider]()),
                            container.identity_providers)


def _provider_credentials(container: Container) -> ProviderCredentials:
    return ProviderCredentials(container.uow(), container.cipher(),
                               container.credential_checks(), container.queue(),
                               container.clock(), container.credentials_in_force().refresh)


def _sandbox_webhooks(http: Any, name: str, route: str, base_url: Any, secrets: Any,
                      signature: Any) -> Any:
    """The sender a sandbox partner calls our webhook route with, signing with its first key."""
    return providers.Singleton(
        SandboxWebhookSender, http, name, providers.Callable(f"{{}}{route}".format, base_url),
        providers.Callable(_first, secrets), signature)


def _smtp_server(settings: Settings) -> SmtpServer:
    return SmtpServer(settings.smtp_host, settings.smtp_port, settings.smtp_tls,
                      settings.smtp_username, settings.smtp_password, settings.smtp_ca_file,
                      settings.smtp_timeout_seconds.total_seconds())


# Without MALL_SHIPPING_CONTRACTS: each enabled carrier delivers everywhere for free, and
# sellers may hand parcels to the Korean domestic carriers for addresses in Korea.
DEFAULT_SHIPPING: dict[str, dict[str, Any]] = {
    "sandbox-express": {"service": "standard", "days": (1, 3)},
    "easypost": {"service": "international", "days": (3, 10)},
}
KOREAN_DOMESTIC: dict[str, Any] = {"service": "standard", "countries": ["KR"], "days": (1, 2),
                                   "fees": {"KRW": 3000}, "seller_ships": True}


def shipping_catalogue(raw: list[dict[str, Any]], carriers: list[str],
                       registry: ContractsInForce | None = None) -> ShippingCatalogue:
    if not raw:
        raw = [{"carrier": name, **DEFAULT_SHIPPING[name]} for name in carriers
               if name in DEFAULT_SHIPPING]
        raw += [{"carrier": name, **KOREAN_DOMESTIC} for name in sorted(KOREAN_CARRIERS)]
    if registry is None:
        return ShippingCatalogue(contracts_from(raw))
    return ShippingCatalogue(contracts_from(raw), functools.partial(
        registry.open_to_new_work, Capability.SHIPPING))


def _provider_registry(container: Container) -> ProviderRegistry:
    """Contracts can be registered for the providers the mall has adapters for."""
    config = container.config

    def known(capability: str) -> list[str]:
        return list(config.payment_providers() if capability == Capability.PAYMENTS
                    else [*config.carriers(), *sorted(KOREAN_CARRIERS)])

    return ProviderRegistry(container.uow(), container.clock(), known,
                            container.contracts_in_force().refresh)


def _follow_policy(settings: Settings) -> FollowPolicy:
    """How Korean domestic parcels are followed: by webhook when the mall has a public base
    URL for Delivery Tracker to call, by polling otherwise."""
    base = settings.delivery_tracker_webhook_base_url.rstrip("/")
    token = settings.delivery_tracker_webhook_token
    return FollowPolicy(
        callback_url=f"{base}/v1/webhooks/delivery-tracker/{token}" if base else "",
        callback_token=token, webhook_lifetime=settings.delivery_tracker_webhook_lifetime_hours,
        first_poll=settings.delivery_tracker_first_poll_minutes,
        longest_poll=settings.delivery_tracker_longest_poll_hours,
        follow_for=settings.delivery_tracker_follow_days)


def _messaging_policy(email: dict[str, Any], sms: dict[str, Any], push: dict[str, Any],
                      channels: dict[str, list[str]], sender_name: str) -> MessagingPolicy:
    """Each channel's senders in the configured order, and the types' channel overrides."""
    return MessagingPolicy(
        senders={Channel.EMAIL: list(email.values()), Channel.SMS: list(sms.values()),
                 Channel.PUSH: list(push.values())},
        channels={template: tuple(Channel(c) for c in names)
                  for template, names in channels.items()},
        sender_name=sender_name)


def _alert_channels(routes: dict[str, list[str]], container: Container) -> RoutingAlertSink:
    """The channels alerts are routed to by severity, each built only when a route names it."""
    return RoutingAlertSink(_enabled(
        channels_needed(routes), log=container.log_alerts, pagerduty=container.pagerduty_alerts,
        slack=container.slack_alerts, email=container.email_alerts), routes)


class _DriftReportsOnFirstUse:
    """Drift in providers' answers opens incidents. The reports need the task queue, whose
    broker closes the HTTP client that reports drift: built at the first drift, not with
    the client."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._reports: DriftReports | None = None

    async def report(self, provider: str, drifts: Sequence[Drift],
                     exchange: Mapping[str, Any]) -> None:
        if self._reports is None:
            self._reports = DriftReports(self._container.uow(), self._container.queue())
        await self._reports.report(provider, drifts, exchange)


def _contracts(raw: list[dict[str, Any]]) -> list[ProviderContract]:
    return [ProviderContract(
        provider=item["provider"], countries=frozenset(item.get("countries", ["*"])),
        currencies=frozenset(c.upper() for c in item.get("currencies", ["*"])),
        methods=frozenset(item.get("methods", ["*"])), priority=int(item.get("priority", 100)),
        enabled=bool(item.get("enabled", True)),
    ) for item in raw]


class Container(containers.DeclarativeContainer):
    # The settings, typed (durations as timedeltas), and the same as plain values (durations
    # as numbers in the unit their names end with).
    settings = providers.Dependency(instance_of=Settings)
    config = providers.Configuration(strict=True)
    __self__ = providers.Self()

    clock = providers.Singleton(SystemClock)
    engine = providers.Singleton(engine_for, config.database_url, config.sqlite_path)
    operation_watch = providers.Singleton(operation_watch_for, config.database_url)
    uow = providers.Singleton(PiccoloUnitOfWorkFactory, engine, clock, operation_watch)
    # Providers' secrets, keys and endpoints in force: rotated through the workflow
    # (application/provider_credentials.py), else the settings'.
    credentials_in_force = providers.Singleton(_credentials_in_force, __self__)
    stripe_secrets = providers.Singleton(LiveSecrets, credentials_in_force, "stripe",
                                         CredentialKind.WEBHOOK_SECRET,
                                         config.stripe_webhook_secrets)
    easypost_secrets = providers.Singleton(LiveSecrets, credentials_in_force, "easypost",
                                           CredentialKind.WEBHOOK_SECRET,
                                           config.easypost_webhook_secrets)
    twilio_secrets = providers.Singleton(
        LiveSecrets, credentials_in_force, "twilio", CredentialKind.WEBHOOK_SECRET,
        providers.List(config.twilio_auth_token, config.twilio_secondary_auth_token))
    sandbox_secrets = providers.Singleton(LiveSecrets, credentials_in_force, "sandbox",
                                          CredentialKind.WEBHOOK_SECRET,
                                          config.sandbox_webhook_secrets)
    ledger = providers.Singleton(LedgerWriter, uow)
    pseudonym_key = providers.Callable(str.encode, config.pseudonym_key)

    log_alerts = providers.Singleton(LogAlertSink)
    alerts = providers.Selector(
        config.alert_provider, log=log_alerts,
        channels=providers.Singleton(_alert_channels, config.alert_routes, __self__))
    http = providers.Singleton(
        OutboundHttp, ledger, alerts, config.http_timeout_seconds, config.http_retries,
        config.breaker_threshold, config.breaker_ttl_seconds,
        drift=providers.Singleton(_DriftReportsOnFirstUse, __self__), contracts=PINNED_CONTRACTS,
    )
    # The alert channels' own HTTP client alerts the log alone: a channel that fails
    # never alerts through the channels.
    alert_http = providers.Singleton(
        OutboundHttp, ledger, log_alerts, config.http_timeout_seconds, config.http_retries,
        config.breaker_threshold, config.breaker_ttl_seconds)
    open_database_pool = providers.Callable(
        functools.partial, open_pool, engine, config.database_pool_size)
    close_database_pool = providers.Callable(functools.partial, close_pool, engine)
    broker = providers.Singleton(
        make_broker, config.redis_url, config.worker_heartbeat_timeout_ms,
        startups=providers.List(open_database_pool),
        cleanups=providers.List(http.provided.close, alert_http.provided.close,
                                close_database_pool),
    )
    queue = providers.Singleton(DramatiqTaskQueue, broker)
    periodic = providers.Singleton(PeriodicJobs, providers.Singleton(PiccoloPeriodicRuns, clock),
                                   clock)

    # --- integrations: each chosen by configuration -------------------------------------
    sandbox_gateway = providers.Singleton(
        SandboxGateway,
        webhooks=_sandbox_webhooks(http, "sandbox-payments-webhooks", "/v1/webhooks/sandbox",
                                   config.base_url, config.sandbox_webhook_secrets,
                                   PAYMENT_SIGNATURE),
        ledger=ledger, secrets=sandbox_secrets,
        public_base_url=config.base_url, stall_seconds=config.sandbox_stall_seconds,
        deposit_delay_seconds=config.sandbox_deposit_delay_seconds,
        webhook_delay_seconds=config.sandbox_webhook_delay_seconds, clock=clock, http=http,
    )
    stripe_gateway = providers.Singleton(
        StripeGateway, http,
        providers.Singleton(LiveSetting, credentials_in_force, "stripe",
                            CredentialKind.API_KEY, config.stripe_api_key),
        stripe_secrets,
        providers.Singleton(LiveSetting, credentials_in_force, "stripe",
                            CredentialKind.ENDPOINT, config.stripe_base_url),
        config.stripe_return_url,
    )
    toss_gateway = providers.Singleton(
        TossGateway, http, config.toss_secret_key, config.toss_base_url,
        config.toss_virtual_account_hours, config.toss_virtual_account_bank,
    )
    payment_gateways = providers.Singleton(
        _enabled, config.payment_providers, sandbox=sandbox_gateway.provider,
        stripe=stripe_gateway.provider, toss=toss_gateway.provider)
    # New payments are routed by the provider registry's contracts once it has any
    # (application/provider_registry.py), else by the settings'.
    contracts_in_force = providers.Singleton(ContractsInForce, uow)
    payment_contracts = providers.Singleton(
        LiveContracts, contracts_in_force, Capability.PAYMENTS,
        providers.Callable(_contracts, config.payment_contracts))

    # The sandbox carrier's tracking webhooks, planned in the database; the web process
    # sends them when due (entrypoints/http/app.py starts it).
    sandbox_tracking = providers.Singleton(
        SandboxTrackingPlan,
        _sandbox_webhooks(http, "sandbox-carrier-webhooks", "/v1/webhooks/sandbox-express",
                          config.base_url, config.sandbox_carrier_secrets, CARRIER_SIGNATURE),
        clock, providers.Callable(tracking_poll_seconds, config.sandbox_tracking_step_seconds),
    )
    sandbox_carrier = providers.Singleton(
        SandboxCarrier,
        tracking=sandbox_tracking, ledger=ledger, secrets=config.sandbox_carrier_secrets,
        step_seconds=config.sandbox_tracking_step_seconds, clock=clock,
        scenario=config.sandbox_carrier_scenario,
    )
    easypost_carrier = providers.Singleton(
        EasyPostCarrier, http, ledger,
        providers.Singleton(LiveSetting, credentials_in_force, "easypost",
                            CredentialKind.API_KEY, config.easypost_api_key),
        easypost_secrets,
        providers.Singleton(LiveSetting, credentials_in_force, "easypost",
                            CredentialKind.ENDPOINT, config.easypost_base_url),
        config.easypost_origin_address,
    )
    # Tracks Korean domestic parcels; built on first use (nothing calls it at start-up).
    delivery_tracker = providers.Singleton(
        DeliveryTrackerClient, http, ledger, config.delivery_tracker_client_id,
        config.delivery_tracker_client_secret, config.delivery_tracker_url,
    )
    carriers = providers.Singleton(
        _enabled, config.carriers, **{"sandbox-express": sandbox_carrier.provider,
                                      "easypost": easypost_carrier.provider})

    # The dev mailbox: what the sandbox would have sent, kept in the database and shown at
    # /sandbox/mailbox; "mailbox" among a channel's providers sends there.
    mailbox = providers.Singleton(DevMailbox, clock)
    notifier = providers.Selector(
        config.notifier_provider, console=providers.Singleton(ConsoleNotifier), mailbox=mailbox)
    # The `smtp` email provider (built only when a channel's providers name it).
    smtp_email = providers.Singleton(
        SmtpEmailSender, providers.Callable(_smtp_server, settings), config.smtp_sender)
    # Each channel's providers, in the order tried. "mailbox": the notifier above (the dev
    # mailbox by default), which keeps every message: developers and tests follow emailed
    # links through it.
    # The "twilio" SMS and "fcm" push providers (built only when a channel names them).
    twilio_status_callback_url = providers.Callable(
        f"{{}}{TWILIO_STATUS_PATH}".format, config.base_url)
    twilio_sms = providers.Singleton(
        TwilioSms, http, config.twilio_account_sid, config.twilio_auth_token,
        sender=config.twilio_from, messaging_service_sid=config.twilio_messaging_service_sid,
        status_callback_url=twilio_status_callback_url, base_url=config.twilio_base_url)
    twilio_status_callbacks = providers.Singleton(
        TwilioStatusCallbacks, twilio_secrets,
        twilio_status_callback_url)
    fcm_push = providers.Singleton(
        FcmPush, http, clock,
        providers.Callable(ServiceAccount.from_file, config.fcm_service_account_file),
        project_id=config.fcm_project_id, base_url=config.fcm_base_url)
    email_senders = providers.Singleton(
        _enabled, config.email_providers,
        mailbox=providers.Singleton(NotifierSender, notifier, "email").provider,
        smtp=smtp_email.provider)
    sms_senders = providers.Singleton(
        _enabled, config.sms_providers,
        mailbox=providers.Singleton(NotifierSender, notifier, "sms").provider,
        twilio=twilio_sms.provider)
    push_senders = providers.Singleton(
        _enabled, config.push_providers,
        mailbox=providers.Singleton(NotifierSender, notifier, "push").provider,
        fcm=fcm_push.provider)
    # The alert channels (MALL_ALERT_PROVIDER=channels), on alert_http.
    pagerduty_alerts = providers.Singleton(PagerDutyAlerts, alert_http, clock,
                                           config.pagerduty_routing_key,
                                           config.pagerduty_base_url)
    slack_alerts = providers.Singleton(SlackAlerts, alert_http, config.slack_webhook_url)
    email_alerts = providers.Singleton(EmailAlerts, email_senders, config.alert_emails)
    # The templates; a message nobody wrote one for yet goes out in the console's words.
    renderer = providers.Singleton(
        FallbackRenderer, providers.Singleton(JinjaTemplateRenderer, config.base_url),
        providers.Singleton(ConsoleTemplateRenderer))
    # Analytics: events are kept per destination (`analytics`, the sink the bus hands
    # them to) and sent in batches by a periodic job (application/analytics.py).
    analytics_destinations = providers.Singleton(
        _enabled, config.analytics_providers,
        log=providers.Singleton(LogDestination).provider,
        segment=providers.Singleton(SegmentDestination, http, config.segment_url,
                                    config.segment_write_key).provider,
        ga4=providers.Singleton(Ga4Destination, http, config.ga4_url,
                                config.ga4_measurement_id, config.ga4_api_secret).provider)
    analytics = providers.Singleton(PiccoloAnalyticsQueue, config.analytics_providers)
    analytics_policy = providers.Singleton(
        analytics_policy_from, config.analytics_pseudonym_keys,
        config.analytics_pseudonym_key_id, config.pseudonym_key,
        config.analytics_opt_in_jurisdictions)
    analytics_service = providers.Singleton(
        AnalyticsService, uow, queue, clock, analytics, analytics_destinations,
        analytics_policy, config.analytics_max_attempts)
    fraud = providers.Selector(
        config.fraud_provider,
        rules=providers.Singleton(InHouseFraudScreen, config.fraud_review_threshold,
                                  config.fraud_high_value_minor,
                                  config.fraud_reject_threshold),
    )
    sandbox_identity = providers.Singleton(SandboxIdentityProvider, config.secret_key,
                                           config.base_url, clock)
    identity_providers = providers.Singleton(
        _identity_providers, config.identity_providers, config.identity_provider_settings,
        http, clock, sandbox_identity.provider, credentials_in_force)
    real_name_verifier = providers.Selector(
        config.real_name_provider,
        sandbox=providers.Singleton(SandboxRealNameVerifier, config.secret_key, clock),
        none=providers.Object(None),
    )
    credential_checks = providers.Singleton(_credential_checks, __self__)
    provider_credentials = providers.Singleton(_provider_credentials, __self__)
    cipher = providers.Singleton(_cipher, config.data_keys, config.data_key_id,
                                 config.secret_key, config.blind_index_key)
    hasher = providers.Singleton(Argon2PasswordHasher, config.password_hashing_concurrency)
    throttle = providers.Singleton(
        Throttle, providers.Singleton(LimitsRateLimiter, config.rate_limits, config.redis_url),
        pseudonym_key)
    tokens = providers.Singleton(JwtTokenIssuer, config.secret_key,
                                 config.access_token_ttl_seconds, clock)

    # --- use cases ------------------------------------------------------------------------
    sessions = providers.Singleton(SessionService, uow, tokens, clock,
                                   settings.provided.refresh_token_ttl_days)
    accounts = providers.Singleton(Accounts, uow, hasher, tokens, clock, queue, sessions,
                                   config.base_url, throttle=throttle)
    unsubscribe_links = providers.Singleton(UnsubscribeLinks, tokens, config.base_url)
    unsubscriptions = providers.Singleton(Unsubscriptions, unsubscribe_links, uow)
    messaging = providers.Singleton(
        Messaging, uow, clock,
        providers.Singleton(_messaging_policy, email_senders, sms_senders, push_senders,
                            config.message_channels, config.message_sender_name),
        renderer, accounts, notifier, queue, unsubscribe=unsubscribe_links,
        # A claim outlives any provider call: a retry comes after the outbox lease.
        claim_lease_seconds=config.outbox_lease_seconds)
    contact = providers.Singleton(ContactDetails, uow)
    sign_in = providers.Singleton(SignIn, uow, identity_providers, sessions, clock, queue,
                                  pseudonym_key, config.base_url, cipher, throttle=throttle)
    privacy = providers.Singleton(
        Privacy, uow, clock, queue, pseudonym_key,
        providers.Callable(policies_from, config.retention_policies))
    real_names = providers.Singleton(RealNameIdentities, uow, real_name_verifier, cipher, clock)
    shipping = providers.Singleton(shipping_catalogue, config.shipping_contracts,
                                   config.carriers, contracts_in_force)
    provider_registry = providers.Singleton(_provider_registry, __self__)
    ordering = providers.Singleton(Ordering, uow, clock, queue, shipping)
    seller_keys = providers.Singleton(SellerKeys, config.secret_key)
    seller_parcels = providers.Singleton(SellerParcels, uow, shipping, clock, queue)
    payments = providers.Singleton(
        PaymentService, uow, payment_gateways, payment_contracts, fraud, clock, queue,
        operation_watch, pseudonym_key, config.payment_sync_wait_seconds,
        config.operation_slow_after_seconds,
        kyc_rules=providers.Callable(_kyc_rules, config.kyc_rules),
        fraud_model_max_age=settings.provided.fraud_model_max_age_minutes,
    )
    fulfilment = providers.Singleton(Fulfilment, uow, carriers, clock, queue)
    parcel_tracking = providers.Singleton(
        ParcelTracking, uow, delivery_tracker, providers.Singleton(PiccoloParcelWatches),
        fulfilment, clock, queue, providers.Callable(_follow_policy, settings))
    delivery_incidents = providers.Singleton(
        DeliveryIncidents, uow, clock, queue, config.delivery_incident_deadlines)
    campaigns = providers.Singleton(
        Campaigns, uow, providers.Singleton(PiccoloCampaigns), clock, queue,
        config.campaign_rate_limits, settings.provided.campaign_send_interval_seconds,
        settings.provided.campaign_lease_seconds)
    webhooks = providers.Singleton(
        Webhooks, uow, queue, payment_gateways, carriers, payments, fulfilment, clock,
        settings.provided.inbox_give_up_after_seconds,
    )
    operations = providers.Singleton(
        OperationsService, uow, clock, operation_watch, config.operation_slow_after_seconds,
        config.operation_update_every_seconds,
    )
    incident_alerts = providers.Singleton(IncidentAlerts, uow, clock, queue,
                                          settings.provided.alert_escalation_minutes)
    push_devices = providers.Singleton(PushDevices, uow, clock)
    idempotency = providers.Singleton(IdempotencyGuard, uow, clock,
                                      settings.provided.idempotency_ttl_hours)
    checkpoints = providers.Singleton(FileCheckpointStore, config.evidence_checkpoint_file)
    metrics_page = providers.Singleton(MetricsPage, clock, checkpoints,
                                       settings.provided.operation_slow_after_seconds)
    evidence = providers.Singleton(
        EvidenceService, uow, clock, checkpoints,
        providers.Singleton(checkpoint_keys, config.evidence_checkpoint_keys,
                            config.evidence_checkpoint_key_id, config.secret_key), alerts)
    # The bus hands each command handler the dependencies it names (application/bus.py).
    bus = providers.Singleton(MessageBus, providers.Dict(
        uow=uow, clock=clock, payments=payments, fulfilment=fulfilment, webhooks=webhooks,
        notifier=notifier, analytics=analytics, alerts=alerts, links=accounts,
        pseudonym_key=pseudonym_key, parcels=parcel_tracking, messaging=messaging,
        analytics_policy=analytics_policy,
    ))
    outbox = providers.Singleton(
        OutboxRelay, uow, queue, bus, alerts, config.outbox_max_attempts,
        config.outbox_lease_seconds,
    )


def build(settings: Settings | None = None, **overrides: Any) -> Container:
    """A container for these settings (from the environment when none are given)."""
    settings = load_keys(settings or Settings(**overrides))
    container = Container(settings=settings)
    values = settings.model_dump()  # durations as their variables give them
    values["base_url"] = settings.base_url
    values["runs_worker_in_process"] = settings.runs_worker_in_process
    values["sandbox_enabled"] = settings.sandbox_enabled
    values["evidence_checkpoint_file"] = settings.evidence_checkpoint_path
    container.config.from_dict(values)
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
        cleaned = redact_card_numbers_in_log(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    scrubbed.scrubs_card_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed)


def configure_tracing(settings: Settings) -> None:
    """Spans exported to the OTLP collector at MALL_OTLP_ENDPOINT; none without one."""
    if configure_export(settings.otlp_endpoint, settings.otlp_service_name):
        logging.getLogger("mall").info("traces are exported over OTLP/HTTP")


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
