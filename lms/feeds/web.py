"""HTTP: the feed calendars poll, and the endpoints that make, rotate and revoke its URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, current_app, jsonify, request

from core import limits
from core.errors import Unauthorized, ValidationFailed
from core.plugins import PluginHost
from core.runtime import Runtime, runtime
from core.services import feed_data
from core.services import tokens as api_tokens
from core.services.access import Ctx
from lms.feeds import content, supporters
from lms.feeds.cli import feeds_group
from lms.feeds.polls import PollCache

bp = Blueprint("lms_feeds", __name__)
CACHE = "private, max-age=300"  # calendars poll hourly (REFRESH-INTERVAL); a proxy shares none
POLLS = "lms_feed_polls"  # app.extensions: this process's PollCache
NOT_FOUND = "No such calendar feed.\n"  # the same words whether it never existed or was revoked


def init_app(host: PluginHost) -> None:
    host.app.extensions[POLLS] = PollCache(host.runtime.calendar_watch)
    host.add_blueprint(bp)
    limits.protect(host.app, "lms_feeds.feed", "feed")
    host.add_command(feeds_group)


@bp.get("/feeds/<token>.ics")
def feed(token: str) -> Response:
    """The calendar, or 304 when If-None-Match already names it (nothing is written then).

    An unchanged feed costs one statement outside any transaction (its token, owner and
    calendar version), or none while the database's watch vouches nothing changed
    (lms.feeds.polls; a body is always sent on the database's own word). The
    version is read before the sessions, so a change committed in between gives a body newer
    than its ETag (fetched again next time), never the reverse.
    """
    current = runtime()
    polls: PollCache = current_app.extensions[POLLS]
    now = current.clock.now()
    polled, remembered = polls.poll(current, token, now)
    if polled is None:
        return _not_found()
    tag = content.etag(polled.feed, polled.state)
    if request.if_none_match.contains_weak(tag):
        return _calendar_response(Response(status=304), tag)
    if remembered:  # a body only for a token the database itself finds live, now
        polled, _ = polls.poll(current, token, now, remembered=False)
        if polled is None:
            return _not_found()
        tag = content.etag(polled.feed, polled.state)
    with _unit_of_work(current, read_only=True) as ctx:  # a poll writes nothing
        reader = Ctx(session=ctx.session, principal=content.reader(polled.feed), now=ctx.now)
        sessions = feed_data.sessions(reader, polled.scope)
    body = content.calendar(sessions, for_supporter=polled.feed.owner.supporter_id is not None)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="peer-chats.ics"'
    return _calendar_response(response, tag)


@bp.post("/lms/feeds/supporter")
def issue_supporter_feed() -> tuple[Response, int]:
    """The supporter's feed URL (201 when made now); `?supporter_id=` for staff."""
    current = runtime()
    with _caller(current) as ctx:
        url, made = supporters.issue(current, ctx, _supporter_id())
    return _private(jsonify({"url": url})), 201 if made else 200


@bp.post("/lms/feeds/supporter/rotate")
def rotate_supporter_feed() -> Response:
    current = runtime()
    with _caller(current) as ctx:
        url = supporters.rotate(current, ctx, _supporter_id())
    return _private(jsonify({"url": url}))


@bp.delete("/lms/feeds/supporter")
def revoke_supporter_feed() -> Response:
    with _caller(runtime()) as ctx:
        supporters.revoke(ctx, _supporter_id())
    return _private(Response(status=204))


@contextmanager
def _unit_of_work(current: Runtime, *, read_only: bool = False) -> Iterator[Ctx]:
    ctx = current.system_ctx(read_only=read_only)
    with ctx.session:
        yield ctx


@contextmanager
def _caller(current: Runtime) -> Iterator[Ctx]:
    """A unit of work as the API token in the Authorization header (401 without one)."""
    with _unit_of_work(current) as ctx:
        header = request.headers.get("Authorization", "")
        principal = api_tokens.bearer(ctx.session, header, requesters=False)
        if principal is None:
            raise Unauthorized("this operation needs a bearer token")
        yield Ctx(session=ctx.session, principal=principal, now=ctx.now)


def _supporter_id() -> uuid.UUID | None:
    given = request.args.get("supporter_id")
    if given is None:
        return None
    try:
        return uuid.UUID(given)
    except ValueError:
        raise ValidationFailed("supporter_id: not a valid id", field="supporter_id") from None


def _calendar_response(response: Response, tag: str) -> Response:
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE
    return response


def _not_found() -> Response:
    return _private(Response(NOT_FOUND, status=404, mimetype="text/plain"))


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
