"""The audit log: who (by role and id, never by name) changed what in the program, and when."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, render_template, request

from core.console.session import ctx, page, section
from core.models import AuditEvent, Program
from core.services import audit

PAGE_SIZE = 50
MAX_OFFSET = 100_000
ACTOR_ROLES = ("admin", "coordinator", "supporter", "service", "system", "requester")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Filters:
    """The GET filters as typed, what they mean, and what was wrong with them."""

    action: str = ""
    role: str = ""
    start: str = ""
    end: str = ""
    offset: int = 0
    since: datetime | None = None
    until: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, offset: int) -> dict[str, str | int]:
        """The query string of this search at another page."""
        kept = {"action": self.action, "role": self.role, "from": self.start, "to": self.end}
        return {**{k: v for k, v in kept.items() if v}, **({"offset": offset} if offset else {})}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/audit", "audit_log", show, methods=["GET"])
    section("console.audit_log", "Audit log", "admin", "coordinator")


@page("admin", "coordinator")
def show(slug: str) -> Any:
    program: Program = g.program
    unit = ctx()
    filters = read_filters(ZoneInfo(program.time_zone))
    events: list[AuditEvent] = []
    if not filters.errors:
        events = audit.list_events(
            unit,
            program.id,
            action=filters.action or None,
            actor_role=filters.role or None,
            since=filters.since,
            until=filters.until,
            limit=PAGE_SIZE + 1,
            offset=filters.offset,
        )
    html = render_template(
        "console/audit.html",
        filters=filters,
        events=[_row(e, program) for e in events[:PAGE_SIZE]],
        more=len(events) > PAGE_SIZE,
        page_size=PAGE_SIZE,
        actions=audit.actions(unit, program.id),
        roles=ACTOR_ROLES,
    )
    return html, 422 if filters.errors else 200


def read_filters(zone: ZoneInfo) -> Filters:
    args = request.args
    found = Filters(
        action=args.get("action", "").strip()[:64],
        role=args.get("role", "").strip(),
        start=args.get("from", "").strip(),
        end=args.get("to", "").strip(),
    )
    if found.role and found.role not in ACTOR_ROLES:
        found.errors["role"] = "Choose one of the listed roles."
        found.role = ""
    offset = args.get("offset", "0").strip() or "0"
    if offset.isdigit() and int(offset) <= MAX_OFFSET:
        found.offset = int(offset)
    else:
        found.errors["offset"] = "The page number is not valid; start again from the first page."
    first, last = _day(found, "from", found.start), _day(found, "to", found.end)
    if first and last and last < first:
        found.errors["to"] = "The end date is before the start date."
    if first:
        found.since = _midnight(first, zone)
    if last:
        found.until = _midnight(last + timedelta(days=1), zone)  # the whole end day
    return found


def _day(found: Filters, name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        found.errors[name] = "Enter a date as YYYY-MM-DD, for example 2026-03-31."
        return None


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _row(event: AuditEvent, program: Program) -> dict[str, str]:
    at = event.at.astimezone(ZoneInfo(program.time_zone))
    details = "; ".join(f"{k}: {_text(v)}" for k, v in sorted(event.details.items()))
    return {
        "at": at.strftime("%Y-%m-%d %H:%M"),
        "iso": at.isoformat(),
        "role": event.actor_role,
        "actor": event.actor,
        "action": event.action,
        "target": event.target_type,
        "details": details,
    }


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)
