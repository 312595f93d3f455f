"""The one outbound HTTP client: timeouts, safe retries, a circuit breaker per provider, and
every exchange written to the evidence ledger with secrets and card numbers redacted."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from opentelemetry.trace import SpanKind
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from adapters import metrics, tracing
from application.ports import Alert, AlertSink, EvidenceLedger
from application.ports.runtime import DriftReporter
from domain.errors import ProviderUnavailable
from domain.evidence import EvidenceDraft
from domain.provider_drift import ResponseContract, drifts_in

log = logging.getLogger("mall.http")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Between tries: 0.2 s, 0.4 s, 0.8 s... up to 2 s, each plus up to 0.2 s at random, so callers
# that failed together do not all come back at the same instant.
BACKOFF = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object; None when it is not JSON or not an object."""
        try:
            body = self.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


class ProviderHttpError(Exception):
    """A provider answered with a status that counts as its failure (5xx, 429)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response


def _circuit_open(provider: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"{provider} is failing right now, so the request was not "
                               "sent; it is safe to retry later", request_sent=False)


def _last_outcome(state: RetryCallState) -> tuple[HttpResponse | None, str | None]:
    """What the last attempt gave, once no attempt is left (instead of tenacity's RetryError)."""
    return state.outcome.result() if state.outcome else (None, "no attempt")


class OutboundHttp:
    def __init__(
        self,
        ledger: EvidenceLedger,
        alerts: AlertSink,
        timeout_seconds: float,
        retries: int,
        breaker_threshold: int,
        breaker_ttl_seconds: float,
        drift: DriftReporter | None = None,
        contracts: Sequence[ResponseContract] = (),
    ) -> None:
        self._ledger, self._alerts = ledger, alerts
        self._drift, self._contracts = drift, tuple(contracts)
        self._timeout = timeout_seconds
        self._retries = retries
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_ttl_seconds
        )
        self._breakers.add_listener(self._on_breaker_event)
        # aiohttp sessions belong to one event loop; the web server and the in-process worker
        # each have their own.
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._pending_alerts: set[asyncio.Task[None]] = set()

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(raise_for_status=False)
            self._sessions[loop] = session
        return session

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        if session is not None:
            await session.close()

    async def request(
        self,
        provider: str,
        method: str,
        url: str,
        *,
        subject: str,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout_seconds: float | None = None,
        secret_fields: tuple[str, ...] = (),
        personal_response: bool = False,
        secret_path: bool = False,
    ) -> HttpResponse:
        """Send one request. Retried only when repeating it cannot do harm: GET/HEAD, or a
        POST carrying an Idempotency-Key. Raises ProviderUnavailable when nothing usable came
        back; any answered request (even 4xx) is returned. `secret_path`: the URL's path is
        a credential (a Slack webhook's), kept out of the evidence."""
        headers = dict(headers or {})
        parts = urlsplit(url)
        shown_url = f"{parts.scheme}://{parts.netloc}/[redacted]" if secret_path else url
        # Fields that are bearer secrets under a generic name (an OAuth `code`): masked in the
        # evidence, as fields named like secrets always are.
        shown_json, shown_form = json_body, form
        if secret_fields and isinstance(json_body, dict):
            shown_json = {k: ("[redacted]" if k in secret_fields else v)
                          for k, v in json_body.items()}
        if secret_fields and form is not None:
            shown_form = {k: ("[redacted]" if k in secret_fields else v)
                          for k, v in form.items()}
        safe = idempotent if idempotent is not None else (
            method.upper() in ("GET", "HEAD", "DELETE") or "Idempotency-Key" in headers
        )
        attempts = 1 + (self._retries if safe else 0)
        maybe_sent = False  # did any attempt possibly reach the provider
        attempt = 0

        async def send_once() -> tuple[HttpResponse | None, str | None]:
            nonlocal attempt, maybe_sent
            attempt += 1
            started = time.perf_counter()
            response: HttpResponse | None = None
            error: str | None = None
            try:
                breaker = await self._breakers.get_breaker(provider)
                async with breaker:
                    with tracing.span(f"{provider} {method.upper()}", SpanKind.CLIENT,
                                      attributes={"mall.provider": provider,
                                                  "mall.attempt": attempt}) as call:
                        # The trace goes on with the callee (our own webhook, for a sandbox).
                        response = await self._send(
                            method, url, {**headers, **tracing.carrier()}, json_body, form,
                            content, timeout_seconds or self._timeout)
                        call.set_attribute("http.response.status_code", response.status)
                        if response.status >= 500:
                            tracing.failed(call, f"HTTP {response.status}")
                    if response.status in RETRYABLE_STATUS:
                        raise ProviderHttpError(response)
            except OpenedState:
                metrics.provider_call(provider, "circuit_open")
                await self._record(provider, subject, method, shown_url, headers, shown_json,
                                   shown_form, None, "circuit open: request not sent", started,
                                   attempt)
                raise _circuit_open(provider) from None
            except ProviderHttpError as exc:
                response, error = exc.response, f"HTTP {exc.response.status}"
            except aiohttp.ClientConnectorError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]  # no connection: nothing sent
            except (TimeoutError, aiohttp.ClientError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                maybe_sent = True
            metrics.provider_call(
                provider, metrics.outcome_of(response.status if response else None, error),
                time.perf_counter() - started)
            exchange = await self._record(provider, subject, method, shown_url, headers,
                                          shown_json, shown_form, response, error, started,
                                          attempt, personal_response)
            if response is not None:
                maybe_sent = True
                if self._drift is not None and 200 <= response.status < 300:
                    await self._inspect(provider, method, url, response, exchange)
            return response, error

        # After the last attempt its outcome is kept rather than raised.
        outcome: tuple[HttpResponse | None, str | None] = await AsyncRetrying(
            stop=stop_after_attempt(attempts), wait=BACKOFF,
            retry=retry_if_result(lambda outcome: outcome[1] is not None),
            retry_error_callback=_last_outcome,
        )(send_once)
        response, error = outcome
        if error is None and response is not None:
            return response
        if response is not None and response.status < 500 and response.status != 429:
            return response
        raise ProviderUnavailable(
            f"{provider} did not answer usefully ({error or 'unknown'}); try again later",
            request_sent=maybe_sent,
        )

    async def available(self, provider: str) -> bool:
        """False while the provider's circuit is open (calls would not be sent)."""
        context = (await self._breakers.get_breaker(provider)).context
        if context.state != "opened" or context.opened_at is None:
            return True
        return time.time() - context.opened_at > context.ttl  # a trial call is due

    async def _send(
        self, method: str, url: str, headers: dict[str, str], json_body: Any,
        form: Mapping[str, str] | None, content: bytes | None, limit_seconds: float,
    ) -> HttpResponse:
        kwargs: dict[str, Any] = {"headers": headers,
                                  "timeout": aiohttp.ClientTimeout(total=limit_seconds)}
        if json_body is not None:
            kwargs["json"] = json_body
        elif form is not None:
            kwargs["data"] = dict(form)
        elif content is not None:
            kwargs["data"] = content
        async with self._session().request(method, url, **kwargs) as resp:
            body = await resp.read()
            return HttpResponse(resp.status, dict(resp.headers), body)

    async def _record(
        self, provider: str, subject: str, method: str, url: str, headers: Mapping[str, str],
        json_body: Any, form: Mapping[str, str] | None, response: HttpResponse | None,
        error: str | None, started: float, attempt: int, personal_response: bool = False,
    ) -> dict[str, Any]:
        """Write the exchange to the ledger, redacted; what was written."""
        parts = urlsplit(url)
        request_body: Any = json_body if json_body is not None else dict(form or {}) or None
        response_body: Any = None
        if response is not None and personal_response:
            # A profile answer is personal data: the ledger cannot forget, so it never keeps it.
            response_body = "[withheld: personal data]"
        elif response is not None:
            try:
                response_body = response.json()
            except ValueError:
                response_body = response.body[:2000].decode("utf-8", "replace")
        payload = {
            "request": {"method": method.upper(), "host": parts.netloc, "path": parts.path,
                        "headers": dict(headers), "body": request_body},
            "response": None if response is None else {"status": response.status,
                                                       "body": response_body},
            "error": error,
        }
        await self._ledger.record(EvidenceDraft(
            source=provider, kind="http.exchange", subject=subject,
            context={"attempt": attempt,
                     "duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            payload=payload,
            raw=response.body if response is not None and not personal_response else None,
        ))
        return payload

    async def _inspect(self, provider: str, method: str, url: str, response: HttpResponse,
                       exchange: dict[str, Any]) -> None:
        """Tell the drift reporter what in a successful answer no longer matches the
        contracts, in a context of its own (no unit of work of the caller's leaks in)."""
        assert self._drift is not None
        drifts = drifts_in(self._contracts, provider, method, urlsplit(url).path,
                           response.headers, response.json_object())
        if drifts:
            await asyncio.get_running_loop().create_task(
                self._drift.report(provider, drifts, exchange), context=contextvars.Context())

    @contextlib.asynccontextmanager
    async def guarded(self, provider: str) -> AsyncIterator[None]:
        """A provider call made without HTTP (a sandbox's books): through the provider's
        circuit breaker, and counted like an HTTP call. A ProviderUnavailable raised inside
        counts as a failure; an open circuit raises one without running the call."""
        started = time.perf_counter()
        try:
            async with await self._breakers.get_breaker(provider):
                with tracing.span(f"{provider} call", SpanKind.CLIENT,
                                  attributes={"mall.provider": provider}):
                    yield
        except OpenedState:
            metrics.provider_call(provider, "circuit_open")
            raise _circuit_open(provider) from None
        except ProviderUnavailable:
            metrics.provider_call(provider, "unavailable", time.perf_counter() - started)
            raise
        metrics.provider_call(provider, "ok", time.perf_counter() - started)

    def _on_breaker_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            metrics.breaker_state(name, str(getattr(event, "state", "")))
        if event_type == "state_changed" and getattr(event, "state", "") == "opened":
            log.warning("circuit opened for provider %s", name)
            task = asyncio.get_running_loop().create_task(self._alert_once(Alert(
                "critical", name, f"{name} is failing: calls are paused for a while",
                {"state": "opened"},
            )))
            self._pending_alerts.add(task)
            task.add_done_callback(self._pending_alerts.discard)

    async def _alert_once(self, alert: Alert) -> None:
        """Nobody waits on this alert: a channel that cannot take it is logged."""
        try:
            await self._alerts.alert(alert)
        except Exception as exc:
            log.error("the alert that %s is failing was not sent: %s", alert.source,
                      type(exc).__name__)
