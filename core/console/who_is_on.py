"""Console page: who is on duty each day of the coming week, in the program's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, render_template

from core.console.session import ctx, page, section
from core.domain.availability import available_intervals
from core.models import Program, Supporter
from core.schemas.supporters import SupporterQuery
from core.services import availability, roster

STAFF = ("admin", "coordinator")
DAYS_SHOWN = 7


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/who-is-on", "who_is_on", who_is_on)
    section("console.who_is_on", "Who is on", *STAFF)


@dataclass
class Day:
    """One program-local date: who is on when, and who is off that day and why."""

    on: date
    shifts: list[tuple[Supporter, list[str]]] = field(default_factory=list)
    off: list[tuple[Supporter, str]] = field(default_factory=list)


def why_off(supporter: Supporter, program: Program, day: date) -> str | None:
    """Why a supporter takes no chats on this date regardless of hours (None: they could)."""
    if supporter.status == "paused" and (
        supporter.paused_until is None or supporter.paused_until > day
    ):
        return f"paused until {supporter.paused_until}" if supporter.paused_until else "paused"
    state = roster.training_state(supporter, program.required_trainings, day)
    return "; ".join(state.reasons) if state.reasons else None


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def week(program: Program, supporters: list[Supporter], first: date) -> list[Day]:
    """Each day's shifts from weekly hours and overrides, minus pauses and lapsed training."""
    zone = ZoneInfo(program.time_zone)
    weekly, overrides = availability.load_windows(
        ctx(),
        [s.id for s in supporters],
        first - timedelta(days=1),
        first + timedelta(days=DAYS_SHOWN + 1),
    )
    days = [Day(first + timedelta(days=k)) for k in range(DAYS_SHOWN)]
    for day in days:
        start, end = local_midnight(day.on, zone), local_midnight(day.on + timedelta(1), zone)
        for supporter in supporters:
            spans = available_intervals(
                ZoneInfo(supporter.time_zone),
                weekly[supporter.id],
                overrides[supporter.id],
                start,
                end,
            )
            reason = why_off(supporter, program, day.on)
            if not spans:
                continue
            if reason is not None:
                day.off.append((supporter, reason))
                continue
            day.shifts.append((supporter, [_clock(s.start, s.end, zone) for s in spans]))
    return days


def _clock(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    local_end = end.astimezone(zone)
    until = "24:00" if local_end.time() == time(0) else f"{local_end:%H:%M}"
    return f"{start.astimezone(zone):%H:%M}\N{EN DASH}{until}"


@page(*STAFF)
def who_is_on(slug: str) -> Any:
    program: Program = g.program
    now = ctx().now.astimezone(ZoneInfo(program.time_zone))
    supporters = [
        s
        for s in roster.list_supporters(ctx(), program, SupporterQuery())
        if s.status != "offboarded"
    ]
    days = week(program, supporters, now.date())
    seen = {s.id for day in days for s, _ in day.shifts + day.off}
    return render_template(
        "console/availability_week.html",
        days=days,
        now=now,
        no_hours=[s for s in supporters if s.id not in seen],
    )
