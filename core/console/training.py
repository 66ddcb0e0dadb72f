"""Console pages: the program's required trainings, everyone's records and who is unmatchable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from core.console.availability import field_errors, program_supporter
from core.console.session import ctx, page, section
from core.errors import NotFound, PeerLineError
from core.models import Program, Supporter, TrainingRecord
from core.schemas.supporters import SupporterQuery, TrainingIn
from core.services import roster

STAFF = ("admin", "coordinator")
SOON, VERY_SOON = 90, 30  # days before expiry that earn a warning, then an urgent one
FIELDS = ("supporter", "name", "completed_on", "expires_on")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/training", "training", training_page)
    bp.add_url_rule("/p/<slug>/training/records", "training_add", add_record, methods=["POST"])
    bp.add_url_rule(
        "/p/<slug>/training/<uuid:supporter_id>/records/<uuid:training_id>/delete",
        "training_delete",
        delete_record,
        methods=["POST"],
    )
    bp.add_url_rule("/p/<slug>/my-trainings", "my_trainings", my_trainings)
    section("console.training", "Training", *STAFF)
    section("console.my_trainings", "My trainings", "supporter")


@dataclass(frozen=True)
class Badge:
    """How one training looks today: a label and the console.css badge class."""

    label: str
    tone: str  # good | warn | bad | lapsed | muted


@dataclass(frozen=True)
class Row:
    """One line of a supporter's training table: a record, or a required training missing."""

    name: str
    badge: Badge
    record: TrainingRecord | None = None


def today_in(program: Program) -> date:
    return ctx().now.astimezone(ZoneInfo(program.time_zone)).date()


def badge_of(record: TrainingRecord, today: date, renewed: bool = False) -> Badge:
    """Lapsed on the expiry day itself (as roster.training_state decides), else days left."""
    if record.completed_on > today:
        return Badge(f"valid from {record.completed_on.isoformat()}", "warn")
    if record.expires_on is None:
        return Badge("current, no expiry", "good")
    left = (record.expires_on - today).days
    if left <= 0:
        return Badge("renewed", "muted") if renewed else Badge("lapsed", "lapsed")
    days = "1 day" if left == 1 else f"{left} days"
    if left <= VERY_SOON:
        return Badge(f"expires in {days}", "bad")
    if left <= SOON:
        return Badge(f"expires in {days}", "warn")
    return Badge("current", "good")


def rows_of(supporter: Supporter, required: list[str], today: date) -> list[Row]:
    """Every record with its badge, then each required training with no record at all."""
    current = {
        t.name.casefold()
        for t in supporter.trainings
        if t.completed_on <= today and (t.expires_on is None or t.expires_on > today)
    }
    rows = [
        Row(t.name, badge_of(t, today, renewed=t.name.casefold() in current), t)
        for t in supporter.trainings
    ]
    held = {t.name.casefold() for t in supporter.trainings}
    rows += [Row(n, Badge("missing", "lapsed")) for n in required if n.casefold() not in held]
    return rows


@page(*STAFF)
def training_page(slug: str, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    program: Program = g.program
    today = today_in(program)
    people = [
        s
        for s in roster.list_supporters(ctx(), program, SupporterQuery())
        if s.status != "offboarded"
    ]
    reasons = [(s, roster.unmatchable_reasons(s, program, today)) for s in people]
    page_html = render_template(
        "console/training.html",
        today=today,
        required=program.required_trainings,
        supporters=[(s, rows_of(s, program.required_trainings, today)) for s in people],
        unmatchable=[(s, why) for s, why in reasons if why],
        errors=errors or {},
        form=request.form if errors else {},
    )
    return page_html, status


@page(*STAFF)
def add_record(slug: str) -> Any:
    form = request.form
    name = form.get("name", "")
    data = {
        "name": name,
        "completed_on": form.get("completed_on", ""),
        "expires_on": form.get("expires_on") or None,
    }
    try:
        supporter = program_supporter(uuid.UUID(form.get("supporter", "")))
    except (ValueError, NotFound):
        return training_page(slug, {"supporter": "Choose a supporter of this program."}, 422)
    try:
        roster.add_training(ctx(), supporter.id, TrainingIn.model_validate(data, strict=False))
    except ValidationError as invalid:
        return training_page(slug, field_errors(invalid, FIELDS), 422)
    except PeerLineError as refused:
        return training_page(slug, {refused.field or "name": str(refused)}, refused.status)
    flash(f"Recorded {name.strip()} for {supporter.alias}.")
    return redirect(url_for("console.training", slug=slug))


@page(*STAFF)
def delete_record(slug: str, supporter_id: uuid.UUID, training_id: uuid.UUID) -> Any:
    supporter = program_supporter(supporter_id)
    roster.delete_training(ctx(), supporter.id, training_id)
    flash(f"Deleted a training record of {supporter.alias}.")
    return redirect(url_for("console.training", slug=slug))


@page("supporter")
def my_trainings(slug: str) -> Any:
    program: Program = g.program
    mine = g.principal.supporter_id
    if mine is None:
        raise NotFound("this account is not linked to a supporter", field="supporter_id")
    supporter = program_supporter(mine)
    today = today_in(program)
    return render_template(
        "console/training_mine.html",
        supporter=supporter,
        today=today,
        required=program.required_trainings,
        rows=rows_of(supporter, program.required_trainings, today),
        reasons=roster.unmatchable_reasons(supporter, program, today),
    )
