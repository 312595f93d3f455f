"""Email over SMTP (aiosmtplib): a multipart text + HTML message handed to a relay or a
submission service, over implicit TLS or STARTTLS, authenticated when configured.

What the server answers decides what the dispatcher does next: a permanent refusal of the
recipient (5xx) means the address can never be reached (RecipientRejected, hard bounce); a
server that is down, slow, or refuses for now (4xx) means another provider or channel may
(ProviderUnavailable).
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from application.ports import Envelope, SendReceipt
from domain.errors import ProviderUnavailable, RecipientRejected

log = logging.getLogger("mall.smtp")

# Our message id travels in its own header, so whoever reads the mail (a relay's logs, a
# bounce) can name the message without the dispatcher's table.
MESSAGE_ID_HEADER = "X-Mall-Message-Id"
# Reserved by the message itself: the extra headers of an envelope cannot replace them.
OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "mime-version",
                         "content-type", "content-transfer-encoding",
                         MESSAGE_ID_HEADER.lower()})


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 587
    tls: str = "starttls"  # "starttls" | "tls" (implicit) | "none" (a relay on this host)
    username: str = ""
    password: str = ""
    ca_file: str = ""  # trusted instead of the system's authorities when given
    timeout_seconds: float = 30.0


def message_id_for(our_message_id: str, domain: str) -> str:
    """The same RFC 5322 Message-ID for every retry of one message, so a receiver that
    dedupes on it shows the message once; our ids may hold characters a Message-ID may not."""
    digest = hashlib.sha256(our_message_id.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str  # the RFC 5322 Message-ID
    mail_from: str  # the envelope sender (the address of MALL_SMTP_SENDER)
    data: bytes  # the message as sent after DATA


def build_message(envelope: Envelope, sender: str) -> OutgoingMail:
    """The MIME message of an envelope: text, and the HTML as its alternative when given,
    with the envelope's extra headers as written."""
    domain = sender_domain(sender)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = envelope.to
    message["Subject"] = envelope.content.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id_for(envelope.message_id, domain)
    message[MESSAGE_ID_HEADER] = envelope.message_id
    message.set_content(envelope.content.text)
    if envelope.content.html:
        message.add_alternative(envelope.content.html, subtype="html")
    head, _, body = message.as_bytes(policy=email.policy.SMTP).partition(b"\r\n\r\n")
    return OutgoingMail(str(message["Message-ID"]), parseaddr(sender)[1],
                        head + b"\r\n" + _extra_headers(envelope.headers) + b"\r\n" + body)


def _extra_headers(headers: Mapping[str, str]) -> bytes:
    """The envelope's headers, unfolded and unencoded: a List-Unsubscribe URL folded or
    turned into an RFC 2047 encoded-word (what the email package does to a long line) is
    no URL to a mail client, and its one-click button would not show (RFC 2369, 8058)."""
    lines = []
    for name, value in headers.items():
        if name.lower() in OWN_HEADERS:
            raise ValueError(f"the header {name} is the message's own")
        line = f"{name}: {value}"
        if (not name.isascii() or not name.replace("-", "").isalnum()
                or not line.isascii() or "\r" in line or "\n" in line or len(line) > 998):
            raise ValueError(f"the header {name[:40]!r} is not one line of ASCII")
        lines.append(line.encode("ascii") + b"\r\n")
    return b"".join(lines)


def sender_domain(sender: str) -> str:
    _, address = parseaddr(sender)
    if "@" not in address:
        raise ValueError(f"the sender {sender!r} is no email address (MALL_SMTP_SENDER)")
    return Address(addr_spec=address).domain


def _failure(exc: Exception) -> Exception:
    """What the dispatcher is told of an SMTP failure (recipients never named in logs)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        # RFC 5321 4.5.3.1.10: a 552 to RCPT is "too many recipients", to be read as 452.
        if codes and all(500 <= code < 600 and code != 552 for code in codes):
            return RecipientRejected(f"the mail server refused the recipient ({codes[0]})",
                                     reason="hard_bounce")
        return ProviderUnavailable(f"the mail server refused the recipient for now "
                                   f"({codes[0] if codes else 'no code'})", request_sent=False)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ProviderUnavailable(f"the mail server refused our credentials ({exc.code})",
                                   request_sent=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # Sender or message refused, or the server busy: not this recipient's fault.
        return ProviderUnavailable(f"the mail server refused the message ({exc.code})",
                                   request_sent=False)
    if isinstance(exc, ssl.SSLError):
        return ProviderUnavailable(f"TLS with the mail server failed ({exc.reason})",
                                   request_sent=False)
    if isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionRefusedError):
        return ProviderUnavailable("the mail server cannot be reached", request_sent=False)
    if not isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected
                      | OSError):
        # Refused before any mail: STARTTLS or AUTH asked for and not offered.
        return ProviderUnavailable(f"the mail server cannot do what we require ({exc})",
                                   request_sent=False)
    # A timeout or a dropped connection: the server may have taken the message before the
    # answer was lost; the Message-ID stays the same on a retry, so receivers dedupe.
    return ProviderUnavailable(f"the mail server did not answer ({type(exc).__name__})")


class SmtpEmailSender:
    """The `smtp` email provider: one connection per message, closed after it."""

    name = "smtp"
    channel = "email"

    def __init__(self, server: SmtpServer, sender: str) -> None:
        sender_domain(sender)  # a bad sender fails at start, not at the first email
        self._server, self._sender = server, sender
        self._tls_context = (ssl.create_default_context(cafile=server.ca_file or None)
                             if server.tls != "none" else None)

    async def send(self, envelope: Envelope) -> SendReceipt:
        mail = build_message(envelope, self._sender)
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host, port=server.port, timeout=server.timeout_seconds,
            use_tls=server.tls == "tls", start_tls=server.tls == "starttls",
            tls_context=self._tls_context,
            username=server.username or None, password=server.password or None)
        try:
            async with client:  # connects, says EHLO, STARTTLS and AUTH as configured
                _, answer = await client.sendmail(mail.mail_from, [envelope.to], mail.data)
        except (aiosmtplib.SMTPException, OSError) as exc:
            failure = _failure(exc)
            log.warning("smtp: message %s not sent: %s", envelope.message_id, failure)
            raise failure from exc
        log.info("smtp: message %s accepted: %s", envelope.message_id, answer[:120])
        return SendReceipt(self.name, mail.message_id, status="sent")
