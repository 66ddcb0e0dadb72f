"""The student booking page (Flask test client): choose, free times in one's zone, book as an
alias, the confirmation with its calendar file and private link, cancel and move through that
link (with the program's cut-off), and every refusal as a clear page that stores nothing."""

from __future__ import annotations

import email
import logging
import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.models import Booking, Delivery, RequesterIdentity, SupportRequest
from core.plugins import PluginHost
from core.runtime import runtime
from core.services import identities, programs
from lms import web
from lms.calendar import IcsCalendarWriter
from lms.feeds import web as feeds_web
from lms.student import PLATFORM, Student, seal, subject_of, unseal
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, World, auth, make_world, system_ctx
from tests.integration.test_deliveries import drain

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
STUDENT = Student(
    "acme", subject_of("https://canvas.example.edu", "a6f1-opaque"), (LEARNER,), "en-GB"
)
OTHER = Student(
    "acme", subject_of("https://canvas.example.edu", "b7e2-opaque"), (LEARNER,), "en-GB"
)
CHOICES = {"topic": "stress", "mode": "video", "language": "en"}
NEW_YORK = "America/New_York"
TAKEN = "That time was just taken — choose another."
ADDRESS = "student@school.test"


# -- a small reader of our HTML ------------------------------------------------------------------


@dataclass
class Page:
    """What a test needs of a page: its text, controls, labels, links and landmarks."""

    status: int
    headers: Any
    html: str
    text: str = ""
    inputs: list[dict[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def radios(self, name: str) -> list[tuple[str, str]]:
        """(value, label) of each radio button of a group."""
        return [
            (i["value"], self.labels[i["id"]])
            for i in self.inputs
            if i.get("type") == "radio" and i.get("name") == name
        ]

    def hidden(self, name: str) -> str:
        [value] = {i["value"] for i in self.inputs if i.get("name") == name and i["tag"] == "input"}
        return value

    def link(self, text: str) -> str:
        return next(href for href, said in self.links if said.startswith(text))

    def legends(self) -> list[str]:
        return [said for tag, said in self.texts if tag == "legend"]

    @property
    def texts(self) -> list[tuple[str, str]]:
        return self._texts  # type: ignore[attr-defined,no-any-return]


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page, self.stack, self.chunks = page, [], []
        self.open_label: str | None = None
        self.open_link: str | None = None
        self.open_text: list[tuple[str, list[str]]] = []
        page._texts = []  # type: ignore[attr-defined]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.page.tags.append((tag, found))
        if tag in ("input", "select", "textarea"):
            self.page.inputs.append({"tag": tag, **found})
        if tag == "label":
            self.open_label, self.chunks = found.get("for", ""), []
        if tag == "a":
            self.open_link, self.link_chunks = found.get("href", ""), []
        if tag in ("legend", "h1", "h2", "dt", "dd", "p"):
            self.open_text.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.open_label is not None:
            self.page.labels[self.open_label] = " ".join("".join(self.chunks).split())
            self.open_label = None
        if tag == "a" and self.open_link is not None:
            self.page.links.append((self.open_link, " ".join("".join(self.link_chunks).split())))
            self.open_link = None
        if self.open_text and self.open_text[-1][0] == tag:
            name, chunks = self.open_text.pop()
            self.page._texts.append((name, " ".join("".join(chunks).split())))  # type: ignore[attr-defined]

    def handle_data(self, data: str) -> None:
        self.page.text += data
        if self.open_label is not None:
            self.chunks.append(data)
        if self.open_link is not None:
            self.link_chunks.append(data)
        for _name, chunks in self.open_text:
            chunks.append(data)


def read(response: Any) -> Page:
    html = response.get_data(as_text=True)
    page = Page(response.status_code, response.headers, html)
    _Reader(page).feed(html)
    page.text = " ".join(page.text.split())
    return page


# -- the set-up: a school with two supporters, and launched students -----------------------------


def booking_plugin(host: PluginHost) -> None:
    """The LMS plugin's parts this page needs: the calendar writer, feeds and the page itself."""
    host.set_calendar_writer(IcsCalendarWriter())
    feeds_web.init_app(host)
    web.init_app(host)


@dataclass
class School:
    app: Flask
    client: FlaskClient
    world: World
    clock: FrozenClock

    def sealed(self, student: Student = STUDENT) -> str:
        return seal(runtime(self.app), student)

    def get(self, path: str = "/lms/book", **params: Any) -> Page:
        return read(self.client.get(path, query_string=params))

    def times(self, student: Student = STUDENT, **params: Any) -> Page:
        query = {"s": self.sealed(student), **CHOICES, "tz": NEW_YORK, **params}
        return self.get(**query)

    def post(
        self, path: str = "/lms/book", headers: dict[str, str] | None = None, **form: Any
    ) -> Page:
        return read(self.client.post(path, data=form, headers=headers or {}))

    def book(self, student: Student = STUDENT, slot: str | None = None, **form: Any) -> Page:
        listed = self.times(student)
        chosen = slot or listed.radios("slot")[0][0]
        body = {"s": self.sealed(student), **CHOICES, "tz": NEW_YORK, "slot": chosen, **form}
        return self.post(**body)

    def count(self, model: Any) -> int:
        with runtime(self.app).engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(model)) or 0)

    def booking(self) -> Booking:
        with system_ctx(self.app).session as session:
            return session.scalars(select(Booking).order_by(Booking.created_at.desc())).first()


@pytest.fixture
def school(database_url: str, tmp_path: Path, clock: FrozenClock):
    app = make_app(
        database_url,
        tmp_path,
        clock,
        plugins=[("lms", booking_plugin)],
        mail_folder=tmp_path / "mail",
    )
    client = app.test_client()
    world = make_world(app, client, kind="school", name="Northfield College")
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    world.add_supporter("Birch", weekly=EVERY_WEEKDAY, languages=["es"])
    yield School(app, client, world, clock)
    runtime(app).engine.dispose()


def private_link(page: Page) -> str:
    [url] = [href for href, said in page.links if "/lms/my/plr_" in href and said == href]
    return url


def path_of(url: str) -> str:
    return urlsplit(url).path


def parsed_ics(school: School, page: Page, text: str = "Add to calendar") -> icalendar.Event:
    response = school.client.get(page.link(text))
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == 'attachment; filename="peer-chat.ics"'
    calendar = icalendar.Calendar.from_ical(response.data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    return event


# -- the pages -----------------------------------------------------------------------------------


def test_the_launch_opens_the_choices_with_the_notice_the_resources_and_safe_headers(school):
    page = school.get(s=school.sealed())
    assert page.status == 200
    assert '<html lang="en">' in page.html and "<main" in page.html
    assert "It is not a crisis or emergency service" in page.text
    assert "Samaritans" in page.text, "the en-GB student's crisis line"
    assert page.radios("topic") == [
        ("stress", "Stress"),
        ("general", "General"),
        ("grief", "Grief"),
    ]
    assert page.radios("mode") == [("text", "Text chat"), ("video", "Video call")]
    assert page.radios("language") == [("en", "English"), ("es", "Español (Spanish)")]
    assert page.legends() == [
        "What would you like to talk about?",
        "How would you like to talk?",
        "In which language?",
    ]
    [zone] = [i for i in page.inputs if i["tag"] == "select"]
    assert zone["id"] == "tz" and zone["data-device-zone"] == "suggest"
    assert '<option value="Europe/London" selected>' in page.html, "the program's zone by default"
    assert unseal(runtime(school.app), page.hidden("s")) == STUDENT, "carried in the form"
    for control in page.inputs:
        if control.get("type") != "hidden":
            assert page.labels.get(control["id"]), f"{control} has no label"

    headers = page.headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, "no LMS yet"
    assert "unsafe-inline" not in policy and "<script>" not in page.html
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in headers, "it opens inside an LMS iframe"

    script = school.client.get("/lms/booking-static/booking.js")
    assert script.status_code == 200 and "javascript" in script.mimetype
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in script.headers
    assert "resolvedOptions().timeZone" in script.get_data(as_text=True)
    script.close()
    style = school.client.get("/lms/booking-static/booking.css")
    assert style.status_code == 200 and style.mimetype == "text/css"
    style.close()


def test_a_program_with_one_choice_each_has_them_chosen_already(school):
    ctx = system_ctx(school.app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        program.topics, program.languages, program.modes = ["general"], ["en"], ["text"]
        ctx.session.commit()
    page = school.get(s=school.sealed())
    for name, value in (("topic", "general"), ("language", "en"), ("mode", "text")):
        [radio] = [i for i in page.inputs if i.get("name") == name]
        assert radio["value"] == value and "checked" in radio


def test_free_times_come_by_day_in_the_chosen_zone_a_page_at_a_time(school):
    page = school.times()
    assert page.status == 200
    listed = page.radios("slot")
    assert len(listed) == 24
    assert listed[0][1] == "08:00 to 08:45 with Ash", "13:00 in London is 08:00 in New York"
    assert page.legends()[0] == "Wednesday 4 March"
    assert "Free times (America/New York)" in page.text
    assert "Stress · Video call · English" in page.text
    assert page.hidden("tz") == NEW_YORK and page.hidden("s")
    later = school.get(
        path_of(page.link("Later times")), **parse_qs(urlsplit(page.link("Later times")).query)
    )
    assert later.status == 200
    assert later.radios("slot")[0][1] == "14:00 to 14:45 with Ash", "the 25th time onwards"
    assert later.link("Earliest times")

    london = school.times(tz="Europe/London")
    assert london.radios("slot")[0][1] == "13:00 to 13:45 with Ash"
    unknown = school.times(tz="Mars/Olympus")
    assert unknown.radios("slot")[0][1] == "13:00 to 13:45 with Ash", "unknown: the program's"
    friday = school.times(day="2026-03-06")
    assert friday.legends()[0] == "Friday 6 March"
    assert friday.radios("slot")[0][1] == "03:00 to 03:45 with Ash"
    spanish = school.times(language="es")
    assert {label.rpartition(" with ")[2] for _, label in spanish.radios("slot")} == {"Birch"}
    again = school.get(
        path_of(page.link("Change")), **parse_qs(urlsplit(page.link("Change")).query)
    )
    [checked] = [i for i in again.inputs if i.get("name") == "topic" and "checked" in i]
    assert checked["value"] == "stress"


def test_no_free_times_says_so_and_keeps_the_resources(school):
    nothing = school.times(day="2026-06-01")  # past the 28-day horizon
    assert nothing.radios("slot") == []
    assert "There are no free times for these choices in the next 28 days" in nothing.text
    assert "Samaritans" in nothing.text


def test_booking_confirms_with_the_alias_a_calendar_file_and_the_private_link(school):
    page = school.book()
    assert page.status == 200, page.text
    assert "Your peer chat is booked" in page.text
    with system_ctx(school.app).session as session:
        made = session.scalars(select(SupportRequest)).one()
    assert f"You are {made.alias} to your supporter" in page.text
    assert "Wednesday 4 March, 08:00 to 08:45 (America/New York)" in page.text
    assert "Video call" in page.text and "Ash" in page.text
    assert "Keep it private" in page.text and "We show it only now" in page.text
    assert "You gave no e-mail address, so PeerLine cannot remind you" in page.text
    assert "until Wednesday 4 March, 06:00" in page.text, "two hours before, in their zone"
    link = private_link(page)
    assert link.startswith("http://localhost/lms/my/plr_")
    assert "It is not a crisis or emergency service" in page.text
    assert STUDENT.subject not in page.html and "a6f1" not in page.html

    assert (made.channel, made.urgency, made.status, made.topic) == (
        "lms",
        "scheduled",
        "scheduled",
        "stress",
    )
    ctx = system_ctx(school.app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        service = ctx.__class__(
            ctx.session, ctx.principal.__class__("service", program.id), ctx.now, ctx.cipher
        )
        [mine] = identities.requests_of(service, program.id, PLATFORM, STUDENT.subject)
    assert mine.id == made.id, "found again by the keyed hash of the LMS identity"
    booking = school.booking()
    event = parsed_ics(school, page)
    assert str(event["SUMMARY"]) == "Peer chat"
    assert event.decoded("DTSTART") == booking.starts_at and booking.starts_at.hour == 13
    assert str(event["UID"]) == booking.calendar_uid and int(event["SEQUENCE"]) == 0
    assert str(event["STATUS"]) == "CONFIRMED" and "ATTENDEE" not in event
    assert "stress" not in str(event.get("DESCRIPTION", "")).lower()
    assert str(event["DESCRIPTION"]) == "A video call, booked through PeerLine."

    [feed_url] = re.findall(r'value="(http://localhost/feeds/plf_[^"]+\.ics)"', page.html)
    feed = school.client.get(feed_url.removeprefix("http://localhost"))
    assert feed.status_code == 200 and booking.calendar_uid in feed.get_data(as_text=True)
    assert school.book().html.count(feed_url) == 1, "the same address on every booking"


def test_an_email_confirmation_goes_out_through_the_core_with_its_invite(school, tmp_path):
    page = school.book(email=ADDRESS)
    assert page.status == 200 and "We are also e-mailing the confirmation" in page.text
    assert "You gave no e-mail address" not in page.text
    with system_ctx(school.app).session as session:
        identity = session.scalars(select(RequesterIdentity)).one()
        assert identity.platform == PLATFORM and ADDRESS.encode() not in identity.email_ciphertext
    drain(school.app)
    [written] = [p for p in (tmp_path / "mail").glob("*booking_confirmed*.eml")]
    message = email.message_from_bytes(written.read_bytes())
    assert message["To"] == ADDRESS
    [invite] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(invite.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == school.booking().calendar_uid


def test_a_student_without_an_e_mail_address_is_skipped_not_a_dead_letter(school):
    """They chose to leave none: the admins' dead-letter list keeps only real failures."""
    ash = school.world.supporters["Ash"]["id"]
    contacts = {"contacts": [{"platform": "email", "address": "ash@school.test"}]}
    changed = school.client.patch(
        f"/api/v1/supporters/{ash}", json=contacts, headers=auth(school.world.admin)
    )
    assert changed.status_code == 200, changed.json
    assert school.book().status == 200
    drain(school.app)
    with system_ctx(school.app).session as session:
        found = session.execute(select(Delivery.audience, Delivery.kind, Delivery.status)).all()
        told = session.scalars(select(Delivery).where(Delivery.audience == "requester")).all()
    assert ("requester", "booking_confirmed", "skipped") in found
    assert ("supporter", "booking_confirmed", "sent") in found, "the supporter is still told"
    assert "dead" not in {status for _, _, status in found}
    assert {row.last_error for row in told} == {"the requester left no address"}


BAD_CHOICES = [
    ({"topic": "nope"}, "Choose what you would like to talk about", "#topic-0"),
    ({"mode": None}, "Choose how you would like to talk", "#mode-0"),
    ({"language": "xx"}, "Choose a language", "#language-0"),
]


@pytest.mark.parametrize(
    ("changed", "problem", "target"), BAD_CHOICES, ids=["topic", "mode", "language"]
)
def test_choices_not_offered_show_the_form_again_with_a_linked_error_summary(
    school, changed, problem, target
):
    query = {"s": school.sealed(), **CHOICES, "tz": NEW_YORK, **changed}
    page = school.get(**{k: v for k, v in query.items() if v is not None})
    assert page.status == 422
    assert "There is a problem" in page.text and (target, problem) in page.links
    assert 'role="alert"' in page.html and "aria-describedby" in page.html
    posted = school.post(**{k: v for k, v in query.items() if v is not None}, slot="x")
    assert posted.status == 422 and (target, problem) in posted.links
    assert school.count(SupportRequest) == 0


def _slot_of(school: School, alias: str, when: str) -> str:
    supporter = school.world.supporters[alias]["id"]
    return f"{supporter}|{when}"


BAD_BOOKINGS = [
    ({"slot": ""}, 422, "Choose a time"),
    ({"slot": "nonsense"}, 422, "Choose a time"),
    ({"slot": ["a", "b"]}, 422, "Choose a time"),
    ({"slot": f"{uuid.uuid4()}|2026-03-05T13:00:00+00:00"}, 422, "not one of those offered"),
    ({"slot": "ASH|2026-03-05T13:00:00"}, 422, "Choose a time"),
    ({"slot": "BIRCH|2026-03-05T13:00:00+00:00"}, 422, "not one of those offered"),
    ({"email": "not an address"}, 422, "Enter an e-mail address like name@example.edu"),
    ({"email": "x@" + "y" * 400 + ".edu"}, 422, "Enter an e-mail address"),
    ({"slot": "ASH|2026-03-05T13:07:00+00:00"}, 409, TAKEN),
]


@pytest.mark.parametrize(
    ("changed", "status", "problem"),
    BAD_BOOKINGS,
    ids=[
        "no time",
        "not a time",
        "two times",
        "unknown supporter",
        "time without a zone",
        "supporter without that language",
        "bad e-mail",
        "e-mail too long",
        "time between slots",
    ],
)
def test_bad_bookings_get_a_clear_page_and_store_nothing(school, changed, status, problem):
    changed = {
        k: v.replace("ASH", school.world.supporters["Ash"]["id"]).replace(
            "BIRCH", school.world.supporters["Birch"]["id"]
        )
        if isinstance(v, str)
        else v
        for k, v in changed.items()
    }
    body = {
        "s": school.sealed(),
        **CHOICES,
        "tz": NEW_YORK,
        "slot": _slot_of(school, "Ash", "2026-03-05T13:00:00+00:00"),
        **changed,
    }
    page = school.post(**body)
    assert page.status == status, page.text
    assert problem in page.text
    assert "Samaritans" in page.text
    if status == 422:
        assert "There is a problem" in page.text
    if "email" in changed:
        [box] = [i for i in page.inputs if i.get("name") == "email"]
        assert box["aria-invalid"] == "true" and box["value"] == changed["email"], "kept to fix"
    assert school.count(SupportRequest) == 0 and school.count(Booking) == 0


def test_a_body_too_large_is_refused_with_our_page(school):
    page = school.post(s=school.sealed(), note="x" * 300_000)
    assert page.status == 413 and "Request Entity Too Large" in page.text
    assert "It is not a crisis or emergency service" in page.text
    assert school.count(SupportRequest) == 0


@pytest.mark.parametrize(
    "sealed",
    ["", "garbage", "gAAAAAB" + "x" * 100, "EXPIRED", "OTHER_KEYS", "UNKNOWN_PROGRAM", "x" * 5000],
    ids=["empty", "garbage", "forged", "expired", "other keys", "unknown program", "huge"],
)
def test_a_missing_forged_or_expired_session_is_told_to_open_peerline_again(
    school, sealed, tmp_path
):
    if sealed == "OTHER_KEYS":
        other = make_app(
            f"sqlite:///{tmp_path / 'other.sqlite3'}", tmp_path / "other", school.clock
        )
        sealed = seal(runtime(other), STUDENT)
        runtime(other).engine.dispose()
    elif sealed == "UNKNOWN_PROGRAM":
        sealed = school.sealed(Student("elsewhere", STUDENT.subject))
    elif sealed == "EXPIRED":
        sealed = school.sealed()
        school.clock.advance(hours=2, seconds=1)
    for page in (
        school.get(s=sealed) if sealed else school.get(),
        school.get(s=sealed, **CHOICES, tz=NEW_YORK),
        school.post(s=sealed, **CHOICES, slot=_slot_of(school, "Ash", "2026-03-05T13:00:00+00:00")),
    ):
        assert page.status == 401
        assert "Your session has ended" in page.text
        assert "Open PeerLine again from your course" in page.text
        assert "It is not a crisis or emergency service" in page.text, "never a dead end"
        assert "Find a Helpline" in page.text
        assert "X-Frame-Options" not in page.headers
    assert school.count(SupportRequest) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
    ids=[
        "fetch metadata cross-site",
        "fetch metadata same-site",
        "foreign origin",
        "opaque origin",
    ],
)
def test_forms_sent_from_another_site_are_refused(school, headers):
    booked = school.book()
    listed = school.times()
    body = {"s": school.sealed(), **CHOICES, "tz": NEW_YORK, "slot": listed.radios("slot")[0][0]}
    page = school.post(headers=headers, **body)
    assert page.status == 403 and "This form came from another site" in page.text
    link = path_of(private_link(booked))
    assert school.post(f"{link}/cancel", headers=headers).status == 403
    assert school.post(f"{link}/move", headers=headers, slot=body["slot"]).status == 403
    assert school.count(SupportRequest) == 1 and school.booking().status == "confirmed"


def test_same_origin_forms_are_welcome(school):
    page = school.book(headers=None)
    assert page.status == 200
    listed = school.times(OTHER)
    body = {
        "s": school.sealed(OTHER),
        **CHOICES,
        "tz": NEW_YORK,
        "slot": listed.radios("slot")[0][0],
    }
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    assert school.post(headers=same, **body).status == 200
    assert school.count(Booking) == 2


def test_a_time_taken_meanwhile_shows_fresh_times_and_stores_nothing(school):
    mine = school.times()
    chosen = mine.radios("slot")[0][0]
    assert school.book(OTHER, slot=chosen).status == 200
    page = school.post(s=school.sealed(), **CHOICES, tz=NEW_YORK, slot=chosen)
    assert page.status == 409
    assert TAKEN in page.text
    assert 'aria-live="assertive"' in page.html and 'role="alert"' in page.html
    assert chosen not in [value for value, _ in page.radios("slot")], "the list is fresh"
    assert page.radios("slot")[0][1] == "09:00 to 09:45 with Ash", "after theirs and its buffer"
    assert school.count(SupportRequest) == 1 and school.count(Booking) == 1


def test_sending_the_same_booking_again_books_nothing_more(school):
    listed = school.times()
    body = {"s": school.sealed(), **CHOICES, "tz": NEW_YORK, "slot": listed.radios("slot")[0][0]}
    assert school.post(**body).status == 200
    again = school.post(**body)
    assert again.status == 409 and "You have already booked this time" in again.text
    assert school.count(SupportRequest) == 1 and school.count(Booking) == 1


def test_a_time_that_passed_while_the_page_was_open_is_refused(school):
    school.world.client.patch(
        "/api/v1/programs/acme",
        json={"policy": {"min_notice_minutes": 0}},
        headers=auth(school.world.admin),
    )
    listed = school.times()
    assert listed.radios("slot")[0][1] == "04:00 to 04:45 with Ash"
    sealed = school.sealed()
    school.clock.advance(minutes=20)
    page = school.post(s=sealed, **CHOICES, tz=NEW_YORK, slot=listed.radios("slot")[0][0])
    assert page.status == 409 and "That time has passed — choose another." in page.text
    assert school.count(SupportRequest) == 0


# -- the private link ----------------------------------------------------------------------------


def test_the_private_link_shows_the_booking_and_cancels_it(school):
    link = path_of(private_link(school.book()))
    page = school.get(link)
    assert page.status == 200 and "Your peer chat" in page.text
    assert "Wednesday 4 March, 13:00 to 13:45 (Europe/London)" in page.text, "the program's zone"
    assert 'data-device-zone="follow"' in page.html, "the browser's zone follows with JavaScript"
    assert school.get(link, tz=NEW_YORK).text.count("08:00 to 08:45 (America/New York)") == 1
    assert "You can move or cancel this booking until Wednesday 4 March, 11:00" in page.text
    assert (
        STUDENT.subject not in page.html and "It is not a crisis or emergency service" in page.text
    )
    assert (
        page.headers["Referrer-Policy"] == "no-referrer" and "X-Frame-Options" not in page.headers
    )

    done = school.post(f"{link}/cancel", tz=NEW_YORK)
    assert (
        done.status == 200
        and "Your booking is cancelled. Your supporter will be told." in done.text
    )
    assert "Cancelled" in done.text and "Cancel my booking" not in done.text
    booking = school.booking()
    assert booking.status == "cancelled" and booking.sequence == 1
    with system_ctx(school.app).session as session:
        assert session.scalars(select(SupportRequest)).one().outcome == "cancelled"
        told = session.scalars(select(Delivery).where(Delivery.kind == "booking_cancelled")).all()
    assert {d.audience for d in told} >= {"supporter"}
    event = parsed_ics(school, school.get(link), "Update your calendar")
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1

    again = school.post(f"{link}/cancel")
    assert again.status == 409 and "already cancelled or is over" in again.text


def test_the_private_link_moves_the_booking_and_a_taken_time_shows_fresh_times(school):
    link = path_of(private_link(school.book()))
    first = school.booking()
    page = school.get(link, tz=NEW_YORK, move="1")
    offered = page.radios("slot")
    assert offered and "08:00 to 08:45 with Ash" not in [label for _, label in offered]
    assert offered[0][1] == "08:15 to 09:00 with Ash", "its own time is freed for the move"

    taken = offered[4][0]
    assert school.book(OTHER, slot=taken).status == 200
    clash = school.post(f"{link}/move", tz=NEW_YORK, slot=taken)
    assert clash.status == 409 and TAKEN in clash.text and 'role="alert"' in clash.html
    assert taken not in [value for value, _ in clash.radios("slot")]
    with system_ctx(school.app).session as session:
        unchanged = session.get(Booking, first.id)
    assert unchanged.starts_at == first.starts_at and unchanged.sequence == 0

    moved = school.post(f"{link}/move", tz=NEW_YORK, slot=offered[8][0])
    assert moved.status == 200 and "Your booking has moved" in moved.text
    assert "Wednesday 4 March, 10:15 to 11:00 (America/New York)" in moved.text
    with system_ctx(school.app).session as session:
        now_booked = session.get(Booking, first.id)
    assert now_booked.sequence == 1 and now_booked.calendar_uid == first.calendar_uid
    event = parsed_ics(school, moved)
    assert int(event["SEQUENCE"]) == 1 and event.decoded("DTSTART").hour == 15


@pytest.mark.parametrize(
    ("slot", "status", "problem"),
    [
        ("", 422, "Choose a new time"),
        ("nonsense", 422, "Choose a new time"),
        ("BIRCH|2026-03-05T13:00:00+00:00", 422, "not one of those offered"),
        ("ASH|2026-03-04T13:00:00+00:00", 422, "the time you already have"),
        ("ASH|2026-03-05T13:07:00+00:00", 409, TAKEN),
        ("ASH|2026-03-04T08:00:00+00:00", 409, "That time has passed"),
    ],
    ids=[
        "no time",
        "not a time",
        "supporter without that language",
        "same time",
        "between slots",
        "past",
    ],
)
def test_bad_moves_get_a_clear_page_and_change_nothing(school, slot, status, problem):
    link = path_of(private_link(school.book()))
    slot = slot.replace("ASH", school.world.supporters["Ash"]["id"]).replace(
        "BIRCH", school.world.supporters["Birch"]["id"]
    )
    page = school.post(f"{link}/move", tz=NEW_YORK, slot=slot)
    assert page.status == status and problem in page.text, page.text
    booking = school.booking()
    assert booking.sequence == 0 and booking.status == "confirmed"


def test_changes_close_at_the_programs_cutoff_for_the_student_only(school):
    school.world.client.patch(
        "/api/v1/programs/acme",
        json={"policy": {"notify_email": "peer-team@northfield.test"}},
        headers=auth(school.world.admin),
    )
    link = path_of(private_link(school.book()))  # 13:00 London; changes close at 11:00
    listed = school.get(link, move="1", tz=NEW_YORK).radios("slot")
    school.clock.advance(hours=2)  # 11:00: closed
    rule = (
        "Changes close 2 hours before the session; contact the program's coordinators "
        "(peer-team@northfield.test) if you cannot come."
    )
    page = school.get(link)
    assert page.status == 200 and rule in page.text
    assert "Cancel my booking" not in page.text and "Choose another time" not in page.text
    assert "Add to calendar" in page.text
    refused = school.post(f"{link}/cancel")
    assert refused.status == 409 and rule in refused.text and 'role="alert"' in refused.html
    moved = school.post(f"{link}/move", slot=listed[10][0])
    assert moved.status == 409 and rule in moved.text
    booking = school.booking()
    assert booking.status == "confirmed" and booking.sequence == 0

    supporter = school.world.supporter_token("Ash")
    by_supporter = school.client.post(
        f"/api/v1/bookings/{booking.id}/cancel", json={}, headers=auth(supporter)
    )
    assert by_supporter.status_code == 200, "the supporter is not limited"


def test_an_unknown_private_link_is_a_clear_404(school):
    for path in ("/lms/my/plr_nothing-here", "/lms/my/anything", "/lms/my/" + "plr_" + "x" * 300):
        page = school.get(path)
        assert page.status == 404 and "This link does not work" in page.text
        assert "It is not a crisis or emergency service" in page.text
        assert school.get(f"{path}/peer-chat.ics").status == 404
        assert school.post(f"{path}/cancel").status == 404
        assert school.post(f"{path}/move", slot="x").status == 404


def test_nothing_identifying_is_logged(school, caplog):
    caplog.set_level(logging.DEBUG)
    page = school.book(email=ADDRESS)
    link = private_link(page)
    token = path_of(link).rpartition("/")[2]
    school.get(path_of(link))
    school.post(f"{path_of(link)}/cancel")
    school.get(s="forged")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (STUDENT.subject, "a6f1-opaque", ADDRESS, token, school.sealed()[:40]):
        assert secret not in logged


def test_our_own_failure_is_a_page_with_the_crisis_resources(school, monkeypatch, caplog):
    from lms.web import booking

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(booking, "free_times", broken)
    with caplog.at_level(logging.ERROR):
        page = school.times()
    assert page.status == 500 and "Nothing was booked or changed" in page.text
    assert "It is not a crisis or emergency service" in page.text
    assert school.sealed()[:40] not in "\n".join(r.getMessage() for r in caplog.records)


def test_the_lms_plugin_wires_the_page(database_url, tmp_path, clock):
    from lms.plugin import init_app

    app = make_app(database_url, tmp_path, clock, plugins=[("lms", init_app)])
    client = app.test_client()
    make_world(app, client, kind="school")
    response = client.get("/lms/book", query_string={"s": seal(runtime(app), STUDENT)})
    assert response.status_code == 200 and "Book a peer chat" in response.get_data(as_text=True)
    assert "X-Frame-Options" not in response.headers
    assert client.get("/lms/book").status_code == 401
    assert client.get("/api/v1/openapi.json").headers["X-Frame-Options"] == "DENY", (
        "the rest keeps it"
    )
    runtime(app).engine.dispose()
