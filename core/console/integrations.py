"""Integrations: delivery health with dead letters to retry, and panels the plugins contribute.

Plugins add a panel from their init hook with `add_panel(host.app, panel)`; a panel is a
function of (unit of work, program) that says what to show. A plugin may also offer a file
to admins (an app package to upload elsewhere) with `add_download(host.app, name, make)`;
its panel links to `download_url(program, name)`. This module is part of the core's public
surface, so plugins may import it (they never see the console's views).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    url_for,
)

from core.console.session import ctx, page, section
from core.errors import Conflict, NotFound
from core.models import Delivery, Program
from core.services import dead_letters
from core.services.access import Ctx

log = logging.getLogger(__name__)
PANELS = "peerline_console_panels"
DOWNLOADS = "peerline_console_downloads"


@dataclass(frozen=True)
class PanelProgram:
    """What a panel learns of the program it is shown for."""

    id: uuid.UUID
    slug: str
    name: str
    kind: str


@dataclass(frozen=True)
class PanelInfo:
    """One plugin's box on the page: facts as (label, value), links as (label, url), notes.

    Never a secret or a token: everything here is shown to the program's admins.
    """

    title: str
    rows: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()


ConsolePanel = Callable[[Ctx, PanelProgram], PanelInfo | None]
"""A plugin's panel; None when it has nothing to say for this program.

The Ctx is the signed-in admin's unit of work, for core services; a panel reading the
plugin's own tables through the engine must not keep the Ctx's session in a transaction.
"""


def add_panel(app: Flask, panel: ConsolePanel) -> None:
    """Show `panel` on every program's Integrations page (plugins call it from their hook)."""
    panels: list[ConsolePanel] = app.extensions.setdefault(PANELS, [])
    panels.append(panel)


def panels_of(app: Flask) -> list[ConsolePanel]:
    return list(app.extensions.get(PANELS, []))


@dataclass(frozen=True)
class Download:
    """A file a plugin hands to a program's admins; never one holding a secret."""

    filename: str
    content_type: str
    body: bytes


class NotReady(Exception):
    """Raised by a download maker when the file cannot be made yet; the message says why."""


MakeDownload = Callable[[Ctx, PanelProgram], Download]


def add_download(app: Flask, name: str, make: MakeDownload) -> None:
    """Offer admins the file `make` builds at download_url(program, name)."""
    downloads: dict[str, MakeDownload] = app.extensions.setdefault(DOWNLOADS, {})
    if name in downloads:
        raise ValueError(f"a console download named {name!r} exists")
    downloads[name] = make


def download_url(program: PanelProgram, name: str) -> str:
    """Where a panel links for the download `name` (called while a page is being built)."""
    return url_for("console.integrations_download", slug=program.slug, name=name)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/integrations", "integrations", show, methods=["GET"])
    bp.add_url_rule(
        "/p/<slug>/integrations/deliveries/<uuid:delivery_id>/retry",
        "integrations_retry",
        retry,
        methods=["POST"],
    )
    bp.add_url_rule("/p/<slug>/integrations/download/<name>", "integrations_download", download)
    section("console.integrations", "Integrations", "admin")


@page("admin")
def show(slug: str) -> Any:
    program: Program = g.program
    unit = ctx()
    # end this request's transaction first: panels read through their own connections, and
    # on SQLite an open transaction here would lock them out
    unit.session.commit()
    panels = _panels(unit, program)
    return render_template(
        "console/integrations.html",
        summary=dead_letters.summary(unit, program),
        dead=dead_letters.dead(unit, program),
        panels=panels,
    )


@page("admin")
def retry(slug: str, delivery_id: uuid.UUID) -> Any:
    unit = ctx()
    found = unit.session.get(Delivery, delivery_id)
    if found is None or found.program_id != g.program.id:
        raise NotFound("no such message in this program", field="delivery_id")
    try:
        dead_letters.retry(unit, delivery_id)
    except Conflict as conflict:
        unit.session.rollback()
        flash(f"Not retried: {conflict}.", "error")
    else:
        flash(f"The {found.kind} message will be sent again.", "status")
    return redirect(url_for("console.integrations", slug=slug))


@page("admin")
def download(slug: str, name: str) -> Any:
    program: Program = g.program
    make = current_app.extensions.get(DOWNLOADS, {}).get(name)
    if make is None:
        raise NotFound("no such download", field="name")
    seen = PanelProgram(program.id, program.slug, program.name, program.kind)
    try:
        made = make(ctx(), seen)
    except NotReady as reason:
        flash(f"Not downloaded: {reason}", "error")
        return redirect(url_for("console.integrations", slug=slug))
    response = Response(made.body, mimetype=made.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    return response


def _panels(unit: Ctx, program: Program) -> list[PanelInfo]:
    """Each plugin's panel; one that fails is replaced by a notice, never a broken page."""
    seen = PanelProgram(program.id, program.slug, program.name, program.kind)
    shown: list[PanelInfo] = []
    for panel in panels_of(current_app):
        try:
            info = panel(unit, seen)
        except Exception:
            log.exception("console panel %r failed", getattr(panel, "__name__", panel))
            info = PanelInfo("An integration", notes=("This panel could not be shown just now.",))
        if info is not None:
            shown.append(info)
    return shown
