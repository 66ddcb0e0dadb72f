"""The shapes of a report (figures, rows, tables, periods) and the SQL pieces reports share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, and_, case, cast, func, select

from core.domain.availability import Interval
from core.errors import ValidationFailed
from core.models import Program
from core.services import capacity
from core.services.access import Ctx
from core.services.suppression import Cell

DEFAULT_WEEKS = 12
MAX_WEEKS = 53


@dataclass(frozen=True)
class Figure:
    """One shown number: `amount` is None when suppressed."""

    amount: float | None
    text: str

    @property
    def suppressed(self) -> bool:
        return self.amount is None


@dataclass(frozen=True)
class Row:
    label: str
    figures: list[Figure]


@dataclass
class Report:
    """A table (rows x columns, optional total row) and which columns its chart stacks."""

    name: str
    title: str
    about: str
    row_header: str
    columns: list[str]
    rows: list[Row]
    total: Row | None = None
    chart_columns: list[int] = field(default_factory=lambda: [0])
    unit: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    """Whole program weeks from the week holding `first` to the week holding `last`."""

    first: date
    last: date
    weeks: list[Interval]


def period(program: Program, now: datetime, first: str | None, last: str | None) -> Period:
    """The asked dates (YYYY-MM-DD), by default the last 12 weeks up to today."""
    zone = ZoneInfo(program.time_zone)
    today = now.astimezone(zone).date()
    end = parse_date(last, "to") if last else today
    start = parse_date(first, "from") if first else end - timedelta(days=end.weekday() + 7 * 11)
    if start > end:
        raise ValidationFailed("the start date is after the end date", field="from")
    begin = datetime.combine(start, time(0), tzinfo=zone)
    stop = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)
    weeks = capacity.weeks_between(begin, stop, zone)
    if len(weeks) > MAX_WEEKS:
        raise ValidationFailed(f"choose at most {MAX_WEEKS} weeks", field="from")
    return Period(start, end, weeks)


def parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"'{text}' is not a date (use YYYY-MM-DD)", field=name) from None


def week_labels(span: Period, program: Program) -> list[str]:
    zone = ZoneInfo(program.time_zone)
    return [f"{week.start.astimezone(zone).date():%d %b %Y}" for week in span.weeks]


def week_of(column: Any, span: Period) -> ColumnElement[Any]:
    """Which week (0, 1, ...) a moment falls in, as SQL (callers filter to the period)."""
    return case(*((column < week.end, n) for n, week in enumerate(span.weeks)), else_=None)


def within(column: Any, span: Period) -> ColumnElement[bool]:
    return and_(column >= span.weeks[0].start, column < span.weeks[-1].end)


def minutes_between(ctx: Ctx, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole minutes between two timestamps, on SQLite and PostgreSQL."""
    if ctx.session.get_bind().dialect.name == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
        return cast(func.round(days * 86400), Integer) // 60
    seconds = func.extract("epoch", later - earlier)
    return cast(func.floor(seconds / 60), Integer)


def grouped(ctx: Ctx, inner: Select[Any]) -> list[tuple[Any, ...]]:
    """Counts per distinct row of `inner`, grouped in the database."""
    sub = inner.subquery()
    keys = list(sub.c)
    return [tuple(r) for r in ctx.session.execute(select(*keys, func.count()).group_by(*keys))]


def figures(cells: list[Cell]) -> list[Figure]:
    return [Figure(None, "") if c.value is None else Figure(c.value, str(c.value)) for c in cells]
