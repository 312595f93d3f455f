"""SMS through Twilio's Messages API, and the check of Twilio's signed status callbacks.

A message is created with `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded,
Basic auth with the Account SID and auth token) and comes back `queued`; Twilio then posts its
progress to our StatusCallback URL, signed with `X-Twilio-Signature`: Base64 of HMAC-SHA1, keyed
with the auth token, over the URL followed by each POST parameter's name and value, sorted by
name. Twilio's own RequestValidator is the reference the tests hold this check to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.http import OutboundHttp
from application.ports import Envelope, SendReceipt
from domain.errors import InvalidSignature, ProviderUnavailable, RecipientRejected
from domain.messages import Channel, DeliveryStatus

TWILIO = "twilio"
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
STATUS_CALLBACK_PATH = "/v1/webhooks/twilio/status"

# Twilio's error codes (twilio.com/docs/api/errors) that say this number can never be reached
# by SMS from us: the recipient replied STOP, or it is no (mobile) number at all.
RECIPIENT_ERRORS: dict[int, tuple[str, str]] = {
    21610: ("opted_out", "the recipient replied STOP to our messages (Twilio error 21610)"),
    21211: ("invalid_address", "the number is not a valid phone number (Twilio error 21211)"),
    21614: ("invalid_address", "the number cannot receive SMS (Twilio error 21614)"),
}

# Twilio's message statuses as ours; the inbound ones (receiving, received) are not ours.
STATUSES: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED, "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED, "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT, "partially_delivered": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED, "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED, "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


class TwilioSms:
    """The SMS channel's Twilio provider (a ChannelSender)."""

    name = TWILIO
    channel = Channel.SMS.value

    def __init__(self, http: OutboundHttp, account_sid: str, auth_token: str, *,
                 sender: str = "", messaging_service_sid: str = "",
                 status_callback_url: str = "",
                 base_url: str = "https://api.twilio.com") -> None:
        if not ACCOUNT_SID.match(account_sid):
            raise ValueError("MALL_TWILIO_ACCOUNT_SID must be the account's SID: AC and 32 "
                             "hexadecimal digits")
        if not auth_token:
            raise ValueError("MALL_TWILIO_AUTH_TOKEN is empty: copy the account's auth token")
        if messaging_service_sid and not MESSAGING_SERVICE_SID.match(messaging_service_sid):
            raise ValueError("MALL_TWILIO_MESSAGING_SERVICE_SID must be MG and 32 "
                             "hexadecimal digits")
        if not messaging_service_sid and not E164.match(sender):
            raise ValueError("set MALL_TWILIO_FROM (our number, E.164 such as +14155550100) "
                             "or MALL_TWILIO_MESSAGING_SERVICE_SID")
        self._http = http
        self._url = (f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}"
                     "/Messages.json")
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._auth = f"Basic {credentials}"
        # A messaging service picks the sender itself (and handles STOP replies for it).
        self._sender = ({"MessagingServiceSid": messaging_service_sid}
                        if messaging_service_sid else {"From": sender})
        self._status_callback_url = status_callback_url

    async def send(self, envelope: Envelope) -> SendReceipt:
        if not E164.match(envelope.to):
            raise RecipientRejected("an SMS needs a phone number in E.164 form (+821012345678)",
                                    reason="invalid_address")
        form = {"To": envelope.to, **self._sender, "Body": envelope.content.text}
        if self._status_callback_url:
            form["StatusCallback"] = self._status_callback_url
        # Twilio takes no idempotency key for messages, so a create is never retried here: a
        # lost answer is ProviderUnavailable with the request possibly sent.
        response = await self._http.request(
            TWILIO, "POST", self._url, subject=f"message:{envelope.message_id}", form=form,
            headers={"Authorization": self._auth, "Accept": "application/json"},
            idempotent=False,
            # The number and the text are personal: the evidence keeps neither, and Twilio's
            # answer repeats both.
            secret_fields=("To", "Body"), personal_response=True,
        )
        body = response.json_object() or {}
        if response.status in (200, 201) and isinstance(body.get("sid"), str):
            status = STATUSES.get(str(body.get("status")), DeliveryStatus.QUEUED)
            return SendReceipt(TWILIO, body["sid"], status.value)
        if response.status >= 500 or response.status == 429:
            raise ProviderUnavailable(f"twilio answered HTTP {response.status}; try later")
        code = body.get("code")
        if isinstance(code, int) and code in RECIPIENT_ERRORS:
            reason, detail = RECIPIENT_ERRORS[code]
            raise RecipientRejected(detail, reason=reason)
        # Twilio created no message (a refused request, our credentials, a country not
        # enabled): another provider may try it without the recipient getting two.
        raise ProviderUnavailable(
            f"twilio refused the message: HTTP {response.status}, error {code or 'unknown'} "
            "(see twilio.com/docs/api/errors)", request_sent=False)


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature of a form POST to `url`: the URL, then each parameter's name and
    value in order of name (a name's values in order, repeats once), HMAC-SHA1, Base64."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(values)
                           for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _with_and_without_port(url: str) -> list[str]:
    """The URL as Twilio may have signed it: with the default port spelled out or not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    bare = parts._replace(netloc=host).geturl()
    with_port = parts._replace(netloc=f"{host}:{parts.port or default}").geturl()
    return [url] + [u for u in (bare, with_port) if u != url]


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    status: DeliveryStatus
    error_code: str  # Twilio's ErrorCode when the message failed, else ""


class TwilioStatusCallbacks:
    """Reads Twilio's message status callbacks to `callback_url` (what we sent as
    StatusCallback, so behind a proxy it is the address Twilio called and signed).
    Several auth tokens may sign during a rotation (Twilio's primary and secondary)."""

    def __init__(self, auth_tokens: Sequence[str], callback_url: str) -> None:
        self._auth_tokens = auth_tokens  # rotated ones (adapters/credentials.py) apply at once
        self._urls = _with_and_without_port(callback_url)

    @property
    def _tokens(self) -> list[str]:
        return [token for token in self._auth_tokens if token]

    def verify(self, signature: str, params: Sequence[tuple[str, str]]) -> None:
        if not self._tokens:
            raise InvalidSignature("Twilio callbacks are not accepted: MALL_TWILIO_AUTH_TOKEN "
                                   "is not set")
        given = signature.strip().encode()
        for token in self._tokens:
            for url in self._urls:
                expected = twilio_signature(url, params, token).encode()
                if hmac.compare_digest(expected, given):
                    return
        raise InvalidSignature("the X-Twilio-Signature header does not match this request: "
                               "it is signed with the account's auth token over "
                               f"{self._urls[0]} and the posted parameters")

    def read(self, signature: str, params: Sequence[tuple[str, str]]) -> StatusUpdate | None:
        """The status a genuine callback reports (None for one that names no status of an
        outgoing message); InvalidSignature for anything else."""
        self.verify(signature, params)
        fields = dict(params)
        sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
        status = STATUSES.get(fields.get("MessageStatus") or fields.get("SmsStatus") or "")
        if not sid or status is None:
            return None
        return StatusUpdate(sid, status, fields.get("ErrorCode", ""))
