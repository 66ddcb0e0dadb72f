"""Console roster: search and filter supporters, add, edit, pause, resume and offboard."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from core.console import roster_csv_pages
from core.console.session import ctx, page, section
from core.errors import NotFound, PeerLineError
from core.models import Program, Supporter
from core.schemas.supporters import SupporterIn, SupporterPatch, SupporterQuery
from core.services import roster

STAFF = ("admin", "coordinator")
ADMIN = ("admin",)
TRAINING_STATES = ("current", "expiring", "lapsed", "missing")
TRAINING_BADGE = {"current": "good", "expiring": "warn", "lapsed": "bad", "missing": "bad"}
LISTS = ("languages", "topics", "modes")
PLATFORMS = ("email", "slack", "teams")
PAGE_SIZE = 50
FIELDS = ("alias", "external_ref", "time_zone", "weekly_cap", "concurrent_cap", *PLATFORMS)
Errors = dict[str, str]


def register(bp: Blueprint) -> None:
    """Add this area's pages to the console blueprint (and core.console.session.section)."""
    base = "/p/<slug>/roster"
    person = f"{base}/<uuid:supporter_id>"
    bp.add_url_rule(base, "roster", roster_list)
    bp.add_url_rule(f"{base}/new", "roster_new", new_form)
    bp.add_url_rule(f"{base}/new", "roster_add", add, methods=["POST"])
    bp.add_url_rule(person, "roster_supporter", supporter_page)
    bp.add_url_rule(person, "roster_edit", edit, methods=["POST"])
    bp.add_url_rule(f"{person}/pause", "roster_pause", pause, methods=["POST"])
    bp.add_url_rule(f"{person}/resume", "roster_resume", resume, methods=["POST"])
    bp.add_url_rule(f"{person}/offboard", "roster_offboard_confirm", offboard_confirm)
    bp.add_url_rule(f"{person}/offboard", "roster_offboard", offboard, methods=["POST"])
    roster_csv_pages.register(bp, base)
    section("console.roster", "Roster", *STAFF)


def today(program: Program) -> date:
    return ctx().now.astimezone(ZoneInfo(program.time_zone)).date()


def training_badge(supporter: Supporter, program: Program, on: date) -> tuple[str, str]:
    """current / expiring (within the program's first reminder) / lapsed / missing, and why."""
    state = roster.training_state(supporter, program.required_trainings, on)
    if not state.current:
        lapsed = any(r.startswith("training lapsed") for r in state.reasons)
        return ("lapsed" if lapsed else "missing"), "; ".join(state.reasons)
    window = max(program.training_reminder_days or [90])
    if state.trained_until is not None and (state.trained_until - on).days <= window:
        return "expiring", f"lapses on {state.trained_until.isoformat()}"
    return "current", ""


@page(*STAFF)
def roster_list(slug: str) -> Any:
    program: Program = g.program
    args = {k: v for k in ("status", "topic", "language") if (v := request.args.get(k, ""))}
    search = request.args.get("q", "").strip()
    training = request.args.get("training", "")
    errors: Errors = {}
    try:
        query = SupporterQuery.model_validate(args)
    except ValidationError as exc:
        errors = form_errors(exc)
        query = SupporterQuery()
    if training and training not in TRAINING_STATES:
        errors["training"] = f"choose one of {', '.join(TRAINING_STATES)}"
    number = request.args.get("page", "1").strip() or "1"
    if not (number.isdigit() and 1 <= int(number) <= 10_000):
        errors["page"] = "The page number is not valid; start again from the first page."
        number = "1"
    on = today(program)
    rows = []
    for s in roster.list_supporters(ctx(), program, query):
        state, note = training_badge(s, program, on)
        if search.casefold() in s.alias.casefold() and training in ("", state):
            rows.append((roster.supporter_out(s, program, on), state, note))
    if errors:
        rows = []
    filters = {**args, "q": search, "training": training}
    first = (int(number) - 1) * PAGE_SIZE
    kept = {k: v for k, v in filters.items() if v}
    return render_template(
        "console/roster.html",
        rows=rows[first : first + PAGE_SIZE],
        total=len(rows),
        first=first,
        page_number=int(number),
        pages={
            "prev": {**kept, "page": int(number) - 1} if first > 0 else None,
            "next": {**kept, "page": int(number) + 1} if first + PAGE_SIZE < len(rows) else None,
        },
        filters=filters,
        errors=errors,
        states=TRAINING_STATES,
        badge=TRAINING_BADGE,
    ), (422 if errors else 200)


def form_errors(exc: ValidationError, contact_fields: list[str] | None = None) -> Errors:
    """pydantic's errors keyed by the form field they are about, in plain words."""
    errors: Errors = {}
    for error in exc.errors():
        loc = error["loc"]
        name = str(loc[0]) if loc else "form"
        if name == "contacts" and len(loc) > 1 and isinstance(loc[1], int):
            fields = contact_fields or []
            name = fields[loc[1]] if loc[1] < len(fields) else "contacts"
        errors.setdefault(name, _message(error))
    return errors


def _message(error: Any) -> str:
    kind, bounds = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "too_short" and "min_length" in bounds:
        return "choose at least one"
    if kind == "string_too_short":
        return f"give at least {bounds['min_length']} characters"
    if kind == "int_parsing":
        return "must be a whole number"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = bounds.get("ge", bounds.get("le"))
        return f"must be {'at least' if 'ge' in bounds else 'at most'} {bound}"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} is not valid here"
    return str(error["msg"]).removeprefix("Value error, ")


def form_payload(
    form: MultiDict[str, str], kept: list[dict[str, str]]
) -> tuple[dict[str, Any], list[str]]:
    """The form as SupporterIn/Patch input, and which form field each contact came from."""
    payload: dict[str, Any] = {n: form.get(n, "").strip() for n in ("alias", "time_zone")}
    payload.update({n: form.getlist(n) for n in LISTS})
    for name in ("external_ref", "weekly_cap", "concurrent_cap"):
        payload[name] = form.get(name, "").strip() or None
    contacts = [
        (p, address.strip())
        for p in PLATFORMS
        for address in form.get(p, "").replace("\n", ";").split(";")
        if address.strip()
    ]
    payload["contacts"] = [{"platform": p, "address": a} for p, a in contacts] + kept
    return payload, [p for p, _ in contacts]


def values_of(supporter: Supporter | None, program: Program) -> dict[str, Any]:
    """What the form shows before anything is typed."""
    if supporter is None:
        return {"time_zone": program.time_zone, "modes": list(program.modes)}
    values: dict[str, Any] = {n: getattr(supporter, n) or "" for n in FIELDS[:5]}
    values.update({n: list(getattr(supporter, n)) for n in LISTS})
    for p in PLATFORMS:
        values[p] = "; ".join(c.address for c in supporter.contacts if c.platform == p)
    return values


def submitted() -> dict[str, Any]:
    values: dict[str, Any] = {n: request.form.get(n, "") for n in FIELDS}
    values.update({n: request.form.getlist(n) for n in LISTS})
    return values


def service_errors(error: PeerLineError) -> Errors:
    ctx().session.rollback()
    field = error.field or "form"
    return {field: error.message.removeprefix(f"{field}: ")}


@page(*ADMIN)
def new_form(slug: str) -> Any:
    return render_template("console/roster_form.html", values=values_of(None, g.program), errors={})


@page(*ADMIN)
def add(slug: str) -> Any:
    program: Program = g.program
    payload, contact_fields = form_payload(request.form, [])
    try:
        supporter = roster.add_supporter(
            ctx(), program, SupporterIn.model_validate(payload, strict=False)
        )
    except ValidationError as exc:
        return _form_again(form_errors(exc, contact_fields), 422)
    except PeerLineError as error:
        return _form_again(service_errors(error), error.status)
    flash(f"{supporter.alias} was added to the roster.")
    return redirect(url_for("console.roster_supporter", slug=slug, supporter_id=supporter.id))


def _form_again(errors: Errors, status: int) -> Any:
    return render_template("console/roster_form.html", values=submitted(), errors=errors), status


def supporter_in_program(supporter_id: uuid.UUID) -> Supporter:
    """The supporter in the URL, only if it belongs to the program in the URL."""
    found = ctx().session.get(Supporter, supporter_id)
    if found is None or found.program_id != g.program.id:
        raise NotFound("no such supporter in this program", field="supporter_id")
    return roster.get_supporter(ctx(), supporter_id)[0]


def detail(supporter: Supporter, values: dict[str, Any], errors: Errors, status: int) -> Any:
    program: Program = g.program
    on = today(program)
    state, note = training_badge(supporter, program, on)
    return render_template(
        "console/roster_form.html",
        supporter=roster.supporter_out(supporter, program, on),
        values=values,
        errors=errors,
        training=(state, note, TRAINING_BADGE[state]),
        today=on,
    ), status


@page(*STAFF)
def supporter_page(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = supporter_in_program(supporter_id)
    return detail(supporter, values_of(supporter, g.program), {}, 200)


@page(*ADMIN)
def edit(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = supporter_in_program(supporter_id)
    kept = [
        {"platform": c.platform, "address": c.address}
        for c in supporter.contacts
        if c.platform not in PLATFORMS
    ]
    payload, contact_fields = form_payload(request.form, kept)
    if supporter.status == "offboarded":
        del payload["contacts"]  # an offboarded supporter keeps no contact data
    try:
        patch = SupporterPatch.model_validate(payload, strict=False)
        roster.update_supporter(ctx(), supporter.id, patch)
    except ValidationError as exc:
        return detail(supporter, submitted(), form_errors(exc, contact_fields), 422)
    except PeerLineError as error:
        errors = service_errors(error)
        return detail(supporter_in_program(supporter_id), submitted(), errors, error.status)
    flash(f"Changes to {supporter.alias} were saved.")
    return redirect(url_for("console.roster_supporter", slug=slug, supporter_id=supporter.id))


def _status_change(supporter_id: uuid.UUID, status: str, until: date | None, done: str) -> Any:
    supporter = supporter_in_program(supporter_id)
    try:
        roster.set_status(ctx(), supporter.id, status, until=until)
    except PeerLineError as error:
        errors = service_errors(error)
        again = supporter_in_program(supporter_id)
        return detail(again, values_of(again, g.program), errors, error.status)
    flash(f"{supporter.alias} {done}.")
    slug = g.program.slug
    return redirect(url_for("console.roster_supporter", slug=slug, supporter_id=supporter_id))


@page(*STAFF)
def pause(slug: str, supporter_id: uuid.UUID) -> Any:
    text = request.form.get("until", "").strip()
    try:
        until = date.fromisoformat(text) if text else None
    except ValueError:
        supporter = supporter_in_program(supporter_id)
        errors = {"until": "give a date such as 2026-12-31"}
        return detail(supporter, values_of(supporter, g.program), errors, 422)
    done = f"is paused until {until.isoformat()}" if until else "is paused"
    return _status_change(supporter_id, "paused", until, done)


@page(*STAFF)
def resume(slug: str, supporter_id: uuid.UUID) -> Any:
    return _status_change(supporter_id, "active", None, "is active again")


@page(*ADMIN)
def offboard_confirm(slug: str, supporter_id: uuid.UUID) -> Any:
    supporter = supporter_in_program(supporter_id)
    return render_template("console/roster_offboard.html", supporter=supporter)


@page(*ADMIN)
def offboard(slug: str, supporter_id: uuid.UUID) -> Any:
    if request.form.get("confirm") != "yes":
        supporter = supporter_in_program(supporter_id)
        message = "Tick the box to confirm the offboarding."
        return render_template(
            "console/roster_offboard.html", supporter=supporter, error=message
        ), 422
    return _status_change(supporter_id, "offboarded", None, "was offboarded")
