"""Supporters' weekly hours and date overrides, edited in their own time zone."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from itertools import pairwise

from sqlalchemy import delete, select

from core.domain.availability import DateOverride, WeeklyWindow
from core.errors import NotFound, ValidationFailed
from core.models import AvailabilityOverride, AvailabilityRule
from core.schemas.common import clock_to_minute, minute_to_clock
from core.schemas.supporters import (
    AvailabilityIn,
    AvailabilityOut,
    OverrideIn,
    OverrideOut,
    Weekday,
    WeeklyWindowIn,
)
from core.services import audit
from core.services.access import Ctx
from core.services.roster import get_supporter
from core.services.supporter_ids import SupporterIds, certainly_none

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EDITORS = ("admin", "coordinator")


def get_weekly(ctx: Ctx, supporter_id: uuid.UUID) -> AvailabilityOut:
    supporter, _ = get_supporter(ctx, supporter_id)
    rules = ctx.session.scalars(
        select(AvailabilityRule)
        .where(AvailabilityRule.supporter_id == supporter.id)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_minute)
    ).all()
    return AvailabilityOut(time_zone=supporter.time_zone, weekly=[_window_out(r) for r in rules])


def set_weekly(ctx: Ctx, supporter_id: uuid.UUID, data: AvailabilityIn) -> AvailabilityOut:
    """Replace the weekly hours; overlapping windows on one day are refused."""
    supporter, program = get_supporter(ctx, supporter_id, *EDITORS)
    by_day: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for window in data.weekly:
        by_day[WEEKDAYS.index(window.weekday)].append(
            (clock_to_minute(window.start), clock_to_minute(window.end))
        )
    for day, windows in by_day.items():
        windows.sort()
        for (_, end), (start, _) in pairwise(windows):
            if start < end:
                raise ValidationFailed(
                    f"weekly: windows on {WEEKDAYS[day]} overlap", field="weekly"
                )
    ctx.session.execute(
        delete(AvailabilityRule).where(AvailabilityRule.supporter_id == supporter.id)
    )
    for day, windows in by_day.items():
        for start, end in windows:
            ctx.session.add(
                AvailabilityRule(
                    supporter_id=supporter.id, weekday=day, start_minute=start, end_minute=end
                )
            )
    audit.record(ctx, program.id, "availability.updated", "supporter", supporter.id)
    ctx.session.commit()
    return get_weekly(ctx, supporter_id)


def list_overrides(
    ctx: Ctx, supporter_id: uuid.UUID, since: date | None = None
) -> list[OverrideOut]:
    supporter, _ = get_supporter(ctx, supporter_id)
    query = select(AvailabilityOverride).where(AvailabilityOverride.supporter_id == supporter.id)
    if since is not None:
        query = query.where(AvailabilityOverride.on_date >= since)
    rows = ctx.session.scalars(
        query.order_by(AvailabilityOverride.on_date, AvailabilityOverride.start_minute)
    ).all()
    return [_override_out(r) for r in rows]


def add_override(ctx: Ctx, supporter_id: uuid.UUID, data: OverrideIn) -> OverrideOut:
    supporter, program = get_supporter(ctx, supporter_id, *EDITORS)
    row = AvailabilityOverride(
        supporter_id=supporter.id,
        on_date=data.date,
        available=data.available,
        start_minute=clock_to_minute(data.start) if data.start else None,
        end_minute=clock_to_minute(data.end) if data.end else None,
    )
    ctx.session.add(row)
    audit.record(ctx, program.id, "availability.override_added", "supporter", supporter.id)
    ctx.session.commit()
    return _override_out(row)


def delete_override(ctx: Ctx, supporter_id: uuid.UUID, override_id: uuid.UUID) -> None:
    supporter, program = get_supporter(ctx, supporter_id, *EDITORS)
    result = ctx.session.execute(
        delete(AvailabilityOverride).where(
            AvailabilityOverride.id == override_id,
            AvailabilityOverride.supporter_id == supporter.id,
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("no such override", field="override_id")
    audit.record(ctx, program.id, "availability.override_deleted", "supporter", supporter.id)
    ctx.session.commit()


def load_windows(
    ctx: Ctx, ids: SupporterIds, first_day: date, last_day: date
) -> tuple[dict[uuid.UUID, list[WeeklyWindow]], dict[uuid.UUID, list[DateOverride]]]:
    """Weekly windows and the overrides between two dates of many supporters, in two queries."""
    weekly: dict[uuid.UUID, list[WeeklyWindow]] = defaultdict(list)
    overrides: dict[uuid.UUID, list[DateOverride]] = defaultdict(list)
    if certainly_none(ids):
        return weekly, overrides
    rule = AvailabilityRule
    for supporter_id, weekday, start, end in ctx.session.execute(  # columns: many rows
        select(rule.supporter_id, rule.weekday, rule.start_minute, rule.end_minute).where(
            rule.supporter_id.in_(ids)
        )
    ):
        weekly[supporter_id].append(WeeklyWindow(weekday, start, end))
    override = AvailabilityOverride
    for supporter_id, on_date, available, first, last in ctx.session.execute(
        select(
            override.supporter_id,
            override.on_date,
            override.available,
            override.start_minute,
            override.end_minute,
        ).where(override.supporter_id.in_(ids), override.on_date.between(first_day, last_day))
    ):
        overrides[supporter_id].append(DateOverride(on_date, available, first, last))
    return weekly, overrides


def _window_out(rule: AvailabilityRule) -> WeeklyWindowIn:
    return WeeklyWindowIn(
        weekday=WEEKDAYS[rule.weekday],
        start=minute_to_clock(rule.start_minute),
        end=minute_to_clock(rule.end_minute),
    )


def _override_out(row: AvailabilityOverride) -> OverrideOut:
    return OverrideOut(
        id=row.id,
        date=row.on_date,
        available=row.available,
        start=minute_to_clock(row.start_minute) if row.start_minute is not None else None,
        end=minute_to_clock(row.end_minute) if row.end_minute is not None else None,
    )
