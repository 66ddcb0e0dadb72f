"""The booking's one-query re-check answers exactly as the slot search does, rule for rule."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from core.models import Booking, ExternalBusy, Supporter, SupportRequest, TrainingRecord
from core.schemas.programs import ProgramIn
from core.schemas.supporters import AvailabilityIn, OverrideIn, SupporterIn
from core.services import availability, programs, roster, slot_check, slots
from core.services.access import Ctx
from tests.helpers import system_ctx

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # tests.conftest.START: a Wednesday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2026, UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _program(ctx: Ctx) -> Any:
    return programs.create_program(
        ctx,
        ProgramIn.model_validate(
            {
                "slug": "acme",
                "name": "Acme",
                "kind": "workplace",
                "time_zone": "Europe/London",
                "topics": ["stress"],
                "languages": ["en"],
                "modes": ["text", "video"],
                "policy": {
                    "session_minutes": 60,
                    "buffer_minutes": 15,
                    "slot_step_minutes": 15,
                    "min_notice_minutes": 120,
                    "weekly_cap": 3,
                    "required_trainings": ["Safeguarding"],
                },
            }
        ),
    )


def _supporter(ctx: Ctx, program: Any, alias: str, zone: str, expires: date | None) -> Supporter:
    supporter = roster.add_supporter(
        ctx,
        program,
        SupporterIn.model_validate(
            {
                "alias": alias,
                "time_zone": zone,
                "languages": ["en"],
                "topics": ["stress"],
                "modes": ["text", "video"],
            }
        ),
    )
    weekly = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in WEEKDAYS]
    availability.set_weekly(ctx, supporter.id, AvailabilityIn.model_validate({"weekly": weekly}))
    if expires is not None:
        ctx.session.add(
            TrainingRecord(
                supporter_id=supporter.id,
                name="safeguarding",
                completed_on=date(2025, 1, 1),
                expires_on=expires,
                created_at=NOW,
            )
        )
        ctx.session.commit()
    return supporter


def _request(ctx: Ctx, program: Any, urgency: str = "scheduled", **fields: Any) -> uuid.UUID:
    request = SupportRequest(
        id=uuid.uuid4(),
        program_id=program.id,
        alias=f"Heron {uuid.uuid4().hex[:6]}",
        topic="stress",
        urgency=urgency,
        mode="text",
        language="en",
        status="open",
        token_hash=uuid.uuid4().hex,
        channel="api",
        excluded_supporter_ids=[],
        created_at=NOW - timedelta(days=1),
        **fields,
    )
    ctx.session.add(request)
    ctx.session.flush()
    return request.id


def _booking(
    ctx: Ctx, program: Any, supporter: Supporter, starts: datetime, status: str = "confirmed"
) -> uuid.UUID:
    booking = Booking(
        id=uuid.uuid4(),
        program_id=program.id,
        supporter_id=supporter.id,
        request_id=_request(ctx, program),
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        mode="text",
        status=status,
        calendar_uid=f"{uuid.uuid4()}@peerline",
        sequence=0,
        created_at=NOW,
        updated_at=NOW,
    )
    ctx.session.add(booking)
    return booking.id


def _busy(ctx: Ctx, supporter: Supporter, lo: datetime, hi: datetime, fetched: datetime) -> None:
    ctx.session.add(
        ExternalBusy(
            supporter_id=supporter.id, source="test", starts_at=lo, ends_at=hi, fetched_at=fetched
        )
    )


def _world(ctx: Ctx) -> tuple[Any, list[Supporter], uuid.UUID]:
    """Every rule the search applies, each somewhere in the week and a half from NOW."""
    program = _program(ctx)
    ash = _supporter(ctx, program, "Ash", "Europe/Berlin", expires=date(2026, 3, 13))  # lapses
    birch = _supporter(ctx, program, "Birch", "Europe/London", expires=None)  # never trained
    cedar = _supporter(ctx, program, "Cedar", "America/New_York", expires=date(2027, 1, 1))
    for supporter, on, fields in [
        (ash, date(2026, 3, 5), {}),  # all-day time off
        (ash, date(2026, 3, 6), {"start": "10:00", "end": "12:00"}),  # some hours off
        (ash, date(2026, 3, 7), {"available": True, "start": "09:00", "end": "13:00"}),  # extra
    ]:
        body = {"date": on.isoformat(), "available": False} | fields
        availability.add_override(ctx, supporter.id, OverrideIn.model_validate(body))
    moved = _booking(ctx, program, ash, at(4, 14))
    _booking(ctx, program, ash, at(6, 13), status="cancelled")
    _booking(ctx, program, ash, at(10, 9))  # next week: 2 bookings and a chat reach the cap
    _booking(ctx, program, ash, at(10, 15))
    chat = _request(ctx, program, urgency="now")
    ctx.session.get_one(SupportRequest, chat).supporter_id = ash.id
    ctx.session.get_one(SupportRequest, chat).matched_at = at(9, 8)
    ctx.session.get_one(SupportRequest, chat).status = "closed"
    _booking(ctx, program, cedar, at(4, 16))
    _busy(ctx, cedar, at(4, 18), at(4, 19, 30), NOW - timedelta(hours=2))  # fresh
    _busy(ctx, cedar, at(6, 15), at(6, 17), NOW - timedelta(days=2))  # stale: ignored
    _busy(ctx, cedar, at(4, 16), at(4, 17), NOW)  # our own session's event: ignored
    ctx.session.commit()
    return program, [ash, birch, cedar], moved


def searched(
    ctx: Ctx, program: Any, supporter: Supporter, start: datetime, ignore: uuid.UUID | None = None
) -> bool:
    """The slot search's answer for one exact slot: the reference the re-check is held to."""
    if not ctx.now <= start <= ctx.now + timedelta(days=program.horizon_days):
        return False
    wanted = slots.SlotFilter(
        start=start, end=start + timedelta(minutes=1), supporter_id=supporter.id,
        ignore_booking=ignore,
    )  # fmt: skip
    return any(found.interval.start == start for found in slots.search(ctx, program, wanted))


def _starts() -> list[datetime]:
    """Every quarter-hour of eight days, and a few instants off the grid."""
    grid = [NOW + timedelta(minutes=15 * k) for k in range(8 * 96)]
    odd = [at(4, 14, 7), at(11, 9).replace(microsecond=5), NOW - timedelta(hours=1)]
    return grid + odd


def test_the_recheck_agrees_with_the_slot_search_on_every_start(app: Flask) -> None:
    ctx = system_ctx(app)
    with ctx.session:
        program, people, moved = _world(ctx)
        seen = {True: 0, False: 0}
        for supporter in people:
            locked = ctx.session.scalars(select(Supporter).where(Supporter.id == supporter.id))
            row = locked.one()
            for start in _starts():
                for ignore in (None, moved):
                    expected = searched(ctx, program, row, start, ignore)
                    found = slot_check.is_bookable(ctx, program, row, start, ignore_booking=ignore)
                    assert found == expected, (row.alias, start, ignore)
                    seen[expected] += 1
        assert seen[True] > 500 and seen[False] > 500  # both answers well exercised


def test_a_paused_supporter_has_no_slot(app: Flask) -> None:
    ctx = system_ctx(app)
    with ctx.session:
        program, [ash, *_], _ = _world(ctx)
        start = at(4, 12)
        assert slot_check.is_bookable(ctx, program, ash, start)
        ash.status = "paused"
        assert not slot_check.is_bookable(ctx, program, ash, start)
        assert not searched(ctx, program, ash, start)
