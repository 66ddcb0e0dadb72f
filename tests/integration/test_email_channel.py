"""The e-mail channel against a real SMTP server on loopback: content, invites, TLS, faults."""

from __future__ import annotations

import html
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import icalendar
import pytest
from flask import Flask
from sqlalchemy import delete

from core.channels.email import EmailChannel
from core.channels.email_messages import build_message
from core.clock import FrozenClock
from core.models import RequesterIdentity
from core.notify import kinds
from core.notify.plain import RENDERERS
from core.ports import DeliveryResult, Notification
from core.runtime import runtime
from core.schemas.programs import NOT_A_CRISIS_SERVICE
from core.schemas.requests import RequestIn
from core.services import programs, requests
from lms.plugin import init_app as lms_plugin
from tests.conftest import START, make_app
from tests.fakes.smtp import (
    Certificates,
    FakeSMTP,
    closed_port,
    fake_smtp_servers,
    make_certificates,
)
from tests.helpers import make_world, system_ctx

STUDENT = "student@example.edu"
SUPPORTER = "heron.supporter@acme.example"
COORDINATORS = "coordinators@acme.example"
TOPIC = "grief"
NOTE = "Xylophone-quartz private words"
USER, PASSWORD = "peerline", "pa55:w/rd-Secret"
SENDER = "PeerLine <peerline@peerline.test>"
REQUESTER_KINDS = sorted(
    {"matched", "nobody_free", "request_expired", "feedback_prompt"}
    | kinds.CALENDAR
    | {"booking_reminder"}
)
SUPPORTER_KINDS = sorted(
    {"offer_made", "booking_reminder", "training_expiring", "training_lapsed"} | kinds.CALENDAR
)


@dataclass
class Harness:
    """One app with a program, a supporter reachable by e-mail and a request from a student."""

    app: Flask
    channel: EmailChannel
    program_id: uuid.UUID
    supporter_id: uuid.UUID
    request_id: uuid.UUID
    resources: list[dict[str, Any]]

    def notification(self, kind: str, audience: str = "requester", **data: Any) -> Notification:
        """A snapshot shaped like the router's, for one kind and audience."""
        snapshot: dict[str, Any] = {
            "program": {"name": "Acme Corp", "slug": "acme"},
            "time_zone": "Europe/London",
            "locale": "en",
        }
        if audience == "requester":
            snapshot |= {"not_a_crisis": NOT_A_CRISIS_SERVICE, "crisis_resources": self.resources}
        return Notification(
            dedupe_key=data.pop("dedupe_key", f"{kind}:{uuid.uuid4()}:{audience}"),
            program_id=self.program_id,
            audience=audience,  # type: ignore[arg-type]
            kind=kind,
            request_id=self.request_id,
            supporter_id=self.supporter_id if audience == "supporter" else None,
            data=snapshot | sample(kind, audience) | data,
        )


def booking(sequence: int = 0) -> dict[str, Any]:
    starts = START + timedelta(days=1, hours=5)  # Thursday 14:00 UTC
    return {
        "uid": "booking-7f3a@peerline.test",
        "sequence": sequence,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=45)).isoformat(),
        "mode": "video",
    }


def sample(kind: str, audience: str) -> dict[str, Any]:
    """The keys core.notify.kinds lists for each kind."""
    other = "Grey Heron" if audience == "requester" else "Blue Otter"
    training = {"supporter_alias": "Grey Heron", "training": "Peer support basics"}
    return {
        "offer_made": {
            "request_alias": "Blue Otter",
            "topic": TOPIC,
            "mode": "text",
            "language": "en",
            "is_urgent": False,
            "expires_at": (START + timedelta(minutes=10)).isoformat(),
        },
        "offer_taken": {"request_alias": "Blue Otter"},
        "offer_expired": {"request_alias": "Blue Otter"},
        "matched": {"supporter_alias": "Grey Heron", "mode": "text"},
        "nobody_free": {"wait_minutes": 60, "can_book": True},
        "request_expired": {"can_book": True},
        "booking_confirmed": {"booking": booking(0), "other_alias": other, "method": "REQUEST"},
        "booking_changed": {"booking": booking(1), "other_alias": other, "method": "REQUEST"},
        "booking_cancelled": {
            "booking": booking(1),
            "other_alias": other,
            "method": "CANCEL",
            "cancelled_by": "requester",
        },
        "booking_reminder": {"booking": booking(0), "other_alias": other, "minutes_before": 15},
        "feedback_prompt": {"supporter_alias": "Grey Heron"},
        "training_expiring": training | {"expires_on": "2026-04-01", "days_left": 28},
        "training_lapsed": training | {"expires_on": "2026-03-01"},
    }[kind]


@pytest.fixture
def servers() -> Iterator[Callable[..., FakeSMTP]]:
    with fake_smtp_servers() as start:
        yield start


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "tls")


@pytest.fixture
def harness(tmp_path: Path, clock: FrozenClock) -> Iterator[Callable[..., Harness]]:
    """The app, built once the test knows its SMTP URL (SQLite: the database is not the point)."""
    built: list[Flask] = []

    def build(smtp_url: str | None, *, calendar: bool = True, **settings: Any) -> Harness:
        app = make_app(
            f"sqlite:///{tmp_path / 'email.sqlite3'}",
            tmp_path,
            clock,
            plugins=[("lms", lms_plugin)] if calendar else [],
            smtp_url=smtp_url,
            smtp_from=SENDER,
            smtp_timeout_seconds=10,
            **settings,
        )
        built.append(app)
        return populate(app)

    yield build
    for app in built:
        runtime(app).engine.dispose()


def populate(app: Flask) -> Harness:
    world = make_world(app, app.test_client())
    supporter = world.add_supporter(
        "Grey Heron", contacts=[{"platform": "email", "address": SUPPORTER}]
    )
    ctx = system_ctx(app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        program.notify_email = COORDINATORS
        request, _ = requests.create(
            ctx,
            RequestIn.model_validate(
                {
                    "program": "acme",
                    "topic": TOPIC,
                    "urgency": "scheduled",
                    "mode": "video",
                    "language": "en",
                    "note": NOTE,
                    "requester": {"platform": "email", "subject": STUDENT},
                    "channel": "email",
                }
            ),
        )
        resources = [r.model_dump(mode="json") for r in programs.crisis_resources_for(program)]
        ids = (program.id, uuid.UUID(supporter["id"]), request.id)
    return Harness(app, EmailChannel(runtime(app)), *ids, resources)


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for part in message.walk():
        if not part.is_multipart():
            found[part.get_content_type()] = part  # type: ignore[assignment]
    return found


def body(message: EmailMessage, content_type: str) -> str:
    return str(parts(message)[content_type].get_content())


def invite(message: EmailMessage) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(parts(message)["text/calendar"].get_content())


def assert_discreet(result: DeliveryResult) -> None:
    """A failure's detail is stored and logged: no address, no password, no body."""
    assert not result.delivered
    for secret in (STUDENT, SUPPORTER, PASSWORD, "pa55", NOTE, TOPIC, "Hello"):
        assert secret not in result.detail


def test_a_booking_reaches_the_student_with_text_html_and_an_invite(servers, harness):
    server = servers()
    h = harness(server.url())
    result = h.channel.deliver(h.notification("booking_confirmed"))
    assert result == DeliveryResult(delivered=True)
    [received] = server.received
    message = received.message
    assert received.rcpt_tos == (STUDENT,) and received.mail_from == "peerline@peerline.test"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = parts(message)["text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    assert message["Subject"] == "Your peer chat is booked"
    assert message["To"] == STUDENT and message["Date"] and message["Message-ID"]
    text = " ".join(body(message, "text/plain").split())
    assert "Thursday 5 March 2026, 14:00 to 14:45 (Europe/London, GMT)" in text
    cal = invite(message)
    [event] = cal.walk("VEVENT")
    assert cal["METHOD"] == "REQUEST"
    assert str(event["UID"]) == "booking-7f3a@peerline.test"
    assert int(event["SEQUENCE"]) == 0
    assert event["DTSTAMP"].dt == START
    assert str(event["SUMMARY"]) == "Peer chat"
    assert str(event["ATTENDEE"]) == f"mailto:{STUDENT}"
    assert str(event["ORGANIZER"]) == "mailto:peerline@peerline.test"


@pytest.mark.parametrize("kind", ["booking_confirmed", "offer_made", "matched"])
def test_the_topic_and_the_note_never_travel_by_email(servers, harness, kind):
    server = servers()
    h = harness(server.url())
    audience = "supporter" if kind == "offer_made" else "requester"
    assert h.channel.deliver(h.notification(kind, audience)).delivered
    [received] = server.received
    decoded = "".join(str(p.get_content()) for p in parts(received.message).values())
    for secret in (TOPIC, NOTE):
        assert secret.lower() not in received.raw.decode().lower()
        assert secret.lower() not in decoded.lower()


@pytest.mark.parametrize("kind", REQUESTER_KINDS)
def test_every_requester_email_says_it_is_not_a_crisis_service(servers, harness, kind):
    server = servers()
    h = harness(server.url())
    assert h.channel.deliver(h.notification(kind)).delivered
    message = server.received[0].message
    text = " ".join(body(message, "text/plain").split())
    page = html.unescape(body(message, "text/html"))
    for rendered in (text, page):
        assert NOT_A_CRISIS_SERVICE in rendered
        for resource in h.resources:
            assert resource["name"] in rendered and resource["contact"] in rendered


@pytest.mark.parametrize("kind", SUPPORTER_KINDS)
def test_supporter_emails_arrive_without_the_requester_footer(servers, harness, kind):
    server = servers()
    h = harness(server.url())
    assert h.channel.deliver(h.notification(kind, "supporter")).delivered
    [received] = server.received
    assert received.rcpt_tos == (SUPPORTER,)
    assert STUDENT not in received.raw.decode()
    assert NOT_A_CRISIS_SERVICE not in " ".join(body(received.message, "text/plain").split())


def test_times_are_shown_in_the_readers_zone(servers, harness):
    server = servers()
    h = harness(server.url())
    n = h.notification("booking_reminder", "supporter", time_zone="America/New_York")
    assert h.channel.deliver(n).delivered
    message = server.received[0].message
    assert message["Subject"] == "Reminder: peer chat in 15 minutes"
    assert "09:00 to 09:45 (America/New_York, EST)" in " ".join(body(message, "text/plain").split())


def test_a_cancellation_carries_method_cancel_with_the_sequence_bumped(servers, harness):
    server = servers()
    h = harness(server.url())
    assert h.channel.deliver(h.notification("booking_confirmed")).delivered
    assert h.channel.deliver(h.notification("booking_cancelled")).delivered
    booked, cancelled = (invite(r.message) for r in server.received)
    assert server.received[1].message["Subject"] == "Peer chat cancelled"
    assert parts(server.received[1].message)["text/calendar"].get_param("method") == "CANCEL"
    [first], [second] = booked.walk("VEVENT"), cancelled.walk("VEVENT")
    assert cancelled["METHOD"] == "CANCEL" and str(second["STATUS"]) == "CANCELLED"
    assert str(second["UID"]) == str(first["UID"])
    assert int(second["SEQUENCE"]) == int(first["SEQUENCE"]) + 1


def test_each_side_invite_names_only_its_own_reader(servers, harness):
    server = servers()
    h = harness(server.url())
    assert h.channel.deliver(h.notification("booking_confirmed", "supporter")).delivered
    assert h.channel.deliver(h.notification("booking_confirmed", "requester")).delivered
    to_supporter, to_student = server.received
    assert STUDENT not in to_supporter.raw.decode()
    assert SUPPORTER not in to_student.raw.decode()
    assert str(invite(to_supporter.message).walk("VEVENT")[0]["ATTENDEE"]) == f"mailto:{SUPPORTER}"


def test_without_a_calendar_writer_the_email_still_goes(servers, harness):
    server = servers()
    h = harness(server.url(), calendar=False)
    assert h.channel.deliver(h.notification("booking_confirmed")).delivered
    assert "text/calendar" not in parts(server.received[0].message)


def test_the_same_notification_keeps_its_message_id(servers, harness):
    server = servers()
    h = harness(server.url())
    first = h.notification("matched", dedupe_key="matched:abc")
    assert h.channel.deliver(first).delivered
    assert h.channel.deliver(h.notification("matched", dedupe_key="matched:abc")).delivered
    assert h.channel.deliver(h.notification("matched", dedupe_key="matched:other")).delivered
    ids = [r.message["Message-ID"] for r in server.received]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].endswith("@peerline.test>") and "matched" not in ids[0]


def test_starttls_with_auth_delivers_over_tls(servers, harness, certificates):
    server = servers(tls="starttls", certificates=certificates, credentials=(USER, PASSWORD))
    h = harness(server.url(USER, PASSWORD), smtp_ca_file=certificates.ca_file)
    assert h.channel.deliver(h.notification("matched")).delivered
    [received] = server.received
    assert received.tls and received.login == USER


def test_credentials_are_never_sent_without_tls(servers, harness):
    server = servers(credentials=(USER, PASSWORD))  # offers AUTH but no STARTTLS
    h = harness(server.url(USER, PASSWORD))
    result = h.channel.deliver(h.notification("matched"))
    assert result.permanent and "STARTTLS" in result.detail
    assert server.auth_attempts == 0 and server.received == []
    assert_discreet(result)


def test_smtps_delivers_over_tls(servers, harness, certificates):
    server = servers(tls="implicit", certificates=certificates)
    h = harness(server.url(), smtp_ca_file=certificates.ca_file)
    assert h.channel.deliver(h.notification("matched")).delivered
    assert server.received[0].tls


def test_an_untrusted_certificate_is_refused_and_retried(servers, harness, certificates):
    server = servers(tls="implicit", certificates=certificates)
    h = harness(server.url())  # no smtp_ca_file: the test CA is not trusted
    result = h.channel.deliver(h.notification("matched"))
    assert not result.permanent and "TLS" in result.detail and server.received == []
    assert_discreet(result)


def test_an_unreadable_ca_bundle_needs_an_operator(servers, harness, tmp_path):
    server = servers(tls="implicit", certificates=make_certificates(tmp_path / "tls"))
    h = harness(server.url(), smtp_ca_file=tmp_path / "missing.pem")
    result = h.channel.deliver(h.notification("matched"))
    assert result.permanent and "PEERLINE_SMTP_CA_FILE" in result.detail
    assert server.received == []


def test_a_wrong_password_needs_an_operator(servers, harness, certificates):
    server = servers(tls="starttls", certificates=certificates, credentials=(USER, PASSWORD))
    h = harness(server.url(USER, "pa55-wrong"), smtp_ca_file=certificates.ca_file)
    result = h.channel.deliver(h.notification("matched"))
    assert result.permanent
    assert result.detail == "SMTP authentication failed — check PEERLINE_SMTP_URL"
    assert "wrong" not in result.detail
    assert_discreet(result)


@pytest.mark.parametrize(
    ("options", "permanent", "code"),
    [
        ({"rcpt_reply": f"550 5.1.1 <{STUDENT}>: no such mailbox"}, True, "550 5.1.1"),
        ({"rcpt_reply": f"451 4.3.0 <{STUDENT}>: try again later"}, False, "451 4.3.0"),
        ({"data_reply": "554 5.6.0 message refused"}, True, "554 5.6.0"),
        ({"data_reply": "452 4.3.1 insufficient storage"}, False, "452 4.3.1"),
    ],
)
def test_smtp_replies_are_mapped_honestly(servers, harness, options, permanent, code):
    server = servers(**options)
    h = harness(server.url())
    result = h.channel.deliver(h.notification("matched"))
    assert result.permanent is permanent and result.retry_after_seconds is None
    assert code in result.detail and server.received == []
    assert_discreet(result)


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_a_dropped_connection_is_retried(servers, harness, stage):
    server = servers(drop_on=stage)
    h = harness(server.url())
    result = h.channel.deliver(h.notification("matched"))
    assert not result.permanent and server.received == []
    assert_discreet(result)


def test_a_relay_that_is_down_is_retried(harness):
    h = harness(f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port()}")
    result = h.channel.deliver(h.notification("matched"))
    assert not result.permanent and "refused the connection" in result.detail
    assert_discreet(result)


def test_a_stalled_relay_holds_the_send_until_released(servers, harness):
    server = servers(stall=True)
    h = harness(server.url())
    results: list[DeliveryResult] = []
    sender = threading.Thread(
        target=lambda: results.append(h.channel.deliver(h.notification("matched")))
    )
    sender.start()
    assert server.stalled.wait(10), "the client never reached RCPT"
    assert server.received == [], "nothing counts as received before DATA completes"
    server.release()
    sender.join(10)
    assert results == [DeliveryResult(delivered=True)] and len(server.received) == 1


def test_card_updates_are_not_sent_by_email(servers, harness):
    h = harness(servers().url())
    for kind in kinds.OPTIONAL:
        assert not h.channel.can_reach(h.notification(kind, "supporter"))
    assert h.channel.can_reach(h.notification("offer_made", "supporter"))
    assert h.channel.can_reach(h.notification("matched", "requester"))
    assert h.channel.can_reach(h.notification("training_lapsed", "coordinator"))


def test_a_purged_identity_is_a_permanent_failure(servers, harness):
    server = servers()
    h = harness(server.url())
    ctx = system_ctx(h.app)
    with ctx.session:
        ctx.session.execute(delete(RequesterIdentity))
        ctx.session.commit()
    n = h.notification("booking_reminder")
    assert not h.channel.can_reach(n)
    result = h.channel.deliver(n)
    assert result.permanent and result.detail == "no e-mail address on record"
    assert server.received == []


def test_a_malformed_relay_url_fails_without_quoting_it(harness):
    h = harness(f"smtp://{USER}:{PASSWORD}@127.0.0.1:25")  # "/" in the password, unencoded
    result = h.channel.deliver(h.notification("matched"))
    assert result.permanent and "percent-encode" in result.detail
    assert_discreet(result)


def test_without_a_relay_nothing_is_reachable(harness):
    h = harness(None)
    n = h.notification("matched")
    assert not h.channel.can_reach(n)
    assert h.channel.deliver(n).permanent


def test_coordinators_are_reached_at_the_program_address(servers, harness):
    server = servers()
    h = harness(server.url())
    assert h.channel.deliver(h.notification("training_expiring", "coordinator")).delivered
    [received] = server.received
    assert received.rcpt_tos == (COORDINATORS,)
    assert "Grey Heron's Peer support basics training expires on" in " ".join(
        body(received.message, "text/plain").split()
    )


def test_every_kind_has_wording():
    assert set(RENDERERS) == set(kinds.KINDS)


def test_html_escapes_everything_from_the_snapshot(servers, harness):
    h = harness(servers().url())
    n = h.notification("matched", supporter_alias='<script>alert("x")</script> & Co')
    message = build_message(n, sender=SENDER, recipient=STUDENT, now=START)
    page = body(message, "text/html")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; Co" in page
