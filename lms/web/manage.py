"""The private link's page: see the booking, add it to a calendar, move or cancel it (as the
requester, so the core's cut-off applies)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request, url_for

from core.errors import ChangeClosed, Conflict, SlotUnavailable, ValidationFailed
from core.notify.wording import mode_name
from core.ports import CalendarEvent
from core.runtime import runtime
from core.schemas.programs import IntakeOut
from core.schemas.requests import RequestView, RescheduleIn
from core.services import bookings, programs, requests, tokens
from core.services.access import ANONYMOUS, Ctx, Principal
from lms.calendar import IcsCalendarWriter
from lms.web.pages import NOT_LISTED, PASSED, TAKEN, Problem, mode_label, page, sentence
from lms.web.security import is_cross_site
from lms.web.times import (
    Choice,
    TimesPage,
    free_times,
    moment,
    offers,
    parse_slot,
    start_of,
    when,
    zone_named,
    zone_options,
)

CANCELLED = "Your booking is cancelled. Your supporter will be told."
ALREADY_CLOSED = "This booking was already cancelled or is over, so nothing was changed."
MOVED = "Your booking has moved. Your supporter will be told."


def unknown_link() -> Problem:
    """A private link that matches no request."""
    return Problem(
        404,
        "This link does not work",
        "Check that you copied the whole private link from your confirmation. If you no longer "
        "have it, open PeerLine again from your course.",
    )


def cross_site() -> Problem:
    """A form sent from another site; a fresh exception each time it is raised."""
    return Problem(
        403,
        "This form came from another site",
        "Nothing was changed. Open your private link again and make the change there.",
    )


@dataclass(frozen=True)
class Holder:
    """Whoever opened a private link: the request's requester, nothing more."""

    token: str
    ctx: Ctx  # the requester principal of that one request
    service: Ctx  # the program's integration, to read the program and free times
    program: Any
    intake: IntakeOut

    @property
    def request_id(self) -> Any:
        return self.ctx.principal.request_id

    def view(self) -> RequestView:
        return requests.view(self.ctx, requests.get_request(self.ctx, self.request_id))


@contextmanager
def held(token: str) -> Iterator[Holder]:
    """The request behind a private link; an unknown link is a 404 page."""
    current = runtime()
    with current.session_factory() as session:
        now = current.clock.now()
        principal = tokens.requester(Ctx(session, ANONYMOUS, now), token)
        if principal is None:
            raise unknown_link()
        service = Ctx(session, Principal(role="service", program_id=principal.program_id), now)
        [program] = programs.list_programs(service)
        intake = programs.intake(service, program.slug)
        yield Holder(token, Ctx(session, principal, now, current.cipher), service, program, intake)


def show(token: str) -> Response:
    with held(token) as holder:
        zone = zone_named(request.args.get("tz"), holder.intake.time_zone)
        start = start_of(request.args.get("after"), None, zone, holder.ctx.now)
        return manage_page(
            holder,
            zone,
            follow_device="tz" not in request.args,
            move=request.args.get("move") == "1",
            start=start,
        )


def cancel(token: str) -> Response:
    if is_cross_site():
        raise cross_site()
    with held(token) as holder:
        zone = zone_named(request.form.get("tz"), holder.intake.time_zone)
        try:
            requests.cancel(holder.ctx, holder.request_id)
        except ChangeClosed as error:
            holder.ctx.session.rollback()
            return manage_page(holder, zone, alert=sentence(error.message), status=409)
        except Conflict:
            holder.ctx.session.rollback()
            return manage_page(holder, zone, alert=ALREADY_CLOSED, status=409)
        return manage_page(holder, zone, news=CANCELLED)


def reschedule(token: str) -> Response:
    if is_cross_site():
        raise cross_site()
    with held(token) as holder:
        zone = zone_named(request.form.get("tz"), holder.intake.time_zone)
        shown = holder.view()
        booking = shown.booking
        if booking is None or booking.status != "confirmed":
            return manage_page(holder, zone, alert=ALREADY_CLOSED, status=409)
        chosen = parse_slot(request.form.get("slot"))
        if chosen is None:
            problems = [("slot-0", "Choose a new time")]
            return manage_page(holder, zone, move=True, problems=problems, status=422)
        supporter_id, starts_at = chosen
        if starts_at <= holder.ctx.now:
            return manage_page(holder, zone, move=True, alert=PASSED, status=409)
        choice = Choice(shown.topic, shown.mode, shown.language)
        if not offers(holder.service, holder.program, choice, supporter_id):
            problems = [("slot-0", NOT_LISTED)]
            return manage_page(holder, zone, move=True, problems=problems, status=422)
        moved = RescheduleIn(starts_at=starts_at, supporter_id=supporter_id)
        try:
            bookings.reschedule(holder.ctx, booking.id, moved)
        except ChangeClosed as error:
            holder.ctx.session.rollback()
            return manage_page(holder, zone, alert=sentence(error.message), status=409)
        except SlotUnavailable:
            holder.ctx.session.rollback()
            return manage_page(holder, zone, move=True, alert=TAKEN, status=409)
        except ValidationFailed:  # the time it already has
            holder.ctx.session.rollback()
            problems = [("slot-0", "That is the time you already have — choose another")]
            return manage_page(holder, zone, move=True, problems=problems, status=422)
        except Conflict:
            holder.ctx.session.rollback()
            return manage_page(holder, zone, alert=ALREADY_CLOSED, status=409)
        return manage_page(holder, zone, news=MOVED)


def calendar_file(token: str) -> Response:
    """The booking as a file to open in any calendar (PUBLISH: no addresses, updated by UID)."""
    with held(token) as holder:
        booking = holder.view().booking
        if booking is None:
            raise Problem(404, "Nothing to add yet", "This request has no booked time.")
        event = CalendarEvent(
            uid=booking.calendar_uid,
            sequence=booking.sequence,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            stamp=holder.ctx.now,
            description=f"A {mode_name(booking.mode)}, booked through PeerLine.",
            cancelled=booking.status == "cancelled",
        )
    body = IcsCalendarWriter().invite(event, "PUBLISH")
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="peer-chat.ics"'},
    )


def manage_page(
    holder: Holder,
    zone: ZoneInfo,
    *,
    news: str | None = None,
    alert: str | None = None,
    problems: list[tuple[str, str]] | None = None,
    move: bool = False,
    follow_device: bool = False,
    start: datetime | None = None,
    status: int = 200,
) -> Response:
    """What the link holder sees now, after any change above has been committed."""
    shown = holder.view()
    booking, now, locale = shown.booking, holder.ctx.now, holder.intake.locale
    upcoming = booking is not None and booking.status == "confirmed" and booking.ends_at > now
    closes = bookings.changes_close_at(holder.program, booking.starts_at) if booking else None
    can_change = upcoming and closes is not None and now < closes
    times = _move_times(holder, shown, zone, start or now) if can_change and move else None
    links: dict[str, Any] = {"token": holder.token, "tz": str(zone)}
    return page(
        "booking_manage.html",
        status,
        intake=holder.intake,
        title="Your peer chat",
        token=holder.token,
        state="upcoming" if upcoming else _past_state(shown),
        alias=shown.alias,
        when=when(booking.starts_at, booking.ends_at, zone, locale) if booking else None,
        mode=mode_label(shown.mode),
        supporter=booking.supporter.alias if booking else None,
        zone=str(zone),
        zones=zone_options(str(zone)),
        follow_device=follow_device,
        can_change=can_change,
        closes=moment(closes, zone, locale) if closes else None,
        rule=sentence(bookings.change_rule(holder.program)),
        ics_url=url_for(".calendar_file", token=holder.token) if booking else None,
        move_url=url_for(".manage_page", **links, move="1"),
        here_url=url_for(".manage_page", **links),
        days=times.days if times else None,
        later_url=url_for(".manage_page", **links, move="1", after=times.later)
        if times and times.later
        else None,
        news=news,
        alert=alert,
        problems=problems or [],
    )


def _move_times(holder: Holder, shown: RequestView, zone: ZoneInfo, start: datetime) -> TimesPage:
    """Free times for the same topic, mode and language; the booking's own time freed."""
    booking = shown.booking
    assert booking is not None
    choice = Choice(shown.topic, shown.mode, shown.language)
    moving = (booking.id, booking.supporter.id, booking.starts_at)
    locale = holder.intake.locale
    return free_times(holder.service, holder.program, choice, zone, locale, start, moving=moving)


def _past_state(shown: RequestView) -> str:
    if shown.outcome in ("cancelled", "withdrawn", "expired"):
        return "cancelled"
    if shown.booking is not None and shown.booking.status == "cancelled":
        return "cancelled"
    return "over" if shown.booking is not None or shown.status == "closed" else "waiting"
