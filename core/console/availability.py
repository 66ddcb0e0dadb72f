"""Console pages: a supporter's weekly hours, date overrides and pause, in their own time zone."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from core.console.session import ctx, page, section
from core.errors import NotFound, PeerLineError, ValidationFailed
from core.models import Supporter
from core.schemas.common import clock_to_minute
from core.schemas.supporters import AvailabilityIn, OverrideIn
from core.services import availability, roster

EVERYONE = ("admin", "coordinator", "supporter")
DAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
SLOT = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-(\d{1,2})-(start|end)$")
OVERRIDE_FIELDS = ("date", "available", "start", "end")


def register(bp: Blueprint) -> None:
    from core.console import who_is_on  # the program-wide week view, beside this editor

    base = "/p/<slug>/supporters/<uuid:supporter_id>/availability"
    bp.add_url_rule(base, "availability", editor)
    bp.add_url_rule(base, "availability_weekly", save_weekly, methods=["POST"])
    bp.add_url_rule(f"{base}/overrides", "override_add", add_override, methods=["POST"])
    bp.add_url_rule(
        f"{base}/overrides/<uuid:override_id>/delete",
        "override_delete",
        delete_override,
        methods=["POST"],
    )
    bp.add_url_rule(f"{base}/pause", "availability_pause", pause, methods=["POST"])
    bp.add_url_rule(f"{base}/resume", "availability_resume", resume, methods=["POST"])
    bp.add_url_rule("/p/<slug>/my-availability", "my_availability", my_availability)
    section("console.my_availability", "My availability", "supporter")
    who_is_on.register(bp)


def field_errors(invalid: ValidationError, fields: Iterable[str]) -> dict[str, str]:
    """Pydantic's errors keyed by the form field they are about ('form' if none)."""
    known = set(fields)
    errors: dict[str, str] = {}
    for error in invalid.errors():
        names = [str(part) for part in error["loc"] if str(part) in known]
        message = str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(names[-1] if names else "form", message)
    return errors


def program_supporter(supporter_id: uuid.UUID) -> Supporter:
    """A supporter of the program in the URL that the signed-in account may see."""
    supporter, _ = roster.get_supporter(ctx(), supporter_id)
    if supporter.program_id != g.program.id:
        raise NotFound("no such supporter", field="supporter_id")
    return supporter


def local_today(supporter: Supporter) -> date:
    return ctx().now.astimezone(ZoneInfo(supporter.time_zone)).date()


def slot_rows(weekly: Iterable[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Per day, the windows to show as (start, end) inputs, plus one empty pair to add with."""
    rows: dict[str, list[tuple[str, str]]] = {day: [] for day in DAYS}
    for day, start, end in weekly:
        rows[day].append((start, "00:00" if end == "24:00" else end))
    for windows in rows.values():
        windows.extend([("", "")] * max(1, 2 - len(windows)))
    return rows


@page(*EVERYONE)
def editor(
    slug: str,
    supporter_id: uuid.UUID,
    errors: dict[str, str] | None = None,
    status: int = 200,
    kind: str = "",
) -> Any:
    supporter = program_supporter(supporter_id)
    saved = availability.get_weekly(ctx(), supporter.id)
    weekly: list[tuple[str, str, str]] = [(w.weekday, w.start, w.end) for w in saved.weekly]
    if kind == "weekly":
        weekly = [(d, start, end) for d, _, start, end in posted_slots() if start or end]
    today = local_today(supporter)
    html = render_template(
        "console/availability.html",
        supporter=supporter,
        days=DAYS,
        rows=slot_rows(weekly),
        overrides=availability.list_overrides(ctx(), supporter.id, since=today),
        now=ctx().now.astimezone(ZoneInfo(supporter.time_zone)),
        today=today,
        errors=errors or {},
        kind=kind,
        form=request.form if kind else {},
    )
    return html, status


def posted_slots() -> list[tuple[str, int, str, str]]:
    """(day, index, start, end) of every window row in the posted weekly form."""
    found: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for key, value in request.form.items():
        match = SLOT.match(key)
        if match:
            found[(match[1], int(match[2]))][match[3]] = value.strip()
    order = list(DAYS)
    return [
        (day, index, times.get("start", ""), times.get("end", ""))
        for (day, index), times in sorted(
            found.items(), key=lambda i: (order.index(i[0][0]), i[0][1])
        )
    ]


def weekly_input() -> tuple[list[dict[str, str]], list[str], dict[str, str]]:
    """The posted windows, the form field of each, and the errors found before validation."""
    windows: list[dict[str, str]] = []
    names: list[str] = []
    errors: dict[str, str] = {}
    for day, index, start, end in posted_slots():
        name = f"{day}-{index}"
        if not start and not end:
            continue
        if not start or not end:
            errors[f"{name}-{'end' if start else 'start'}"] = "give both a start and an end"
            continue
        windows.append({"weekday": day, "start": start, "end": "24:00" if end == "00:00" else end})
        names.append(name)
    return windows, names, errors


def overlaps(windows: list[dict[str, str]], names: list[str]) -> dict[str, str]:
    """Windows on one day that overlap, named by the later window's start field."""
    errors: dict[str, str] = {}
    by_day: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for window, name in zip(windows, names, strict=True):
        span = (clock_to_minute(window["start"]), clock_to_minute(window["end"]), name)
        by_day[window["weekday"]].append(span)
    for spans in by_day.values():
        spans.sort()
        for (_, end, _), (start, _, name) in pairwise(spans):
            if start < end:
                errors[f"{name}-start"] = "overlaps another window on this day"
    return errors


@page(*EVERYONE)
def save_weekly(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = program_supporter(supporter_id)
    windows, names, errors = weekly_input()
    try:
        data = AvailabilityIn.model_validate({"weekly": windows})
    except ValidationError as invalid:
        for error in invalid.errors():
            loc = error["loc"]
            where = f"{names[int(loc[1])]}-{loc[2]}" if len(loc) > 2 else "form"
            message = str(error["msg"]).removeprefix("Value error, ")
            errors.setdefault(where, message.replace("use 24:00", "use 00:00"))
    else:
        errors = errors or overlaps(windows, names)
    if errors:
        return editor(slug, supporter_id, errors, 422, "weekly")
    try:
        availability.set_weekly(ctx(), supporter.id, data)
    except ValidationFailed as refused:
        return editor(slug, supporter_id, {"form": str(refused)}, 422, "weekly")
    flash(f"Saved the weekly hours of {supporter.alias}.")
    return redirect(url_for("console.availability", slug=slug, supporter_id=supporter.id))


@page(*EVERYONE)
def add_override(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = program_supporter(supporter_id)
    form = request.form
    end = form.get("end") or None
    data = {
        "date": form.get("date", ""),
        "available": form.get("available") == "yes",
        "start": form.get("start") or None,
        "end": "24:00" if end == "00:00" else end,
    }
    if form.get("available") not in ("yes", "no"):
        return editor(
            slug, supporter_id, {"available": "choose time off or extra hours"}, 422, "override"
        )
    try:
        override = OverrideIn.model_validate(data, strict=False)
        if override.date < local_today(supporter):
            raise ValidationFailed("date: choose today or a later date", field="date")
        availability.add_override(ctx(), supporter.id, override)
    except ValidationError as invalid:
        return editor(slug, supporter_id, field_errors(invalid, OVERRIDE_FIELDS), 422, "override")
    except ValidationFailed as refused:
        return editor(slug, supporter_id, {refused.field or "form": str(refused)}, 422, "override")
    flash(f"Added {'extra hours' if override.available else 'time off'} on {override.date}.")
    return redirect(url_for("console.availability", slug=slug, supporter_id=supporter.id))


@page(*EVERYONE)
def delete_override(slug: str, supporter_id: uuid.UUID, override_id: uuid.UUID) -> Any:
    supporter = program_supporter(supporter_id)
    availability.delete_override(ctx(), supporter.id, override_id)
    flash("Removed the date override.")
    return redirect(url_for("console.availability", slug=slug, supporter_id=supporter.id))


@page(*EVERYONE)
def pause(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = program_supporter(supporter_id)
    until: date | None = None
    try:
        given = request.form.get("until", "").strip()
        until = datetime.strptime(given, "%Y-%m-%d").date() if given else None
        roster.set_status(ctx(), supporter.id, "paused", until=until)
    except ValueError:
        return editor(slug, supporter_id, {"until": "use a date like 2026-03-31"}, 422, "pause")
    except PeerLineError as refused:
        problem = {refused.field or "until": str(refused)}
        return editor(slug, supporter_id, problem, refused.status, "pause")
    flash(f"{supporter.alias} is paused{f' until {until}' if until else ''}: no new offers.")
    return redirect(url_for("console.availability", slug=slug, supporter_id=supporter.id))


@page(*EVERYONE)
def resume(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = program_supporter(supporter_id)
    roster.set_status(ctx(), supporter.id, "active")
    flash(f"{supporter.alias} is active again.")
    return redirect(url_for("console.availability", slug=slug, supporter_id=supporter.id))


@page("supporter")
def my_availability(slug: str) -> Any:
    mine = g.principal.supporter_id
    if mine is None:
        raise NotFound("this account is not linked to a supporter", field="supporter_id")
    return redirect(url_for("console.availability", slug=slug, supporter_id=mine))
