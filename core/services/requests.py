"""Anonymous support requests: intake, the requester's view, cancel, close and feedback."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from core import events
from core.crypto import REQUESTER_TOKEN_PREFIX, new_secret_token, token_digest
from core.domain.aliases import new_alias
from core.domain.crisis import contains_crisis_language
from core.errors import Conflict, Forbidden, NotFound, PeerLineError, ValidationFailed
from core.models import Booking, Feedback, Program, Supporter, SupportRequest
from core.schemas.programs import NOT_A_CRISIS_SERVICE
from core.schemas.requests import (
    AssignedRequest,
    BookingBrief,
    Crisis,
    FeedbackIn,
    NextSlot,
    RequestIn,
    RequestView,
)
from core.schemas.supporters import SupporterPublic
from core.services import audit, identities, matching, slots
from core.services.access import Ctx, require
from core.services.programs import crisis_resources_for, get_program

log = logging.getLogger(__name__)
LIVE = ("matched", "in_chat", "scheduled")
NEXT_SLOT_SEARCH = timedelta(days=7)


def create(ctx: Ctx, data: RequestIn) -> tuple[SupportRequest, str]:
    """Take a request; a talk-now one is offered at once, a chosen slot is booked at once."""
    program = get_program(ctx, data.program)
    crisis = contains_crisis_language(
        data.note, data.locale or program.locale, _extra_phrases(program)
    )
    if crisis:
        log.info("crisis resources shown (program %s)", program.slug)
    try:
        return _create(ctx, program, data, crisis)
    except PeerLineError as error:
        if crisis:  # never a dead end: a refused request still gets the resources
            resources = crisis_resources_for(program, data.locale)
            error.details["crisis"] = Crisis(detected=True, resources=resources).model_dump(
                mode="json"
            )
        raise


def _create(
    ctx: Ctx, program: Program, data: RequestIn, crisis: bool
) -> tuple[SupportRequest, str]:
    if ctx.principal.role not in ("anonymous", "service", "system"):
        raise Forbidden(f"the {ctx.principal.role} role may not ask for a chat with this token")
    if data.requester is not None and ctx.principal.role not in ("service", "system"):
        raise Forbidden(
            "only an integration's service token may pass a requester identity", field="requester"
        )
    _check_offered(program, data)
    token = new_secret_token(REQUESTER_TOKEN_PREFIX)
    request = SupportRequest(
        id=uuid.uuid4(),
        program_id=program.id,
        alias=new_alias(_aliases_in_use(ctx, program)),
        topic=data.topic,
        urgency=data.urgency,
        mode=data.mode,
        language=data.language,
        note=data.note or None,
        is_urgent=crisis,
        crisis_signposted=crisis,
        status="open",
        token_hash=token_digest(token),
        channel=data.channel,
        created_at=ctx.now,
        excluded_supporter_ids=[str(x) for x in data.avoid_supporters],
    )
    ctx.session.add(request)
    ctx.session.flush()  # the identity row refers to it
    if data.requester is not None:
        identities.store(
            ctx, request, data.requester.platform, data.requester.subject, email=data.email
        )
    elif data.email is not None:  # someone without a platform account, e.g. a student
        identities.store(ctx, request, "email", data.email)
    events.record(
        ctx.session,
        events.RequestCreated(
            program_id=program.id,
            at=ctx.now,
            request_id=request.id,
            urgency=request.urgency,
            is_urgent=request.is_urgent,
        ),
    )
    ctx.session.flush()
    _arrange(ctx, program, request, data)
    ctx.session.commit()
    return request, token


def _arrange(ctx: Ctx, program: Program, request: SupportRequest, data: RequestIn) -> None:
    if data.urgency == "now":
        if not matching.offer_next(ctx, program, request):
            matching.nobody_free(ctx, request)
    elif data.slot is not None:
        from core.services import bookings  # bookings import this module; import late

        bookings.book_for(ctx, program, request, data.slot.supporter_id, data.slot.starts_at)


def _check_offered(program: Program, data: RequestIn) -> None:
    for field, value, offered in (
        ("topic", data.topic, program.topics),
        ("language", data.language, program.languages),
        ("mode", data.mode, program.modes),
    ):
        if value not in offered:
            raise ValidationFailed(
                f"{field}: {value!r} is not offered (choose from {', '.join(offered)})", field=field
            )
    if data.urgency == "now" and data.slot is not None:
        raise ValidationFailed("slot: only for urgency 'scheduled'", field="slot")


def _extra_phrases(program: Program) -> list[str]:
    """All the program's own phrases: people mix languages, and a false alarm only shows help."""
    return [p for phrases in program.crisis_phrases.values() for p in phrases]


def _aliases_in_use(ctx: Ctx, program: Program) -> set[str]:
    return set(
        ctx.session.scalars(
            select(SupportRequest.alias).where(
                SupportRequest.program_id == program.id, SupportRequest.status != "closed"
            )
        )
    )


def get_request(ctx: Ctx, request_id: uuid.UUID) -> SupportRequest:
    """The requester's own request, or any in the program for its integrations."""
    request = ctx.session.get(SupportRequest, request_id)
    if request is None:
        raise NotFound("no such request", field="request_id")
    principal = ctx.principal
    if principal.role == "requester":
        if principal.request_id != request.id:
            raise NotFound("no such request", field="request_id")
        return request
    if (
        principal.role == "supporter"
        and request.supporter_id == principal.supporter_id
        and principal.supporter_id is not None
    ):
        require(principal, request.program_id, "supporter")
        return request
    require(principal, request.program_id, "service")
    return request


def view(ctx: Ctx, request: SupportRequest, locale: str | None = None) -> RequestView:
    program = ctx.session.get_one(Program, request.program_id)
    supporter = ctx.session.get(Supporter, request.supporter_id) if request.supporter_id else None
    return RequestView(
        id=request.id,
        alias=request.alias,
        status=request.status,
        outcome=request.outcome,
        urgency=request.urgency,
        is_urgent=request.is_urgent,
        topic=request.topic,
        mode=request.mode,
        language=request.language,
        created_at=request.created_at,
        supporter=SupporterPublic.model_validate(supporter) if supporter else None,
        booking=booking_brief(ctx, request),
        feedback_given=request.feedback_given,
        waiting=_waiting(ctx, request),
        next_slot=_next_slot(ctx, program, request),
        notice=NOT_A_CRISIS_SERVICE,
        crisis=Crisis(
            detected=request.crisis_signposted, resources=crisis_resources_for(program, locale)
        ),
    )


def assigned_view(ctx: Ctx, request: SupportRequest) -> AssignedRequest:
    if ctx.principal.role == "requester":
        raise Forbidden("use the requester view")
    return AssignedRequest(
        id=request.id,
        alias=request.alias,
        status=request.status,
        urgency=request.urgency,
        is_urgent=request.is_urgent,
        topic=request.topic,
        mode=request.mode,
        language=request.language,
        note=request.note if request.status != "closed" else None,
        booking=booking_brief(ctx, request),
    )


def booking_brief(ctx: Ctx, request: SupportRequest) -> BookingBrief | None:
    booking = ctx.session.scalar(
        select(Booking)
        .where(Booking.request_id == request.id)
        .order_by(Booking.created_at.desc())
        .limit(1)
    )
    return None if booking is None else brief_of(ctx, booking)


def brief_of(ctx: Ctx, booking: Booking) -> BookingBrief:
    supporter = ctx.session.get_one(Supporter, booking.supporter_id)
    return BookingBrief(
        id=booking.id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        mode=booking.mode,
        status=booking.status,
        supporter=SupporterPublic.model_validate(supporter),
        calendar_uid=booking.calendar_uid,
        sequence=booking.sequence,
    )


def _next_slot(ctx: Ctx, program: Program, request: SupportRequest) -> NextSlot | None:
    """Never a dead end: when nobody can talk now, the soonest time that could be booked."""
    if request.status != "open" or request.urgency != "now":
        return None
    wanted = slots.SlotFilter(
        start=ctx.now,
        end=ctx.now + NEXT_SLOT_SEARCH,
        topic=request.topic,
        language=request.language,
        mode=request.mode,
    )
    avoided = set(request.excluded_supporter_ids)
    for found in slots.search(ctx, program, wanted):
        if str(found.supporter.id) not in avoided:
            return NextSlot(
                starts_at=found.interval.start,
                ends_at=found.interval.end,
                supporter=SupporterPublic.model_validate(found.supporter),
            )
    return None


def _waiting(ctx: Ctx, request: SupportRequest) -> str | None:
    if request.status == "offered":
        return "offered"
    if request.status == "open":
        return "waiting" if request.urgency == "scheduled" else "none_available"
    return None


def cancel(ctx: Ctx, request_id: uuid.UUID) -> SupportRequest:
    """The requester (or its integration) withdraws; an arranged session is cancelled."""
    request = get_request(ctx, request_id)
    if ctx.principal.role not in ("requester", "service", "system"):
        raise Forbidden("only the requester may cancel the request")
    request = _locked(ctx, request)
    if request.status == "closed":
        raise Conflict(f"this request is already closed ({request.outcome})")
    _check_change_window(ctx, request)
    close(ctx, request, "withdrawn" if request.status in ("open", "offered") else "cancelled")
    ctx.session.commit()
    return request


def _check_change_window(ctx: Ctx, request: SupportRequest) -> None:
    """A booked session is cancelled by its requester only until the program's cut-off."""
    from core.services import bookings  # bookings import this module; import late

    booking = ctx.session.scalar(
        select(Booking).where(Booking.request_id == request.id, Booking.status == "confirmed")
    )
    if booking is not None:
        bookings.check_change_window(ctx, booking)


def close_session(ctx: Ctx, request_id: uuid.UUID, outcome: str) -> SupportRequest:
    """The assigned supporter (or integration) ends the session."""
    request = get_request(ctx, request_id)
    if ctx.principal.role == "requester":
        return cancel(ctx, request_id)
    request = _locked(ctx, request)
    if request.status not in LIVE:
        raise Conflict(
            f"only a matched, scheduled or running session can be closed "
            f"(this one is {request.status})"
        )
    close(ctx, request, outcome)
    ctx.session.commit()
    return request


def start_chat(ctx: Ctx, request_id: uuid.UUID) -> SupportRequest:
    request = get_request(ctx, request_id)
    if ctx.principal.role == "requester":
        raise Forbidden("the chat is started by the supporter's side")
    request = _locked(ctx, request)
    if request.status not in ("matched", "scheduled"):
        raise Conflict(
            f"a chat starts from a matched or scheduled request (this one is {request.status})"
        )
    request.status = "in_chat"
    assert request.supporter_id is not None
    events.record(
        ctx.session,
        events.ChatStarted(
            program_id=request.program_id,
            at=ctx.now,
            request_id=request.id,
            supporter_id=request.supporter_id,
        ),
    )
    ctx.session.commit()
    return request


def _locked(ctx: Ctx, request: SupportRequest) -> SupportRequest:
    locked = matching.lock_request(ctx, request.id)
    assert locked is not None
    return locked


def close(ctx: Ctx, request: SupportRequest, outcome: str) -> None:
    """Close a request in this unit of work: offers withdrawn, a booking cancelled or completed."""
    from core.services import bookings, chats  # they import this module; import late

    if request.status == "in_chat":  # both sides learn it ended, however it was closed
        chats.stage_ended(ctx, request)
    matching.close_pending(ctx, request.id, "withdrawn")
    booking = ctx.session.scalar(
        select(Booking).where(Booking.request_id == request.id, Booking.status == "confirmed")
    )
    if booking is not None:
        if outcome == "completed":
            booking.status, booking.updated_at = "completed", ctx.now
        else:
            bookings.cancel_in_place(ctx, booking, by=ctx.principal.role, close_request=False)
    request.status, request.outcome, request.closed_at = "closed", outcome, ctx.now
    events.record(
        ctx.session,
        events.SessionClosed(
            program_id=request.program_id,
            at=ctx.now,
            request_id=request.id,
            outcome=outcome,
            supporter_id=request.supporter_id,
        ),
    )
    audit.record(ctx, request.program_id, f"request.{outcome}", "request", None)


def give_feedback(ctx: Ctx, request_id: uuid.UUID, data: FeedbackIn) -> None:
    """Stored with no link to the request, the supporter or the requester."""
    request = get_request(ctx, request_id)
    if ctx.principal.role != "requester":
        raise Forbidden("only the requester gives feedback")
    if request.status != "closed" or request.outcome != "completed":
        raise Conflict("feedback is for a completed session", field="rating")
    won = ctx.session.execute(
        update(SupportRequest)
        .where(SupportRequest.id == request.id, SupportRequest.feedback_given.is_(False))
        .values(feedback_given=True)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        ctx.session.rollback()
        raise Conflict("feedback was already given for this session", field="rating")
    ctx.session.add(
        Feedback(
            program_id=request.program_id,
            rating=data.rating,
            comment=data.comment or None,
            submitted_on=ctx.now.date(),
        )
    )
    ctx.session.commit()
