"""Signing in (password or a plugin's single sign-on), and signing out."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session

from core.console.session import COOKIE, ctx, error_page
from core.errors import Unauthorized
from core.models import ConsoleAccount
from core.runtime import runtime
from core.services import accounts

KEPT = "console_sso"


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/sign-in", "sign_in", sign_in_form, methods=["GET"])
    bp.add_url_rule("/sign-in", "sign_in_post", sign_in_post, methods=["POST"])
    bp.add_url_rule("/sign-out", "sign_out", sign_out, methods=["POST"])
    bp.add_url_rule("/sign-in/<name>", "sso_begin", sso_begin, methods=["GET"])
    bp.add_url_rule("/sign-in/<name>/done", "sso_done", sso_done, methods=["GET"])


def sign_in_form(message: str = "", status: int = 200, email: str = "") -> tuple[str, int]:
    methods = sorted(runtime().sign_in_methods.values(), key=lambda m: m.label)
    return (
        render_template(
            "console/sign_in.html",
            methods=methods,
            message=message,
            email=email,
            next=_next(),
        ),
        status,
    )


def sign_in_post() -> Any:
    email = request.form.get("email", "")
    try:
        account = accounts.sign_in_with_password(ctx(), email, request.form.get("password", ""))
    except accounts.Locked as locked:
        until = locked.until.strftime("%H:%M UTC")
        message = f"Too many failed sign-ins. This account is locked until {until}."
        return sign_in_form(message, 429, email)
    except Unauthorized as refused:
        return sign_in_form(str(refused), 401, email)
    return _signed_in(account, "password", _next())


def sign_out() -> Any:
    accounts.end_session(ctx(), request.cookies.get(COOKIE))
    cookie_session.clear()
    response = redirect(url_for("console.sign_in", out="1"))
    response.delete_cookie(COOKIE, path="/console")
    return response


def sso_begin(name: str) -> Any:
    method = runtime().sign_in_methods.get(name)
    if method is None:
        abort(404)
    target, kept = method.begin(url_for("console.sso_done", name=name, _external=True))
    sealed = runtime().cipher.encrypt(json.dumps({"kept": kept, "next": _next()}))
    cookie_session[KEPT] = sealed.decode()
    return redirect(target)


def sso_done(name: str) -> Any:
    method = runtime().sign_in_methods.get(name)
    sealed = cookie_session.pop(KEPT, None)
    if method is None:
        abort(404)
    if not sealed:
        return error_page(400, "This sign-in had expired or started elsewhere. Sign in again.")
    saved = json.loads(runtime().cipher.decrypt(str(sealed).encode()))
    try:
        identity = method.finish(saved["kept"], request.args.to_dict())
        account = accounts.sign_in_external(ctx(), identity)
    except Unauthorized as refused:
        return sign_in_form(str(refused), 401)
    return _signed_in(account, name, saved.get("next") or url_for("console.home"))


def _signed_in(account: ConsoleAccount, method: str, target: str) -> Response:
    token = accounts.start_session(ctx(), account, method)
    cookie_session.clear()  # a new CSRF token for the new sign-in
    response = make_response(redirect(target))
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(accounts.SESSION_LONGEST.total_seconds()),
        path="/console",
        secure=runtime().settings.env == "production" or request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def _next() -> str:
    """Where to go after signing in: only a console page, never another site."""
    wanted = request.values.get("next", "")
    if wanted.startswith("/console/") and not wanted.startswith("//") and "\\" not in wanted:
        return wanted
    return url_for("console.home")
