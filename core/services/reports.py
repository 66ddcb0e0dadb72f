"""Aggregate reports for a program, every figure k-anonymous (core.services.suppression).

Only GROUP BY results leave the database: no request, offer or booking row is read here.
Weeks are the program's weeks (Monday 00:00 in its time zone). Each report comes back
already suppressed; a suppressed figure carries no value at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from core.domain.availability import available_intervals
from core.models import Booking, Feedback, Program, Supporter, SupportRequest
from core.services import availability
from core.services.access import Ctx, require
from core.services.report_tables import (
    Figure,
    Period,
    Report,
    Row,
    figures,
    grouped,
    minutes_between,
    week_labels,
    week_of,
    within,
)
from core.services.suppression import Cell, suppress_alone, suppress_grid, suppress_series

BANDS = ("0 sessions", "1-2 sessions", "3-5 sessions", "6 or more sessions")
RESPONSE_BUCKETS = ("under 5 min", "5-15 min", "15-60 min", "over 60 min", "not answered")


def build(ctx: Ctx, program: Program, span: Period, only: str | None = None) -> list[Report]:
    """Every report (or just `only`) for the program's staff."""
    require(ctx.principal, program.id, "admin", "coordinator")
    chosen = [only] if only else list(REPORTS)
    return [REPORTS[name](ctx, program, span) for name in chosen]


def requests_per_week(ctx: Ctx, program: Program, span: Period) -> Report:
    week = week_of(SupportRequest.created_at, span)
    rows = grouped(
        ctx,
        select(week.label("week"), SupportRequest.channel.label("channel")).where(
            SupportRequest.program_id == program.id, within(SupportRequest.created_at, span)
        ),
    )
    channels = sorted({channel for _, channel, _ in rows}) or ["api"]
    counts = [[0] * len(channels) for _ in span.weeks]
    for index, channel, count in rows:
        counts[index][channels.index(channel)] += count
    grid = suppress_grid(counts, program.min_report_group)
    return Report(
        name="requests",
        title="Requests per week, by channel",
        about="Requests for a peer chat made in each week, by where they were made.",
        row_header="Week starting",
        columns=[*channels, "All channels"],
        rows=[
            Row(label, figures([*cells, grid.row_totals[n]]))
            for n, (label, cells) in enumerate(
                zip(week_labels(span, program), grid.cells, strict=True)
            )
        ],
        total=Row("All weeks", figures([*grid.column_totals, grid.total])),
        chart_columns=list(range(len(channels))),
    )


def answered_per_week(ctx: Ctx, program: Program, span: Period) -> Report:
    week = week_of(SupportRequest.created_at, span)
    answered = case((SupportRequest.matched_at.is_not(None), 0), else_=1)
    rows = grouped(
        ctx,
        select(week.label("week"), answered.label("answered")).where(
            SupportRequest.program_id == program.id, within(SupportRequest.created_at, span)
        ),
    )
    counts = [[0, 0] for _ in span.weeks]
    for index, column, count in rows:
        counts[index][column] += count
    grid = suppress_grid(counts, program.min_report_group)
    labels = week_labels(span, program)
    return Report(
        name="answered",
        title="Share of requests answered",
        about="Requests a supporter accepted or booked, against those nobody took.",
        row_header="Week starting",
        columns=["Answered", "Not answered", "All requests", "Share answered"],
        rows=[
            Row(
                labels[n],
                [*figures([*cells, grid.row_totals[n]]), _share(cells[0], grid.row_totals[n])],
            )
            for n, cells in enumerate(grid.cells)
        ],
        total=Row(
            "All weeks",
            [
                *figures([*grid.column_totals, grid.total]),
                _share(grid.column_totals[0], grid.total),
            ],
        ),
        chart_columns=[0, 1],
    )


def _share(part: Cell, whole: Cell) -> Figure:
    if part.value is None or whole.value is None:
        return Figure(None, "")
    if whole.value == 0:
        return Figure(0, "-")
    share = 100 * part.value / whole.value
    return Figure(share, f"{share:.0f}%")


def response_times(ctx: Ctx, program: Program, span: Period) -> Report:
    minutes = minutes_between(ctx, SupportRequest.matched_at, SupportRequest.created_at)
    talk_now = (
        (SupportRequest.program_id == program.id)
        & (SupportRequest.urgency == "now")
        & within(SupportRequest.created_at, span)
    )
    histogram = grouped(
        ctx, select(case((SupportRequest.matched_at.is_(None), -1), else_=minutes)).where(talk_now)
    )
    counts = [0] * len(RESPONSE_BUCKETS)
    for value, count in histogram:
        counts[_bucket(value)] += count
    parts, total = suppress_series(counts, program.min_report_group)
    report = Report(
        name="response",
        title="Time to first response (talk now)",
        about="Minutes from a talk-now request until a supporter accepted it.",
        row_header="Time to accept",
        columns=["Requests"],
        rows=[
            Row(label, figures([cell])) for label, cell in zip(RESPONSE_BUCKETS, parts, strict=True)
        ],
        total=Row("All talk-now requests", figures([total])),
        unit="requests",
    )
    answered = [(value, count) for value, count in histogram if value >= 0]
    shown = suppress_alone(sum(count for _, count in answered), program.min_report_group)
    if shown.value:
        report.notes.append(f"Median time to accept: {_median(answered)} min.")
    elif shown.suppressed:
        report.notes.append("Median time to accept: suppressed (too few answered requests).")
    return report


def _bucket(minutes: int) -> int:
    if minutes < 0:
        return 4
    return 0 if minutes < 5 else 1 if minutes < 15 else 2 if minutes < 60 else 3


def _median(histogram: list[tuple[int, int]]) -> str:
    """The median of grouped whole minutes (one figure about at least k requests)."""
    ordered = sorted(histogram)
    size = sum(count for _, count in ordered)

    def nth(spot: int) -> int:
        seen = 0
        for value, count in ordered:
            seen += count
            if spot < seen:
                return value
        raise ValueError("spot beyond the histogram")

    return f"{(nth((size - 1) // 2) + nth(size // 2)) / 2:g}"


def sessions_per_supporter(ctx: Ctx, program: Program, span: Period) -> Report:
    sessions = (
        select(SupportRequest.supporter_id.label("sid"), func.count().label("n"))
        .where(
            SupportRequest.program_id == program.id,
            within(SupportRequest.matched_at, span),
            SupportRequest.outcome.is_(None) | (SupportRequest.outcome == "completed"),
        )
        .group_by(SupportRequest.supporter_id)
        .subquery()
    )
    held = func.coalesce(sessions.c.n, 0)
    band = case((held == 0, 0), (held <= 2, 1), (held <= 5, 2), else_=3)
    rows = grouped(
        ctx,
        select(band.label("band"))
        .select_from(Supporter)
        .outerjoin(sessions, sessions.c.sid == Supporter.id)
        .where(Supporter.program_id == program.id, Supporter.created_at < span.weeks[-1].end),
    )
    counts = [0] * len(BANDS)
    for index, count in rows:
        counts[index] += count
    parts, total = suppress_series(counts, program.min_report_group)
    return Report(
        name="sessions",
        title="Sessions per supporter",
        about="How many supporters held how many sessions (chats and bookings) in the period.",
        row_header="Sessions held",
        columns=["Supporters"],
        rows=[Row(label, figures([cell])) for label, cell in zip(BANDS, parts, strict=True)],
        total=Row("All supporters", figures([total])),
        unit="supporters",
    )


def utilisation(ctx: Ctx, program: Program, span: Period) -> Report:
    week = week_of(Booking.starts_at, span)
    length = minutes_between(ctx, Booking.ends_at, Booking.starts_at)
    booked = [0] * len(span.weeks), [0] * len(span.weeks)
    inner = select(week.label("week"), length.label("minutes")).where(
        Booking.program_id == program.id,
        Booking.status != "cancelled",
        within(Booking.starts_at, span),
    )
    sub = inner.subquery()
    for index, count, minutes in ctx.session.execute(
        select(sub.c.week, func.count(), func.sum(sub.c.minutes)).group_by(sub.c.week)
    ):
        booked[0][index], booked[1][index] = count, minutes or 0
    offered, people = _available(ctx, program, span)
    rows = []
    k = program.min_report_group
    for n, label in enumerate(week_labels(span, program)):
        hours = _hours(booked[1][n] / 60, suppress_alone(booked[0][n], k))
        free = _hours(offered[n], suppress_alone(people[n], k))
        rows.append(Row(label, [hours, free, _percent(hours, free)]))
    return Report(
        name="utilisation",
        title="Utilisation",
        about="Booked hours against the hours supporters offered (their current weekly hours).",
        row_header="Week starting",
        columns=["Booked hours", "Available hours", "Utilisation"],
        rows=rows,
        chart_columns=[2],
        unit="%",
    )


def _available(ctx: Ctx, program: Program, span: Period) -> tuple[list[float], list[int]]:
    """Offered hours per week and how many supporters offered any (active supporters)."""
    supporters = list(
        ctx.session.scalars(
            select(Supporter).where(
                Supporter.program_id == program.id, Supporter.status == "active"
            )
        )
    )
    weekly, overrides = availability.load_windows(
        ctx,
        [s.id for s in supporters],
        span.first - timedelta(days=7),
        span.last + timedelta(days=7),
    )
    hours, people = [0.0] * len(span.weeks), [0] * len(span.weeks)
    for supporter in supporters:
        zone = ZoneInfo(supporter.time_zone)
        for n, week in enumerate(span.weeks):
            spans = available_intervals(
                zone, weekly[supporter.id], overrides[supporter.id], week.start, week.end
            )
            offered = sum((s.end - s.start).total_seconds() for s in spans) / 3600
            hours[n] += offered
            people[n] += offered > 0
    return hours, people


def _hours(hours: float, group: Cell) -> Figure:
    return Figure(None, "") if group.suppressed else Figure(hours, f"{hours:.1f}")


def _percent(booked: Figure, free: Figure) -> Figure:
    if booked.amount is None or free.amount is None:
        return Figure(None, "")
    if free.amount == 0:
        return Figure(0, "-")
    share = 100 * booked.amount / free.amount
    return Figure(share, f"{share:.0f}%")


def feedback(ctx: Ctx, program: Program, span: Period) -> Report:
    zone = ZoneInfo(program.time_zone)
    first = span.weeks[0].start.astimezone(zone).date()
    last = span.weeks[-1].end.astimezone(zone).date() - timedelta(days=1)
    rows = grouped(
        ctx,
        select(Feedback.rating).where(
            Feedback.program_id == program.id, Feedback.submitted_on.between(first, last)
        ),
    )
    counts = [0] * 5
    for rating, count in rows:
        counts[rating - 1] += count
    parts, total = suppress_series(counts, program.min_report_group)
    return Report(
        name="feedback",
        title="Feedback ratings",
        about="Ratings given after sessions (1 = poor, 5 = very good); never linked to a session.",
        row_header="Rating",
        columns=["Ratings"],
        rows=[Row(f"{n + 1} of 5", figures([cell])) for n, cell in enumerate(parts)],
        total=Row("All ratings", figures([total])),
        unit="ratings",
    )


REPORTS: dict[str, Callable[[Ctx, Program, Period], Report]] = {
    "requests": requests_per_week,
    "answered": answered_per_week,
    "response": response_times,
    "sessions": sessions_per_supporter,
    "utilisation": utilisation,
    "feedback": feedback,
}
