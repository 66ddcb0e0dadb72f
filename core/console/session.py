"""Who is signed in to the console, what they may open, and the protections every page has."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from wtforms.validators import ValidationError

from core.errors import NotFound, PeerLineError
from core.models import ConsoleAccount, Program
from core.runtime import db_session, runtime
from core.services import accounts, programs
from core.services.access import ANONYMOUS, Ctx, Principal

log = logging.getLogger(__name__)
COOKIE = "peerline_console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    static_folder="static",
    static_url_path="/static",
)
View = TypeVar("View", bound=Callable[..., Any])
SECTIONS: list[tuple[str, str, tuple[str, ...]]] = []
"""(endpoint, label, roles) of each program section, in the order of the navigation."""


def section(endpoint: str, label: str, *roles: str) -> None:
    """Show a program page in the navigation to the given roles (pages call it once)."""
    if all(existing != endpoint for existing, _, _ in SECTIONS):
        SECTIONS.append((endpoint, label, roles))


def ctx() -> Ctx:
    """This request's unit of work, as the signed-in account (or nobody)."""
    principal = cast(Principal, g.get("principal", ANONYMOUS))
    return Ctx(db_session(), principal, runtime().clock.now(), runtime().cipher)


def account() -> ConsoleAccount | None:
    return cast(ConsoleAccount | None, g.get("account"))


def page(*roles: str) -> Callable[[View], View]:
    """A console page: signed in, holding one of `roles`; with `slug`, in that program."""

    def wrap(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if account() is None:
                return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
            principal = cast(Principal, g.principal)
            if principal.role not in roles:
                return error_page(403, "Your role does not open this page.")
            if "slug" in kwargs:
                g.program = program_of(kwargs["slug"])
            return view(*args, **kwargs)

        return cast(View, checked)

    return wrap


def program_of(slug: str) -> Program:
    """The program in the URL, if the signed-in account belongs to it (else 'not found')."""
    found = programs.get_program(ctx(), slug)
    principal = cast(Principal, g.principal)
    if principal.program_id is not None and principal.program_id != found.id:
        raise NotFound("no such program", field="slug")  # never confirm another's exists
    return found


def error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("console/error.html", status=status, message=message), status


LARGE_POSTS: dict[str, int] = {}
"""Endpoints whose posts may exceed the app's request limit, and their own limit in bytes."""


def allow_large_post(endpoint: str, limit: int) -> None:
    """Let posts to `endpoint` (a file upload) be up to `limit` bytes, form fields included."""
    LARGE_POSTS[endpoint] = limit


@bp.before_request
def _load_account() -> Response | None:
    if request.endpoint == "console.static":
        return None  # a style sheet needs no session look-up
    if request.endpoint in LARGE_POSTS:  # before anything reads the form
        request.max_content_length = request.max_form_memory_size = LARGE_POSTS[request.endpoint]
    found = accounts.resume(ctx(), request.cookies.get(COOKIE))
    if found is not None:
        g.account, g.principal = found
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            return cast(Response, error_page(400, _csrf_message()))
    return None


def _csrf_message() -> str:
    return (
        "This form had expired or did not come from this console. Nothing was changed. "
        "Go back, reload the page and try again."
    )


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "csrf_token": generate_csrf,
        "signed_in": g.get("account"),
        "program": g.get("program"),
        "console_sections": SECTIONS,
    }


@bp.errorhandler(PeerLineError)
def _domain_error(error: PeerLineError) -> tuple[str, int]:
    db_session().rollback()
    return error_page(error.status, str(error))


@bp.errorhandler(CSRFError)
def _csrf_error(_error: CSRFError) -> tuple[str, int]:
    return error_page(400, _csrf_message())


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = request.max_content_length or 0
    return error_page(
        413,
        f"What you sent is too large: this form takes at most {limit // 1024} KB. "
        "Nothing was changed. Go back and send a smaller file or split it in parts.",
    )


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    return error_page(error.code or 500, error.description or error.name)


@bp.errorhandler(Exception)
def _unexpected(_error: Exception) -> tuple[str, int]:
    log.exception("console error on %s %s", request.method, request.path)
    db_session().rollback()  # the page below must not meet a failed transaction
    return error_page(500, "Something went wrong on our side. Nothing was changed; try again.")
