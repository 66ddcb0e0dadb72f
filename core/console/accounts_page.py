"""Console pages: who may sign in to a program's console (admins manage the accounts)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core.console.session import ctx, page, section
from core.errors import PeerLineError
from core.schemas.supporters import SupporterQuery
from core.services import accounts, roster
from core.services.access import Ctx


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/accounts", "accounts", list_accounts)
    bp.add_url_rule("/p/<slug>/accounts", "add_account", add_account, methods=["POST"])
    bp.add_url_rule(
        "/p/<slug>/accounts/<uuid:account_id>/<action>",
        "account_action",
        account_action,
        methods=["POST"],
    )
    section("console.accounts", "Console accounts", "admin")


def _page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Any:
    unit = ctx()
    program = g.program
    supporters = roster.list_supporters(unit, program, SupporterQuery())
    return (
        render_template(
            "console/accounts.html",
            accounts=accounts.list_accounts(unit, program.id),
            supporters=[s for s in supporters if s.status != "offboarded"],
            roles=accounts.ROLES,
            form=form or {},
            errors=errors or {},
            now=unit.now,
        ),
        422 if errors else 200,
    )


@page("admin")
def list_accounts(slug: str) -> Any:
    return _page()


@page("admin")
def add_account(slug: str) -> Any:
    form = {k: request.form.get(k, "").strip() for k in ("email", "name", "role", "supporter")}
    password = request.form.get("password", "")
    unit = ctx()
    try:
        supporter = uuid.UUID(form["supporter"]) if form["supporter"] else None
    except ValueError:
        return _page(form, {"supporter_id": "choose a supporter of this program"})
    try:
        accounts.create(
            unit,
            email=form["email"],
            role=form["role"],
            display_name=form["name"],
            program_id=g.program.id,
            supporter_id=supporter,
            password=password or None,
        )
        unit.session.commit()
    except PeerLineError as error:
        unit.session.rollback()
        return _page(form, {error.field or "email": str(error)})
    flash(f"Added {form['email'].lower()}. They can sign in now.")
    return redirect(url_for("console.accounts", slug=slug))


ACTIONS = {"disable": accounts.disable, "unlock": accounts.unlock}


@page("admin")
def account_action(slug: str, account_id: uuid.UUID, action: str) -> Any:
    act = ACTIONS.get(action)
    if act is None:
        return _page(errors={"account": "unknown action"})
    unit: Ctx = ctx()
    target = accounts.get_in_program(unit, account_id, g.program.id)
    act(unit, target.id)
    unit.session.commit()
    flash(f"{target.email}: {'disabled' if action == 'disable' else 'unlocked'}.")
    return redirect(url_for("console.accounts", slug=slug))
