"""Program settings: policies, offerings and crisis resources (admins edit, coordinators view)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from core.console.session import ctx, page, section
from core.errors import ValidationFailed
from core.models import Program
from core.schemas.programs import CrisisResource, ProgramPatch
from core.services import programs

NUMBERS: tuple[tuple[str, str, str], ...] = (
    ("session_minutes", "Session length (minutes)", "10 to 240"),
    ("buffer_minutes", "Buffer between sessions (minutes)", "0 to 120"),
    ("slot_step_minutes", "Start times every (minutes)", "5 to 120"),
    ("min_notice_minutes", "Minimum notice for a booking (minutes)", "0 to 10080"),
    ("horizon_days", "Bookable this many days ahead", "1 to 180"),
    ("change_cutoff_minutes", "Cancel or move until (minutes before)", "0 to 10080"),
    ("offer_timeout_minutes", "An offer waits for an answer (minutes)", "1 to 1440"),
    ("offer_batch_size", "Supporters offered a request at once", "1 to 10"),
    ("now_wait_minutes", "A talk-now request waits (minutes)", "5 to 1440"),
    ("weekly_cap", "Sessions per supporter per week", "1 to 100"),
    ("concurrent_cap", "Chats per supporter at the same time", "1 to 20"),
    ("retention_days", "Keep a request's free text after it closes (days)", "0 to 365"),
    ("min_report_group", "Smallest group a report shows", "Never below 5; up to 1000"),
)
NUMBER_LISTS: tuple[tuple[str, str, str], ...] = (
    ("reminder_minutes", "Session reminders (minutes before)", "Up to 4, comma-separated"),
    ("training_reminder_days", "Training expiry notices (days before)", "Up to 4, comma-separated"),
)
WORD_LISTS: tuple[tuple[str, str, str], ...] = (
    ("topics", "Topics offered", "Comma-separated, e.g. stress, grief"),
    ("languages", "Languages offered", "Language codes, comma-separated, e.g. en, es, fr-CA"),
)
MODES = (("text", "Text chat"), ("video", "Video call"), ("in_person", "In person"))
CRISIS_FIELDS = ("locale", "name", "contact", "description", "url")
POLICY_NAMES = frozenset(name for name, _, _ in NUMBERS + NUMBER_LISTS) | {
    "required_trainings",
    "notify_email",
}
_WHOLE = re.compile(r"^-?\d{1,9}$")


@dataclass
class SettingsForm:
    """What the form shows: text as typed, and a message per field id that was wrong."""

    values: dict[str, str] = field(default_factory=dict)
    modes: list[str] = field(default_factory=list)
    crisis: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/settings", "settings", show, methods=["GET"])
    bp.add_url_rule("/p/<slug>/settings", "settings_save", save, methods=["POST"])
    section("console.settings", "Settings", "admin", "coordinator")


@page("admin", "coordinator")
def show(slug: str) -> Any:
    return _render(form_of(g.program), 200)


@page("admin")
def save(slug: str) -> Any:
    program: Program = g.program
    form = form_from_request()
    patch = changes(form, program)
    if form.errors or patch is None:
        return _render(form, 422)
    if not patch.model_fields_set:
        flash("Nothing changed.", "status")
        return redirect(url_for("console.settings", slug=slug))
    try:
        programs.update_program(ctx(), slug, patch)
    except ValidationFailed as failed:
        ctx().session.rollback()
        form.errors[failed.field or "form"] = str(failed)
        return _render(form, 422)
    flash("Settings saved.", "status")
    return redirect(url_for("console.settings", slug=slug))


def _render(form: SettingsForm, status: int) -> tuple[str, int]:
    page_html = render_template(
        "console/settings.html",
        form=form,
        numbers=NUMBERS,
        number_lists=NUMBER_LISTS,
        word_lists=WORD_LISTS,
        mode_choices=MODES,
        crisis_fields=CRISIS_FIELDS,
        editable=g.principal.role == "admin",
    )
    return page_html, status


def form_of(program: Program) -> SettingsForm:
    """The form filled with what the program has now, plus one empty crisis row to add."""
    current = programs.program_out(program)
    policy = current.policy.model_dump(mode="json")
    values = {name: str(policy[name]) for name, _, _ in NUMBERS}
    for name, _, _ in NUMBER_LISTS:
        values[name] = ", ".join(str(n) for n in policy[name])
    values["required_trainings"] = "\n".join(policy["required_trainings"])
    values["notify_email"] = policy["notify_email"] or ""
    values["topics"] = ", ".join(current.topics)
    values["languages"] = ", ".join(current.languages)
    crisis = [
        {name: str(getattr(r, name) or "") for name in CRISIS_FIELDS}
        for r in current.crisis_resources
    ]
    return SettingsForm(values, list(current.modes), [*crisis, _blank_row()])


def form_from_request() -> SettingsForm:
    names = [n for n, _, _ in NUMBERS + NUMBER_LISTS + WORD_LISTS]
    values = {n: request.form.get(n, "").strip() for n in names}
    values["required_trainings"] = request.form.get("required_trainings", "")
    values["notify_email"] = request.form.get("notify_email", "").strip()
    count = _row_count(request.form.get("crisis_count", "0"))
    crisis = []
    for i in range(count):
        row = {f: request.form.get(f"crisis-{i}-{f}", "").strip() for f in CRISIS_FIELDS}
        row["remove"] = "1" if request.form.get(f"crisis-{i}-remove") else ""
        crisis.append(row)
    if not crisis or any(crisis[-1][f] for f in CRISIS_FIELDS):
        crisis.append(_blank_row())
    return SettingsForm(values, request.form.getlist("modes"), crisis)


def changes(form: SettingsForm, program: Program) -> ProgramPatch | None:
    """The patch of what differs from the program now; None (errors in `form`) if invalid."""
    wanted, rows = _typed(form)
    if form.errors:
        return None
    current = form_of(program)
    now_typed, _ = _typed(current)
    policy = {k: v for k, v in wanted["policy"].items() if now_typed["policy"].get(k) != v}
    body: dict[str, Any] = {k: v for k, v in wanted.items() if k != "policy" and v != now_typed[k]}
    if policy:
        body["policy"] = policy
    try:
        patch = ProgramPatch.model_validate(body)
    except ValidationError as invalid:
        for error in invalid.errors():
            form.errors.setdefault(_field_id(error["loc"], rows), _message(error))
        return None
    if "crisis_resources" in body and _normal(patch) == _normal_stored(program):
        del body["crisis_resources"]  # only spelled differently (a URL's final slash)
        patch = ProgramPatch.model_validate(body)
    return patch


def _typed(form: SettingsForm) -> tuple[dict[str, Any], list[int]]:
    """Form text as the schema's types; problems go to form.errors by field id."""
    policy: dict[str, Any] = {}
    for name, _, _ in NUMBERS:
        policy[name] = _whole(form, name, form.values.get(name, ""))
    for name, _, _ in NUMBER_LISTS:
        parts = [p for p in re.split(r"[,\s]+", form.values.get(name, "")) if p]
        policy[name] = [_whole(form, name, p) for p in parts]
    lines = form.values.get("required_trainings", "").splitlines()
    policy["required_trainings"] = [line.strip() for line in lines if line.strip()]
    policy["notify_email"] = form.values.get("notify_email") or None
    words = {n: _words(form.values.get(n, "")) for n, _, _ in WORD_LISTS}
    rows = [i for i, r in enumerate(form.crisis) if not r.get("remove") and _filled(r)]
    crisis = [_resource(form.crisis[i]) for i in rows]
    return {"policy": policy, **words, "modes": form.modes, "crisis_resources": crisis}, rows


def _whole(form: SettingsForm, name: str, text: str) -> int:
    if not _WHOLE.match(text):
        form.errors.setdefault(name, "Enter a whole number." if text else "This is required.")
        return 0
    return int(text)


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _filled(row: dict[str, str]) -> bool:
    return any(row.get(f) for f in CRISIS_FIELDS)


def _resource(row: dict[str, str]) -> dict[str, str]:
    return {f: row[f] for f in CRISIS_FIELDS if row.get(f) or f != "url"}


def _blank_row() -> dict[str, str]:
    return dict.fromkeys((*CRISIS_FIELDS, "remove"), "")


def _row_count(text: str) -> int:
    return min(int(text), 31) if text.isdigit() else 0


def _normal(patch: ProgramPatch) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in patch.crisis_resources or []]


def _normal_stored(program: Program) -> list[dict[str, Any]]:
    return [
        CrisisResource.model_validate(r, strict=False).model_dump(mode="json")
        for r in program.crisis_resources
    ]


def _field_id(loc: tuple[int | str, ...], rows: list[int]) -> str:
    """The form control a pydantic error location belongs to."""
    if loc and loc[0] == "policy" and len(loc) > 1:
        return str(loc[1])
    if loc and loc[0] == "crisis_resources":
        if len(loc) > 2 and isinstance(loc[1], int) and loc[1] < len(rows):
            return f"crisis-{rows[loc[1]]}-{loc[2]}"
        return "crisis"
    return str(loc[0]) if loc else "form"


def _message(error: Any) -> str:
    """pydantic's message, in words a person can act on (never the input echoed)."""
    kind, loc = error["type"], error["loc"]
    if kind == "string_pattern_mismatch":
        if loc[0] == "languages" or loc[-1] == "locale":
            return "Use language codes such as en, es or en-GB."
        if loc[-1] == "notify_email":
            return "Enter an e-mail address such as peer-support@example.org."
    if kind == "greater_than_equal" and loc[-1] == "min_report_group":
        return "Never below 5: smaller groups could identify people."
    if kind.startswith("url_"):
        return "Enter a full web address starting with https://"
    if kind == "too_short" and loc[0] in ("topics", "languages", "modes"):
        return "Choose at least one."
    return str(error["msg"])
