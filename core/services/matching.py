"""Who gets offered a talk-now request, fairly, and what happens when they answer."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from core import events
from core.domain.availability import is_available
from core.errors import AlreadyTaken, Conflict, NotFound
from core.models import Booking, Offer, Program, Supporter, SupportRequest
from core.services import audit, capacity
from core.services.access import Ctx, require, require_self_or
from core.services.availability import load_windows
from core.services.slots import SlotFilter, booked_intervals, candidates

FAIRNESS_WINDOW = timedelta(days=30)
OPEN = ("open", "offered")
URGENT_BATCH_MAX = 10


def eligible(ctx: Ctx, program: Program, request: SupportRequest) -> list[Supporter]:
    """Active, trained, right topic/language/mode, not avoided, under caps, on duty now."""
    wanted = SlotFilter(
        start=ctx.now,
        end=ctx.now,
        topic=request.topic,
        language=request.language,
        mode=request.mode,
    )
    already = set(
        ctx.session.scalars(select(Offer.supporter_id).where(Offer.request_id == request.id))
    )
    avoided = {uuid.UUID(str(x)) for x in request.excluded_supporter_ids} | already
    people = [s for s in candidates(ctx, program, wanted) if s.id not in avoided]
    zone = ZoneInfo(program.time_zone)
    week = capacity.weeks_between(ctx.now, ctx.now + timedelta(seconds=1), zone)
    load = capacity.sessions_per_week(ctx, program, [s.id for s in people], week)
    chats = capacity.live_chats(ctx, [s.id for s in people])
    people = [
        s
        for s in people
        if load[(s.id, week[0].start)] < capacity.weekly_cap(s, program)
        and chats[s.id] < capacity.concurrent_cap(s, program)
    ]
    return _on_duty(ctx, program, people)


def _on_duty(ctx: Ctx, program: Program, people: list[Supporter]) -> list[Supporter]:
    session = timedelta(minutes=program.session_minutes)
    weekly, overrides = load_windows(
        ctx,
        [s.id for s in people],
        (ctx.now - timedelta(days=1)).date(),
        (ctx.now + timedelta(days=1)).date(),
    )
    booked = booked_intervals(ctx, [s.id for s in people], ctx.now - session, ctx.now + 2 * session)
    return [
        s
        for s in people
        if is_available(
            ZoneInfo(s.time_zone),
            weekly[s.id],
            overrides[s.id],
            bookings=booked[s.id],
            buffer=timedelta(minutes=program.buffer_minutes),
            start=ctx.now,
            end=ctx.now + timedelta(minutes=1),
        )
    ]


def rank(ctx: Ctx, people: list[Supporter]) -> list[Supporter]:
    """Fewest recent assignments first, then longest since the last one, then chance."""
    since = ctx.now - FAIRNESS_WINDOW
    ids = [s.id for s in people]
    recent = (
        dict(
            ctx.session.execute(
                select(SupportRequest.supporter_id, func.count())
                .where(SupportRequest.supporter_id.in_(ids), SupportRequest.matched_at >= since)
                .group_by(SupportRequest.supporter_id)
            ).all()
        )
        if ids
        else {}
    )
    shuffled = random.sample(people, len(people))
    epoch = ctx.now - timedelta(days=36500)
    return sorted(shuffled, key=lambda s: (recent.get(s.id, 0), s.last_assigned_at or epoch))


def offer_next(ctx: Ctx, program: Program, request: SupportRequest) -> list[Offer]:
    """Offer the request to the next batch of ranked supporters; [] when nobody is free.

    An urgent request (crisis language in the note) goes to twice as many at once.
    """
    batch = min(program.offer_batch_size * (2 if request.is_urgent else 1), URGENT_BATCH_MAX)
    ranked = rank(ctx, eligible(ctx, program, request))[:batch]
    expires = ctx.now + timedelta(minutes=program.offer_timeout_minutes)
    offers = [
        Offer(
            id=uuid.uuid4(),
            request_id=request.id,
            supporter_id=s.id,
            status="pending",
            created_at=ctx.now,
            expires_at=expires,
        )
        for s in ranked
    ]
    ctx.session.add_all(offers)
    if offers:
        request.status = "offered"
        request.first_offered_at = request.first_offered_at or ctx.now
    for offer in offers:
        events.record(
            ctx.session,
            events.OfferMade(
                program_id=program.id,
                at=ctx.now,
                offer_id=offer.id,
                request_id=request.id,
                supporter_id=offer.supporter_id,
                expires_at=expires,
            ),
        )
    return offers


def get_offer(ctx: Ctx, offer_id: uuid.UUID) -> Offer:
    offer = ctx.session.get(Offer, offer_id)
    if offer is None:
        raise NotFound("no such offer", field="offer_id")
    request = ctx.session.get_one(SupportRequest, offer.request_id)
    require_self_or(ctx.principal, request.program_id, offer.supporter_id, "service")
    return offer


def list_offers(
    ctx: Ctx, program: Program, supporter_id: uuid.UUID | None, status: str | None
) -> list[tuple[Offer, SupportRequest]]:
    if ctx.principal.role == "supporter":
        require(ctx.principal, program.id, "supporter")
        supporter_id = ctx.principal.supporter_id
    else:
        require(ctx.principal, program.id, "service")
    query = (
        select(Offer, SupportRequest)
        .join(SupportRequest)
        .where(SupportRequest.program_id == program.id)
    )
    if supporter_id is not None:
        query = query.where(Offer.supporter_id == supporter_id)
    if status is not None:
        query = query.where(Offer.status == status)
    return [
        (o, r) for o, r in ctx.session.execute(query.order_by(Offer.created_at.desc()).limit(200))
    ]


def accept(ctx: Ctx, offer_id: uuid.UUID) -> tuple[Offer, SupportRequest]:
    """The first acceptance wins; later ones get AlreadyTaken and change nothing."""
    offer = get_offer(ctx, offer_id)
    request = ctx.session.get_one(SupportRequest, offer.request_id)
    program = ctx.session.get_one(Program, request.program_id)
    if offer.status == "pending" and offer.expires_at <= ctx.now:
        raise Conflict("this offer has expired", field="offer_id")
    if offer.status != "pending":
        raise AlreadyTaken(f"this offer is {offer.status}; the request was taken or withdrawn")
    # Lock the supporter so two acceptances of different requests cannot both pass the cap.
    supporter = ctx.session.scalars(
        select(Supporter).where(Supporter.id == offer.supporter_id).with_for_update()
    ).one()
    if capacity.live_chats(ctx, [supporter.id])[supporter.id] >= capacity.concurrent_cap(
        supporter, program
    ):
        raise Conflict("you are at your limit of concurrent chats", field="offer_id")
    won = ctx.session.execute(
        update(SupportRequest)
        .where(SupportRequest.id == request.id, SupportRequest.status.in_(OPEN))
        .values(status="matched", supporter_id=supporter.id, matched_at=ctx.now)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        ctx.session.rollback()
        raise AlreadyTaken("another supporter already accepted this request")
    others = close_pending(ctx, request.id, "taken", keep=offer.id)
    offer.status, offer.responded_at = "accepted", ctx.now
    supporter.last_assigned_at = ctx.now
    events.record(
        ctx.session,
        events.OfferAccepted(
            program_id=program.id,
            at=ctx.now,
            offer_id=offer.id,
            request_id=request.id,
            supporter_id=supporter.id,
            superseded_offer_ids=tuple(others),
        ),
    )
    audit.record(ctx, program.id, "offer.accepted", "offer", offer.id)
    ctx.session.commit()
    ctx.session.refresh(request)
    return offer, request


def lock_request(
    ctx: Ctx, request_id: uuid.UUID, *, skip_locked: bool = False
) -> SupportRequest | None:
    """Row-lock a request and re-read it. Lock order everywhere: supporter, request, offers."""
    return ctx.session.scalars(
        select(SupportRequest)
        .where(SupportRequest.id == request_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    ).first()


def decline(ctx: Ctx, offer_id: uuid.UUID) -> Offer:
    offer = get_offer(ctx, offer_id)
    request = lock_request(ctx, offer.request_id)
    assert request is not None
    ctx.session.refresh(offer)
    if offer.status != "pending":
        raise Conflict(f"this offer is already {offer.status}", field="offer_id")
    program = ctx.session.get_one(Program, request.program_id)
    offer.status, offer.responded_at = "declined", ctx.now
    events.record(
        ctx.session,
        events.OfferDeclined(
            program_id=program.id,
            at=ctx.now,
            offer_id=offer.id,
            request_id=request.id,
            supporter_id=offer.supporter_id,
        ),
    )
    _move_on(ctx, program, request)
    audit.record(ctx, program.id, "offer.declined", "offer", offer.id)
    ctx.session.commit()
    return offer


def _move_on(ctx: Ctx, program: Program, request: SupportRequest) -> None:
    """When no offer is pending any more, offer the request to the next supporters."""
    ctx.session.flush()
    pending = ctx.session.scalar(
        select(func.count())
        .select_from(Offer)
        .where(Offer.request_id == request.id, Offer.status == "pending")
    )
    if request.status in OPEN and not pending and not offer_next(ctx, program, request):
        request.status = "open"
        nobody_free(ctx, request)


def nobody_free(ctx: Ctx, request: SupportRequest) -> None:
    """Tell the requester honestly (once) that nobody is free yet, and what else there is."""
    events.record(
        ctx.session,
        events.NobodyFree(program_id=request.program_id, at=ctx.now, request_id=request.id),
    )


def close_pending(
    ctx: Ctx, request_id: uuid.UUID, status: str, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Settle a request's pending offers (taken, withdrawn); returns their ids."""
    pending = ctx.session.scalars(
        select(Offer).where(
            Offer.request_id == request_id, Offer.status == "pending", Offer.id != keep
        )
    ).all()
    for other in pending:
        other.status, other.responded_at = status, ctx.now
    return [o.id for o in pending]


def withdraw_offers_of(ctx: Ctx, supporter: Supporter) -> None:
    """A paused or offboarded supporter's pending offers go to someone else at once."""
    program = ctx.session.get_one(Program, supporter.program_id)
    request_ids = ctx.session.scalars(
        select(Offer.request_id)
        .where(Offer.supporter_id == supporter.id, Offer.status == "pending")
        .order_by(Offer.request_id)
    ).all()
    supporter.status_changed_at = ctx.now
    for request_id in request_ids:
        request = lock_request(ctx, request_id)
        assert request is not None
        for offer in _pending(ctx, request_id, supporter_id=supporter.id):
            offer.status, offer.responded_at = "withdrawn", ctx.now
        _move_on(ctx, program, request)


def cancel_future_bookings_of(ctx: Ctx, supporter: Supporter) -> None:
    from core.services import bookings  # bookings use matching's neighbours; import late

    future = ctx.session.scalars(
        select(Booking).where(
            Booking.supporter_id == supporter.id,
            Booking.status == "confirmed",
            Booking.starts_at > ctx.now,
        )
    ).all()
    for booking in future:
        bookings.cancel_in_place(ctx, booking, by="program")


def expire_offers(ctx: Ctx) -> int:
    """Expire offers past their time and move each request on; returns how many expired."""
    request_ids = ctx.session.scalars(
        select(Offer.request_id)
        .where(Offer.status == "pending", Offer.expires_at <= ctx.now)
        .distinct()
    ).all()
    ctx.session.rollback()  # end the read; each request below is its own short transaction
    expired = 0
    for request_id in sorted(request_ids):
        request = lock_request(ctx, request_id, skip_locked=True)
        if request is None:  # another sweeper holds it
            ctx.session.rollback()
            continue
        due = [o for o in _pending(ctx, request_id) if o.expires_at <= ctx.now]
        for offer in due:
            offer.status, offer.responded_at = "expired", ctx.now
            events.record(
                ctx.session,
                events.OfferExpired(
                    program_id=request.program_id,
                    at=ctx.now,
                    offer_id=offer.id,
                    request_id=request.id,
                    supporter_id=offer.supporter_id,
                ),
            )
        _move_on(ctx, ctx.session.get_one(Program, request.program_id), request)
        ctx.session.commit()
        expired += len(due)
    return expired


def _pending(ctx: Ctx, request_id: uuid.UUID, supporter_id: uuid.UUID | None = None) -> list[Offer]:
    query = select(Offer).where(Offer.request_id == request_id, Offer.status == "pending")
    if supporter_id is not None:
        query = query.where(Offer.supporter_id == supporter_id)
    return list(ctx.session.scalars(query.execution_options(populate_existing=True)))


def retry_waiting(ctx: Ctx) -> int:
    """Offer open talk-now requests again (someone may have come on duty); expire stale ones.

    A talk-now request expires after the program's wait; a scheduled one never booked
    expires once the booking horizon has passed since it was made.
    """
    from core.services.requests import close  # requests import matching; import late

    waiting = ctx.session.scalars(
        select(SupportRequest.id).where(SupportRequest.status == "open").order_by(SupportRequest.id)
    ).all()
    ctx.session.rollback()
    offered = 0
    for request_id in waiting:
        request = lock_request(ctx, request_id, skip_locked=True)
        if request is None or request.status != "open":
            ctx.session.rollback()
            continue
        program = ctx.session.get_one(Program, request.program_id)
        if _stale(request, program, ctx.now):
            close(ctx, request, "expired")
        elif request.urgency == "now" and offer_next(ctx, program, request):
            offered += 1
        ctx.session.commit()
    return offered


def _stale(request: SupportRequest, program: Program, now: datetime) -> bool:
    if request.urgency == "now":
        return request.created_at + timedelta(minutes=program.now_wait_minutes) <= now
    return request.created_at + timedelta(days=program.horizon_days) <= now
