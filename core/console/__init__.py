"""The web console where admins, coordinators and supporters run a program.

Server-rendered pages under /console that work without JavaScript. Every page is reached
through `console.session.page(...)`, which signs the person in (or sends them to sign in)
and checks their role; every POST carries a CSRF token (Flask-WTF), checked before any
view runs. Pages call the same services as the API, as the signed-in account's principal.
"""

from __future__ import annotations

from flask import Flask

from core.console import home, signin
from core.console.session import bp


def init_app(app: Flask) -> None:
    signin.register(bp)
    home.register(bp)
    app.register_blueprint(bp)
