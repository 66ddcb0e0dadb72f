"""The booking page a launch opens: choose, see free times in one's own zone, book as an alias."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request, url_for
from pydantic import TypeAdapter, ValidationError

from core.errors import NotFound, PeerLineError, SlotUnavailable
from core.runtime import runtime
from core.schemas.common import EmailAddress, Locale
from core.schemas.programs import IntakeOut
from core.schemas.requests import RequestIn
from core.services import bookings, identities, programs, requests
from core.services.access import SYSTEM, Ctx, Principal
from lms.feeds import student_feed_url
from lms.student import PLATFORM, Student, unseal
from lms.web import links
from lms.web.pages import (
    NOT_LISTED,
    PASSED,
    TAKEN,
    Problem,
    language_options,
    mode_label,
    mode_options,
    page,
    session_ended,
    topic_options,
)
from lms.web.security import is_cross_site
from lms.web.times import (
    Choice,
    free_times,
    moment,
    offers,
    parse_slot,
    start_of,
    when,
    zone_named,
    zone_options,
)

MAX_SEALED = 4096
ALREADY_BOOKED = (
    "You have already booked this time. Use the private link from your confirmation to see, "
    "move or cancel it."
)
MISSING = {
    "topic": "Choose what you would like to talk about",
    "mode": "Choose how you would like to talk",
    "language": "Choose a language",
}
BAD_EMAIL = "Enter an e-mail address like name@example.edu, or leave it empty"


def cross_site() -> Problem:
    """A form sent from another site; a fresh exception each time it is raised."""
    return Problem(
        403,
        "This form came from another site",
        "Nothing was booked. Open PeerLine again from your course and book there.",
    )


@dataclass(frozen=True)
class Visit:
    """A launched student's request: who, the sealed session to carry, and a unit of work."""

    student: Student
    sealed: str
    ctx: Ctx  # the program's integration (service principal)
    program: Any
    intake: IntakeOut


@contextmanager
def launched(sealed: str | None) -> Iterator[Visit]:
    """The student the sealed session vouches for; anything else is a 401 page, nothing stored."""
    current = runtime()
    student = unseal(current, sealed) if sealed and len(sealed) <= MAX_SEALED else None
    if student is None or sealed is None:
        raise session_ended()
    with current.session_factory() as session:
        now = current.clock.now()
        try:
            program = programs.get_program(Ctx(session, SYSTEM, now), student.program)
        except NotFound:
            raise session_ended() from None
        ctx = Ctx(session, Principal(role="service", program_id=program.id), now, current.cipher)
        intake = programs.intake(ctx, program.slug, _locale(student.locale))
        yield Visit(student, sealed, ctx, program, intake)


def show() -> Response:
    """GET: the choices, or (once chosen) the free times."""
    args = request.args
    with launched(args.get("s")) as visit:
        zone = zone_named(args.get("tz"), visit.intake.time_zone)
        choice, problems = _choice(visit.intake, args)
        asked = any(field in args for field in MISSING)
        if not asked or args.get("step") == "choose":
            return _choose(visit, args, zone)
        if choice is None:
            return _choose(visit, args, zone, problems=problems, status=422)
        start = start_of(args.get("after"), args.get("day"), zone, visit.ctx.now)
        return times_page(visit, choice, zone, start)


def book() -> Response:
    """POST: book the chosen time as the launched student, then confirm it (shown once)."""
    if is_cross_site():
        raise cross_site()
    form = request.form
    with launched(form.get("s")) as visit:
        zone = zone_named(form.get("tz"), visit.intake.time_zone)
        choice, problems = _choice(visit.intake, form)
        if choice is None:
            return _choose(visit, form, zone, problems=problems, status=422)
        email = str(form.get("email") or "").strip()
        chosen = parse_slot(form.get("slot"))
        problems = ([] if chosen else [("slot-0", "Choose a time")]) + _email_problem(email)
        if chosen is None or problems:
            return times_page(visit, choice, zone, visit.ctx.now, problems=problems, email=email)
        supporter_id, starts_at = chosen
        now = visit.ctx.now
        if starts_at <= now:
            return times_page(visit, choice, zone, now, taken=PASSED, email=email, status=409)
        if not offers(visit.ctx, visit.program, choice, supporter_id):
            problems = [("slot-0", NOT_LISTED)]
            return times_page(visit, choice, zone, visit.ctx.now, problems=problems, email=email)
        if _already_booked(visit, supporter_id, starts_at):
            return times_page(visit, choice, zone, now, taken=ALREADY_BOOKED, status=409)
        data = _request(visit, choice, supporter_id, starts_at, email)
        try:
            made, token = requests.create(visit.ctx, data)
        except SlotUnavailable:
            visit.ctx.session.rollback()  # nothing stored; the fresh times come from a clean slate
            return times_page(visit, choice, zone, now, taken=TAKEN, email=email, status=409)
        except PeerLineError as error:
            visit.ctx.session.rollback()
            problems = [("slot-0", error.message)]
            return times_page(
                visit, choice, zone, visit.ctx.now, problems=problems, email=email, status=422
            )
        shown = requests.view(visit.ctx, made, visit.intake.locale)
        return _booked(visit, shown, token, zone, email)


def times_page(
    visit: Visit,
    choice: Choice,
    zone: ZoneInfo,
    start: datetime,
    *,
    taken: str | None = None,
    problems: list[tuple[str, str]] | None = None,
    email: str = "",
    status: int | None = None,
) -> Response:
    """The free times for the choices, by day in the zone; a problem or a taken time on top."""
    locale = visit.student.locale
    found = free_times(visit.ctx, visit.program, choice, zone, locale, start)
    carried = {"s": visit.sealed, "tz": str(zone), **vars(choice)}
    later = url_for(".book_page", **carried, after=found.later) if found.later else None
    first = url_for(".book_page", **carried) if start > visit.ctx.now else None
    return page(
        "booking_times.html",
        status or (422 if problems else 200),
        intake=visit.intake,
        title="Choose a time",
        sealed=visit.sealed,
        choice=choice,
        summary=_summary(visit.intake, choice),
        change_url=url_for(".book_page", **carried, step="choose"),
        zone=str(zone),
        zones=zone_options(str(zone)),
        today=visit.ctx.now.astimezone(zone).date().isoformat(),
        days=found.days,
        later_url=later,
        first_url=first,
        horizon_days=visit.program.horizon_days,
        taken=taken,
        problems=problems or [],
        email=email,
    )


def _choose(
    visit: Visit,
    values: Mapping[str, Any],
    zone: ZoneInfo,
    *,
    problems: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    intake = visit.intake
    only = {
        "topic": intake.topics[0] if len(intake.topics) == 1 else None,
        "mode": intake.modes[0] if len(intake.modes) == 1 else None,
        "language": intake.languages[0] if len(intake.languages) == 1 else None,
    }
    checked = {k: str(values.get(k) or only[k] or "") for k in MISSING}
    return page(
        "booking_choose.html",
        status,
        intake=intake,
        title="Book a peer chat",
        sealed=visit.sealed,
        topics=topic_options(intake.topics),
        modes=mode_options(intake.modes),
        languages=language_options(intake.languages),
        checked=checked,
        zone=str(zone),
        zones=zone_options(str(zone)),
        suggest_zone="tz" not in values,
        session_minutes=intake.session_minutes,
        problems=problems or [],
    )


def _choice(
    intake: IntakeOut, values: Mapping[str, Any]
) -> tuple[Choice | None, list[tuple[str, str]]]:
    """The three answers, each one the program offers; else what to fix, field by field."""
    offered = {"topic": intake.topics, "mode": intake.modes, "language": intake.languages}
    answers: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for field, message in MISSING.items():
        value = str(values.get(field) or "")
        if value in offered[field]:
            answers[field] = value
        else:
            problems.append((f"{field}-0", message))
    return (Choice(**answers), []) if not problems else (None, problems)


def _email_problem(email: str) -> list[tuple[str, str]]:
    if not email:
        return []
    try:
        TypeAdapter(EmailAddress).validate_python(email)
    except ValidationError:
        return [("email", BAD_EMAIL)]
    return []


def _locale(value: str | None) -> str | None:
    """The LMS's locale when it is one the core reads (it picks the crisis resources)."""
    try:
        return TypeAdapter(Locale).validate_python(value) if value else None
    except ValidationError:
        return None


def _request(
    visit: Visit, choice: Choice, supporter_id: Any, starts_at: datetime, email: str
) -> RequestIn:
    body = {
        "program": visit.program.slug,
        "urgency": "scheduled",
        "channel": "lms",
        **vars(choice),
        "locale": _locale(visit.student.locale),
        "slot": {"supporter_id": str(supporter_id), "starts_at": starts_at.isoformat()},
        "requester": {"platform": PLATFORM, "subject": visit.student.subject},
        "email": email or None,
    }
    return RequestIn.model_validate_json(json.dumps(body))


def _already_booked(visit: Visit, supporter_id: Any, starts_at: datetime) -> bool:
    """The same student sending the same time again (a reload of the confirmation)."""
    program_id = visit.program.id
    for made in identities.requests_of(visit.ctx, program_id, PLATFORM, visit.student.subject):
        brief = requests.booking_brief(visit.ctx, made) if made.status == "scheduled" else None
        if brief and brief.supporter.id == supporter_id and brief.starts_at == starts_at:
            return True
    return False


def _summary(intake: IntakeOut, choice: Choice) -> str:
    language = next(o for o in language_options(intake.languages) if o.value == choice.language)
    spoken = f"{language.native} {language.label}" if language.native else language.label
    topic = next(o for o in topic_options(intake.topics) if o.value == choice.topic)
    return f"{topic.label} · {mode_label(choice.mode)} · {spoken}"


def _booked(visit: Visit, shown: Any, token: str, zone: ZoneInfo, email: str) -> Response:
    booking = shown.booking
    closes = bookings.changes_close_at(visit.program, booking.starts_at)
    shown_on_page: dict[str, Any] = dict(
        intake=visit.intake,
        title="Your peer chat is booked",
        alias=shown.alias,
        when=when(booking.starts_at, booking.ends_at, zone, visit.student.locale),
        zone=str(zone),
        mode=mode_label(booking.mode),
        supporter=booking.supporter.alias,
        ics_url=url_for(".calendar_file", token=token, tz=str(zone)),
        private_url=links.private_link(token),
        closes=moment(closes, zone, visit.student.locale),
        emailed=bool(email),
        sealed=visit.sealed,
        again_url=url_for(".book_page", s=visit.sealed, tz=str(zone)),
    )
    program_id, subject = visit.program.id, visit.student.subject
    visit.ctx.session.commit()  # read what the page shows, then let go (SQLite locks on read)
    feed_url = student_feed_url(runtime(), program_id, subject)
    return page("booking_booked.html", **shown_on_page, feed_url=feed_url)
