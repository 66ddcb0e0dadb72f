"""Console roster files: CSV import with a dry-run preview before anything is stored, and export."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from core.console.session import allow_large_post, ctx, page
from core.errors import CsvImportFailed
from core.models import Program, Supporter
from core.services import roster_csv, roster_import
from core.services.roster_import import ImportSummary

FORM_ROOM = 16 * 1024
"""Room left in a request for the rest of the form, so a previewed file fits its confirm post."""


@dataclass(frozen=True)
class PreviewRow:
    line: int
    alias: str
    action: str  # "add", "change" or "unchanged"


def register(bp: Blueprint, base: str) -> None:
    """Import and export pages under the roster's URL."""
    bp.add_url_rule(f"{base}/import", "roster_import", upload_form)
    bp.add_url_rule(f"{base}/import", "roster_import_preview", preview, methods=["POST"])
    bp.add_url_rule(f"{base}/import/confirm", "roster_import_confirm", confirm, methods=["POST"])
    bp.add_url_rule(f"{base}/export.csv", "roster_export", export)
    # the two import posts carry a whole roster file, more than the app's usual limit
    for endpoint in ("console.roster_import_preview", "console.roster_import_confirm"):
        allow_large_post(endpoint, max_bytes() + FORM_ROOM)


def max_bytes() -> int:
    """The largest roster file the import takes, as the API and the CLI."""
    return roster_csv.MAX_BYTES


def _page(status: int = 200, **shown: Any) -> tuple[str, int]:
    shown.setdefault("errors", [])
    limit_kb = max_bytes() // 1024
    return render_template("console/roster_import.html", limit_kb=limit_kb, **shown), status


def _file_error(message: str) -> tuple[str, int]:
    return _page(422, file_error=message)


@page("admin")
def upload_form(slug: str) -> Any:
    return _page()


@page("admin")
def preview(slug: str) -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _file_error("choose a CSV file to upload")
    data = upload.stream.read(max_bytes() + 1)
    if len(data) > max_bytes():
        return _file_error(f"the file is too large: at most {max_bytes() // 1024} KB")
    try:
        text = roster_csv.decode(data)
    except CsvImportFailed as failed:
        return _file_error(failed.row_errors[0]["message"])
    return _dry_run(g.program, text)


def _dry_run(program: Program, text: str) -> Any:
    try:
        summary = roster_import.import_csv(ctx(), program, text, dry_run=True)
    except CsvImportFailed as failed:
        ctx().session.rollback()
        return _page(422, errors=failed.row_errors, message=failed.message)
    return _page(summary=summary, rows=planned(program, text), csv_text=text)


def planned(program: Program, text: str) -> list[PreviewRow]:
    """What each row of a file without errors would do, by the import's own matching rule."""
    session = ctx().session
    existing = session.scalars(select(Supporter).where(Supporter.program_id == program.id)).all()
    by_ref = {s.external_ref: s for s in existing if s.external_ref}
    by_alias = {s.alias: s for s in existing}
    rows = []
    for result in roster_csv.parse(text, program):
        if result.data is None:
            continue
        target, _ = roster_import._match(result, by_ref, by_alias)
        if target is None:
            action = "add"
        else:
            action = "unchanged" if roster_import._same(target, result) else "change"
        rows.append(PreviewRow(result.row, result.data.alias, action))
    return rows


@page("admin")
def confirm(slug: str) -> Any:
    text = request.form.get("csv", "")
    if not text.strip():
        return _file_error("the file to import was missing; upload it again")
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes():
        return _file_error(f"the file is too large: at most {max_bytes() // 1024} KB")
    try:
        summary = roster_import.import_csv(ctx(), g.program, text)
    except CsvImportFailed as failed:
        ctx().session.rollback()
        return _page(422, errors=failed.row_errors, message=failed.message)
    flash(f"Roster imported: {describe(summary)}.")
    return redirect(url_for("console.roster", slug=slug))


def describe(summary: ImportSummary) -> str:
    return f"{summary.created} added, {summary.updated} changed, {summary.unchanged} unchanged"


@page("admin", "coordinator")
def export(slug: str) -> Response:
    program: Program = g.program
    text = roster_csv.export_csv(ctx(), program)
    on: date = ctx().now.astimezone(ZoneInfo(program.time_zone)).date()
    safe = re.sub(r"[^a-z0-9-]+", "-", program.slug.lower()).strip("-") or "program"
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="peerline-roster-{safe}-{on.isoformat()}.csv"'
    )
    return response
