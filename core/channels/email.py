"""E-mail over SMTP: the channel for people without Slack or Teams, students above all.

Invites travel only as a `text/calendar; method=…` part inside multipart/alternative, with
no extra `invite.ics` attachment: that is the structure Outlook and Gmail turn into an
"accept / add to calendar" card and update in place by UID, whereas a second copy as an
attachment makes several clients (Outlook, Apple Mail) show two invites or import a
second, never-updated event. Readers whose client ignores the calendar part still get the
date and time in the text and HTML bodies.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from core.channels.email_messages import build_message
from core.notify import kinds
from core.notify.wording import instant
from core.ports import Attendee, CalendarEvent, DeliveryResult, Notification
from core.services import recipients

if TYPE_CHECKING:
    from core.config import Settings
    from core.runtime import Runtime

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
AUTH_FAILED = "SMTP authentication failed — check PEERLINE_SMTP_URL"
BAD_URL = (
    "PEERLINE_SMTP_URL is not a valid smtp:// or smtps:// URL "
    "(percent-encode special characters in the user name and password)"
)


@dataclass(frozen=True)
class Relay:
    """Where and how mail is handed over, read from PEERLINE_SMTP_URL."""

    implicit_tls: bool
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_relay(url: str) -> Relay:
    """smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start)."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(BAD_URL)
    return Relay(
        implicit_tls=parts.scheme == "smtps",
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class EmailChannel:
    """Sends each notification as one neutral e-mail, with a calendar invite for bookings."""

    name = "email"

    def __init__(self, runtime: Runtime, *, local_hostname: str | None = None) -> None:
        """`local_hostname` is what we say in EHLO; by default the domain of PEERLINE_SMTP_FROM."""
        self._runtime = runtime
        self._sender = parseaddr(self._settings.smtp_from)[1] or "peerline@localhost"
        self._local_hostname = local_hostname or self._sender.rpartition("@")[2] or "localhost"

    @property
    def _settings(self) -> Settings:
        return self._runtime.settings

    def can_reach(self, notification: Notification) -> bool:
        """Core kinds only (no card updates, no plugin kinds), with a relay and an address."""
        configured = self._settings.smtp_url is not None or self._settings.mail_folder is not None
        wanted = notification.kind in kinds.KINDS and notification.kind not in kinds.OPTIONAL
        if not wanted or not configured:
            return False
        return self._address(notification) is not None

    def deliver(self, notification: Notification) -> DeliveryResult:
        """Send once; every expected fault becomes a result, never an exception."""
        if self._settings.smtp_url is None:
            if self._settings.mail_folder is not None:
                return self._write_to_folder(notification)
            return _permanent("e-mail is not configured (PEERLINE_SMTP_URL is not set)")
        try:
            relay = parse_relay(self._settings.smtp_url.get_secret_value())
        except ValueError:  # the parser's message may quote the URL, password and all
            return _permanent(BAD_URL)
        address = self._address(notification)
        if address is None:  # purged after the retention window, or never given
            return _permanent("no e-mail address on record")
        try:
            message = self._compose(notification, address)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            return _permanent(f"cannot write a {notification.kind} e-mail ({_what(error)})")
        return self._send(relay, message, address)

    def _write_to_folder(self, notification: Notification) -> DeliveryResult:
        """Development: the message as an .eml file (invite included), for a person to open."""
        folder = self._settings.mail_folder
        assert folder is not None
        address = self._address(notification)
        if address is None:
            return _permanent("no e-mail address on record")
        message = self._compose(notification, address)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self._runtime.clock.now().strftime("%Y%m%dT%H%M%S")
        digest = hashlib.sha256(notification.dedupe_key.encode()).hexdigest()[:8]
        (folder / f"{stamp}-{notification.kind}-{digest}.eml").write_bytes(message.as_bytes())
        return DeliveryResult(delivered=True, detail="written to the mail folder")

    def _address(self, notification: Notification) -> str | None:
        ctx = self._runtime.system_ctx()
        with ctx.session:
            return recipients.address_of(ctx, notification, "email")

    def _compose(self, notification: Notification, address: str) -> EmailMessage:
        return build_message(
            notification,
            sender=self._settings.smtp_from,
            recipient=address,
            now=self._runtime.clock.now(),
            invite=self._invite(notification, address),
        )

    def _invite(self, notification: Notification, address: str) -> bytes | None:
        """The booking as an invite naming only the recipient, never the other person."""
        writer = self._runtime.calendar
        if writer is None or notification.kind not in kinds.CALENDAR:
            return None
        booking, method = notification.data["booking"], notification.data["method"]
        event = CalendarEvent(
            uid=str(booking["uid"]),
            sequence=int(booking["sequence"]),
            starts_at=instant(booking["starts_at"]),
            ends_at=instant(booking["ends_at"]),
            stamp=self._runtime.clock.now(),
            title="Peer chat",
            cancelled=method == "CANCEL",
            organizer=Attendee(name="PeerLine", email=self._sender),
            attendees=(Attendee(name="You", email=address),),
        )
        return writer.invite(event, method)

    def _send(self, relay: Relay, message: EmailMessage, address: str) -> DeliveryResult:
        """One SMTP session; the message counts as sent once the server accepts DATA."""
        smtp: smtplib.SMTP | None = None
        try:
            context = self._tls_context()
        except OSError:  # ssl.SSLError too: a bundle that is missing or not PEM needs an operator
            return _permanent("PEERLINE_SMTP_CA_FILE could not be read as a PEM CA bundle")
        try:
            smtp = self._connect(relay, context)
            refused = _secure(smtp, relay, context)
            if refused is not None:
                return refused
            smtp.send_message(message, from_addr=self._sender, to_addrs=[address])
        except (smtplib.SMTPException, OSError) as error:
            return failure(error)
        finally:
            if smtp is not None:
                _hang_up(smtp)
        return DeliveryResult(delivered=True)

    def _connect(self, relay: Relay, context: ssl.SSLContext) -> smtplib.SMTP:
        timeout = self._settings.smtp_timeout_seconds
        if relay.implicit_tls:
            return smtplib.SMTP_SSL(
                relay.host,
                relay.port,
                local_hostname=self._local_hostname,
                timeout=timeout,
                context=context,
            )
        return smtplib.SMTP(
            relay.host, relay.port, local_hostname=self._local_hostname, timeout=timeout
        )

    def _tls_context(self) -> ssl.SSLContext:
        """The system's trusted CAs, plus PEERLINE_SMTP_CA_FILE for a private relay."""
        context = ssl.create_default_context()
        if self._settings.smtp_ca_file is not None:
            context.load_verify_locations(cafile=str(self._settings.smtp_ca_file))
        return context


def _secure(smtp: smtplib.SMTP, relay: Relay, context: ssl.SSLContext) -> DeliveryResult | None:
    """STARTTLS when offered; credentials only ever cross an encrypted connection."""
    if not relay.implicit_tls:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        elif relay.username is not None:
            return _permanent(
                "the SMTP server does not offer STARTTLS, so the credentials were not sent "
                "— use smtps:// or a relay that offers STARTTLS"
            )
    if relay.username is None:
        return None
    try:
        smtp.login(relay.username, relay.password or "")
    except smtplib.SMTPNotSupportedError:
        return _permanent(
            "the SMTP server offers no AUTH — remove the credentials or use another relay"
        )
    except smtplib.SMTPException as error:
        if (
            type(error) is not smtplib.SMTPException
        ):  # disconnects and replies: mapped by the caller
            raise
        return _permanent("the SMTP server offers no AUTH method we support")
    return None


def failure(error: smtplib.SMTPException | OSError) -> DeliveryResult:
    """Map a fault honestly: 5xx and auth are permanent, the network and 4xx are retried."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        if 400 <= error.smtp_code < 500:  # e.g. 454: the relay's own auth backend is down
            return _retry(f"SMTP authentication failed for now: {error.smtp_code}")
        return _permanent(AUTH_FAILED)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()), (-1, b""))
        return _by_code("recipient (RCPT)", code, reply)
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _by_code("sender (MAIL)", error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPDataError):
        return _by_code("message (DATA)", error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPResponseException):
        return _by_code("session", error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return _retry("the SMTP server closed the connection")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _permanent("the SMTP server lacks an extension this message needs (SMTPUTF8)")
    if isinstance(error, ssl.SSLError):
        return _retry(f"TLS with the SMTP server failed ({error.reason or type(error).__name__})")
    if isinstance(error, TimeoutError):
        return _retry("the SMTP server did not answer in time")
    if isinstance(error, ConnectionRefusedError):
        return _retry("the SMTP server refused the connection")
    return _retry(f"could not talk to the SMTP server ({type(error).__name__})")


def _by_code(stage: str, code: int, reply: bytes | str) -> DeliveryResult:
    """Name the code (and enhanced status) but never the server's text, which echoes addresses."""
    text = reply.decode("ascii", "replace") if isinstance(reply, bytes) else reply
    status = text.split(" ", 1)[0] if text[:2] in ("4.", "5.") else ""
    detail = f"the SMTP server refused the {stage}: {code}" + (f" {status}" if status else "")
    return _permanent(detail) if 500 <= code < 600 else _retry(detail)


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a failure after DATA was accepted must not turn a send into a retry."""
    with suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    smtp.close()


def _what(error: Exception) -> str:
    return f"missing {error.args[0]!r}" if isinstance(error, KeyError) else type(error).__name__


def _permanent(detail: str) -> DeliveryResult:
    return DeliveryResult(delivered=False, permanent=True, detail=detail)


def _retry(detail: str) -> DeliveryResult:
    return DeliveryResult(delivered=False, retry_after_seconds=None, detail=detail)
