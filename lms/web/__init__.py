"""The student booking page that an LTI launch opens: server-rendered, accessible, phone-sized.

`/lms/book?s=<sealed>` (the launched student's session, carried in every link and form, no
cookies) chooses and books; `/lms/my/<requester token>` is the private link to the booking.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from core import limits
from core.errors import PeerLineError
from core.plugins import PluginHost
from lms.web import booking, manage
from lms.web.pages import Problem, page, problem_page, sentence
from lms.web.security import add_headers

log = logging.getLogger(__name__)

bp = Blueprint(
    "lms_booking",
    __name__,
    url_prefix="/lms",
    template_folder="templates",
    static_folder="static",
    static_url_path="/booking-static",
)
bp.add_url_rule("/book", "book_page", booking.show, methods=["GET"])
bp.add_url_rule("/book", "book", booking.book, methods=["POST"])
bp.add_url_rule("/my/<token>", "manage_page", manage.show, methods=["GET"])
bp.add_url_rule("/my/<token>/cancel", "cancel", manage.cancel, methods=["POST"])
bp.add_url_rule("/my/<token>/move", "reschedule", manage.reschedule, methods=["POST"])
bp.add_url_rule("/my/<token>/peer-chat.ics", "calendar_file", manage.calendar_file)
bp.after_request(add_headers)


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    return problem_page(problem)


@bp.errorhandler(PeerLineError)
def _refused(error: PeerLineError) -> Response:
    """A refusal no view expected (a record gone meanwhile): the core's words, its status."""
    said = sentence(error.message)
    return page("booking_problem.html", error.status, intake=None, title="Not done", message=said)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """Werkzeug's refusals (a body too large, say) as our page, with the notice."""
    title = error.name or "Something went wrong"
    said = "Go back and try again, or open PeerLine again from your course."
    return page("booking_problem.html", error.code or 400, intake=None, title=title, message=said)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    """Never a dead end: our fault gets a page with the crisis resources, and a log line
    naming the path's shape only (the URL carries a session or a private link)."""
    log.exception("booking page failed on %s %s", request.method, request.url_rule)
    message = "Something went wrong on our side. Nothing was booked or changed; please try again."
    return page("booking_problem.html", 500, intake=None, title="Sorry", message=message)


def init_app(host: PluginHost) -> None:
    host.add_blueprint(bp)
    limits.protect(host.app, "lms_booking.book_page", "lookup")
    limits.protect(host.app, "lms_booking.book", "intake")
    for endpoint in ("manage_page", "cancel", "reschedule", "calendar_file"):
        limits.protect(host.app, f"lms_booking.{endpoint}", "token")  # the private link
