"""A real SMTP server on loopback (aiosmtpd), so the e-mail channel's own smtplib code runs.

    with FakeSMTP() as server:                      # accepts everything
        ... deliver to server.url() ...
        server.received[0].message["Subject"]

Modes, combinable: `rcpt_reply="550 5.1.1 …"` / `"451 4.3.0 …"` (refuse), `data_reply=…`,
`drop_on="RCPT" | "DATA"` (connection cut mid-transaction), `credentials=(user, password)`
(AUTH required), `tls="starttls" | "implicit"` with `certificates` from `make_certificates`,
and `stall=True`: RCPT blocks until `release()` (`stalled` is set once a client is stuck
there). A message counts as received only when DATA has completed. `hold_reply=True` is the
other side of a timeout: the message is received (counted), but the 250 after DATA is held
until `release()`, so a client with a short timeout gives up on a message that arrived.
`rearm()` makes a released server hold clients again.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
TLS = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted (DATA completed), as the recipient's client sees it."""

    message: EmailMessage
    raw: bytes
    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str | None
    tls: bool


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path) -> Certificates:
    """Generate a CA and a leaf for 127.0.0.1/localhost now, so no key is ever checked in."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PeerLine test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    names = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
    leaf = (
        _builder(leaf_name, ca_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    found.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    found.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


class _LoopbackController(Controller):
    """aiosmtpd's Controller on a port the OS picks, so parallel runs never collide."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSMTP:
    """The SMTP server; attributes may be changed between sends to switch behaviour."""

    def __init__(
        self,
        *,
        tls: TLS = "none",
        certificates: Certificates | None = None,
        credentials: tuple[str, str] | None = None,
        rcpt_reply: str | None = None,
        data_reply: str | None = None,
        drop_on: Literal["RCPT", "DATA"] | None = None,
        stall: bool = False,
        hold_reply: bool = False,
    ) -> None:
        if tls != "none" and certificates is None:
            raise ValueError("TLS needs certificates (make_certificates)")
        self.tls, self.certificates, self.credentials = tls, certificates, credentials
        self.rcpt_reply, self.data_reply, self.drop_on = rcpt_reply, data_reply, drop_on
        self.stall, self.hold_reply = stall, hold_reply
        self.received: list[Received] = []
        self.auth_attempts = 0
        self.stalled = threading.Event()  # a client is held (in RCPT, or after DATA)
        self.released = threading.Event()  # let held clients go on
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fake-smtp-stall")
        self._controller: _LoopbackController | None = None

    @property
    def port(self) -> int:
        assert self._controller is not None, "server not started"
        return int(self._controller.port)

    def url(self, username: str | None = None, password: str | None = None) -> str:
        """The PEERLINE_SMTP_URL for this server (smtps:// when TLS is implicit)."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        login = ""
        if username is not None:
            login = quote(username, safe="") + (
                ":" + quote(password, safe="") if password is not None else ""
            )
            login += "@"
        return f"{scheme}://{login}{HOST}:{self.port}"

    def release(self) -> None:
        self.released.set()

    def rearm(self) -> None:
        """After a release(): hold the next client again (with stall or hold_reply set)."""
        self.released.clear()
        self.stalled.clear()

    def start(self) -> FakeSMTP:
        context = self.certificates.server_context() if self.certificates else None
        self._controller = _LoopbackController(
            _Handler(self),
            hostname=HOST,
            port=0,
            server_hostname="fake-smtp.test",  # no reverse-DNS look-up of this machine
            ssl_context=context if self.tls == "implicit" else None,
            tls_context=context if self.tls == "starttls" else None,
            require_starttls=self.tls == "starttls",
            authenticator=self._authenticate if self.credentials else None,
            auth_required=self.credentials is not None and self.tls != "none",
            auth_require_tls=self.tls != "none",
            decode_data=False,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self.released.set()  # nothing may stay blocked in the stall pool
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._pool.shutdown(wait=True)

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        self.auth_attempts += 1
        expected = self.credentials
        ok = (
            isinstance(data, LoginPassword)
            and expected is not None
            and (data.login.decode(), data.password.decode()) == expected
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def _hold(self) -> None:
        self.stalled.set()
        await asyncio.get_running_loop().run_in_executor(self._pool, self.released.wait)


class _Handler:
    """aiosmtpd hooks: refuse, drop or hold where the server is told to, else accept."""

    def __init__(self, fake: FakeSMTP) -> None:
        self.fake = fake

    async def handle_RCPT(
        self, server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if self.fake.stall:
            await self.fake._hold()
        if self.fake.drop_on == "RCPT":
            return _drop(server)
        if self.fake.rcpt_reply is not None:
            return self.fake.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fake.drop_on == "DATA":
            return _drop(server)
        if self.fake.data_reply is not None:
            return self.fake.data_reply
        raw = cast(bytes, envelope.original_content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        auth = session.auth_data
        transport = server.transport
        self.fake.received.append(
            Received(
                message=cast(EmailMessage, parsed),
                raw=raw,
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
            )
        )
        if self.fake.hold_reply:  # received; the client may time out before it hears so
            await self.fake._hold()
        return "250 OK: queued"


def _drop(server: SMTP) -> str:
    """Cut the connection without a reply, as a crashed relay or a lost network would."""
    if server.transport is not None:
        server.transport.abort()  # type: ignore[attr-defined]
    return "421 4.4.2 connection dropped"  # never reaches the client


def closed_port() -> int:
    """A loopback port with nothing listening: the 'relay is down' case."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def fake_smtp_servers() -> Iterator[Callable[..., FakeSMTP]]:
    """Start any number of servers (FakeSMTP's keyword arguments); all stop on exit."""
    with ExitStack() as stack:

        def start(**options: Any) -> FakeSMTP:
            return stack.enter_context(FakeSMTP(**options))

        yield start


@pytest.fixture
def smtp_servers() -> Iterator[Callable[..., FakeSMTP]]:
    """Fixture form of fake_smtp_servers: `smtp_servers(rcpt_reply="550 …")` starts one."""
    with fake_smtp_servers() as start:
        yield start


@pytest.fixture
def smtp_certificates(tmp_path: Path) -> Certificates:
    """A fresh CA and server certificate; pass `.ca_file` as the smtp_ca_file setting."""
    return make_certificates(tmp_path / "smtp-tls")
