"""The console's front page: the programs an account may open, and each program's overview."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, url_for

from core.console.session import account, ctx, page
from core.models import Program
from core.services import programs

STAFF = ("admin", "coordinator")
EVERYONE = ("admin", "coordinator", "supporter")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/", "home", home)
    bp.add_url_rule("/p/<slug>/", "program_home", program_home)


@page(*EVERYONE)
def home() -> Any:
    signed = account()
    assert signed is not None
    if signed.program_id is not None:
        mine = ctx().session.get(Program, signed.program_id)
        assert mine is not None  # a foreign key
        return redirect(url_for("console.program_home", slug=mine.slug))
    return render_template("console/home.html", programs=programs.list_programs(ctx()))


@page(*EVERYONE)
def program_home(slug: str) -> Any:
    return render_template("console/program.html", program=g.program)
