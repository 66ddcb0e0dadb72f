"""The HTTP API under /api/v1, its OpenAPI document, docs page and health checks."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from itertools import groupby
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException

from core.api import audit, deliveries, programs, requests, scheduling, supporters
from core.api.framework import ApiBlueprint, error_response
from core.api.openapi import build
from core.db import unavailable
from core.errors import PeerLineError
from core.models import Program
from core.runtime import db_session, runtime

PREFIX = "/api/v1"
BLUEPRINTS: list[ApiBlueprint] = [
    programs.bp,
    supporters.bp,
    scheduling.bp,
    requests.bp,
    audit.bp,
    deliveries.bp,
]
log = logging.getLogger(__name__)
meta = Blueprint("meta", __name__)
RETRY_AFTER_OUTAGE_SECONDS = 5


def _version() -> str:
    try:
        return version("peerline")
    except PackageNotFoundError:
        return "0+unknown"


@cache
def _document() -> dict[str, Any]:
    """The operations are fixed at import, so the document is built once per process."""
    return build(BLUEPRINTS, PREFIX, _version())


@meta.get(f"{PREFIX}/openapi.json")
def openapi() -> Response:
    return jsonify(_document())


@meta.get(f"{PREFIX}/docs")
def docs() -> str:
    document = _document()
    rows = [
        (op["tags"][0], path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]
    order = [bp.tag for bp in BLUEPRINTS]
    rows.sort(key=lambda r: order.index(r[0]))
    groups = [
        (tag, [(p, m, o) for _, p, m, o in items])
        for tag, items in groupby(rows, key=lambda r: r[0])
    ]
    return render_template("api_docs.html", groups=groups, prefix=PREFIX, version=_version())


@meta.get("/")
def index() -> str:
    """A landing page, so whoever opens the demo's address sees where to go."""
    listed = db_session().execute(select(Program.slug, Program.name).order_by(Program.name))
    return render_template("index.html", programs=listed.all())


@meta.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@meta.get("/metrics")
def metrics() -> Response:
    """Prometheus text format; behind PEERLINE_METRICS_TOKEN when one is set."""
    import hmac

    from core.metrics import exposition

    current = runtime()
    expected = current.settings.metrics_token
    if expected is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            return Response("metrics need the PEERLINE_METRICS_TOKEN bearer token\n", 401)
    return Response(exposition(current), mimetype="text/plain; version=0.0.4")


@meta.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Not ready without the database; ready but "degraded" without the job queue.

    With the queue down requests are still taken (their messages wait in the outbox and the
    workers' tick sends them), so taking the app out of the load balancer would only hurt.
    """
    from core import migrations

    engine = runtime().engine
    queue = "ok" if _queue_reachable() else "unreachable"
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrations.is_up_to_date(engine)
    except Exception:
        log.warning("readiness check: database unreachable")
        return jsonify({"status": "unavailable", "database": "unreachable", "queue": queue}), 503
    if not current:
        body = {"status": "unavailable", "database": "migrations pending", "queue": queue}
        return jsonify(body), 503
    status = "ready" if queue == "ok" else "degraded"
    return jsonify({"status": status, "database": "ok", "queue": queue}), 200


def _queue_reachable() -> bool:
    jobs = runtime().jobs
    return jobs is None or jobs.reachable()


def _handle_domain_error(error: PeerLineError) -> tuple[Response, int]:
    return error_response(error)


def _handle_http_error(error: HTTPException) -> Any:
    if not request.path.startswith(PREFIX):
        return error
    code = (error.name or "error").lower().replace(" ", "_")
    problem = PeerLineError(error.description or error.name)
    problem.status, problem.code = error.code or 500, code
    response, status = error_response(problem)
    for name, value in error.get_headers():  # e.g. Allow on 405, Retry-After on 429
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def _handle_unexpected(error: Exception) -> tuple[Response, int]:
    if unavailable(error):  # a database restart or outage: the client should simply retry
        return _database_unavailable(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    problem = PeerLineError("something went wrong on our side; please try again later")
    problem.status, problem.code = 500, "internal_error"
    return error_response(problem)


def _database_unavailable(error: Exception) -> tuple[Response, int]:
    """503 with Retry-After; the log names the fault's class, never its SQL or parameters."""
    cause = getattr(error, "orig", None) or error
    log.warning(
        "database unavailable on %s %s (%s)", request.method, request.path, type(cause).__name__
    )
    problem = PeerLineError("the service is briefly unavailable; please try again in a moment")
    problem.status, problem.code = 503, "unavailable"
    response, status = error_response(problem)
    response.headers["Retry-After"] = str(RETRY_AFTER_OUTAGE_SECONDS)
    return response, status


DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)  # for HTML pages that set none of their own (the landing and API docs pages, Slack's install)
HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response: Response) -> Response:
    """Every answer: no sniffing, no Referer (capability URLs), a CSP on pages, HSTS on TLS."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    if _behind_tls():
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if "frame-ancestors" not in response.headers.get("Content-Security-Policy", ""):
        response.headers.setdefault(
            "X-Frame-Options", "DENY"
        )  # unless a page says who may frame it
    if request.path.startswith(PREFIX):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _behind_tls() -> bool:
    """https as the client sees it (ProxyFix makes that so), or a production https deployment."""
    if request.is_secure:
        return True
    settings = runtime().settings
    return settings.env == "production" and (settings.public_url or "").startswith("https://")


def init_app(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=PREFIX)
    app.register_blueprint(meta)
    app.register_error_handler(PeerLineError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.after_request(_security_headers)
