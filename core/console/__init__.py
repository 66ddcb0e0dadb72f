"""The web console where admins, coordinators and supporters run a program.

Server-rendered pages under /console that work without JavaScript. Every page is reached
through `console.session.page(...)`, which signs the person in (or sends them to sign in)
and checks their role; every POST carries a CSRF token (Flask-WTF), checked before any
view runs. Pages call the same services as the API, as the signed-in account's principal.
"""

from __future__ import annotations

from flask import Flask

from core.console import (
    accounts_page,
    audit_log,
    availability,
    home,
    integrations,
    reports,
    roster,
    settings,
    signin,
    training,
)
from core.console.session import bp

AREAS = (
    signin,
    home,
    roster,
    training,
    availability,
    settings,
    integrations,
    reports,
    audit_log,
    accounts_page,
)


_routes_added: list[bool] = []


def init_app(app: Flask) -> None:
    if not _routes_added:  # one blueprint object serves every app made in this process
        for area in AREAS:
            area.register(bp)
        _routes_added.append(True)
    app.register_blueprint(bp)
