"""A real SMTP server for the tests (aiosmtpd, in a thread of its own): it keeps what it
receives, refuses the recipients it is told to, and can require STARTTLS with a self-signed
certificate, and AUTH."""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool
    authenticated_as: str | None
    raw: bytes  # as it came after DATA


@dataclass
class SmtpPeer:
    """What the server saw: each accepted message, and the recipients it refused."""

    port: int
    ca_file: str = ""
    refuse: dict[str, str] = field(default_factory=dict)  # address -> the RCPT answer
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    data_delay: float = 0.0  # seconds the server waits before answering a message's DATA

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            self.refused.append(address)
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.data_delay)
        message = email.message_from_bytes(envelope.original_content,
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(
            envelope.mail_from, list(envelope.rcpt_tos), message,
            session.ssl is not None  # after STARTTLS; in implicit TLS from the start:
            or server.transport.get_extra_info("ssl_object") is not None,
            session.auth_data.decode() if isinstance(session.auth_data, bytes) else None,
            envelope.original_content))
        return "250 2.0.0 OK queued"

    def wait_for(self, count: int = 1, seconds: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (the file doubles as the CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _password_check(users: dict[str, str]) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if users.get(login) == password:
                return AuthResult(success=True, auth_data=login.encode())
        return AuthResult(success=False, handled=False)
    return authenticate


@contextmanager
def smtp_peer(*, starttls_in: Path | None = None, implicit_tls_in: Path | None = None,
              users: dict[str, str] | None = None) -> Iterator[SmtpPeer]:
    """A server on a free port; with `starttls_in` (a folder for its certificate) it
    refuses mail before STARTTLS; with `implicit_tls_in` it speaks TLS from the first byte
    (port 465 style); with `users` it requires AUTH from one of them."""
    peer = SmtpPeer(free_port())
    options: dict[str, Any] = {}
    folder = starttls_in or implicit_tls_in
    if folder is not None:
        cert_file, key_file = self_signed_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        peer.ca_file = str(cert_file)
        if starttls_in is not None:
            options.update(tls_context=context, require_starttls=True)
        else:
            options.update(ssl_context=context)
    if users is not None:
        # aiosmtpd counts only STARTTLS as TLS; a connection in implicit TLS is one too.
        options.update(authenticator=_password_check(users), auth_required=True,
                       auth_require_tls=starttls_in is not None)
    controller = Controller(peer, hostname=HOST, port=peer.port, **options)
    controller.start()
    try:
        yield peer
    finally:
        controller.stop()
