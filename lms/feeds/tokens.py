"""Feed tokens: unguessable, derived with the deployment's secret, stored only as digests.

A token is an HMAC (key derived from PEERLINE_SECRET_KEY) of the feed's random id and its
revision. The table keeps only the token's SHA-256, so a copy of the database cannot rebuild
a feed URL; PeerLine can, which is how a student's booking page shows the same URL on every
launch. Rotating bumps the revision; revoking deletes the row. Either way the old URL is dead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import has_request_context, url_for
from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from core.crypto import token_digest
from core.errors import ConfigError
from core.services import feed_data
from core.services.feed_data import FeedScope, FeedState
from lms.feeds.storage import FEEDS

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.services.access import Ctx

TOKEN_PREFIX = "plf_"  # noqa: S105 - a public prefix, not a secret
TOKEN_SHAPE = re.compile(r"plf_[A-Za-z0-9_-]{43}")  # 256 bits, base64url without padding


@dataclass(frozen=True)
class Owner:
    """Whose feed: a supporter, or a student by the keyed hash of their LTI identity."""

    program_id: uuid.UUID
    supporter_id: uuid.UUID | None = None
    student_key: str | None = None

    def matches(self) -> ColumnElement[bool]:
        if self.supporter_id is not None:
            return (FEEDS.c.program_id == self.program_id) & (
                FEEDS.c.supporter_id == self.supporter_id
            )
        return (FEEDS.c.program_id == self.program_id) & (FEEDS.c.student_key == self.student_key)


@dataclass(frozen=True)
class Feed:
    id: uuid.UUID
    owner: Owner
    revision: int
    digest: str  # SHA-256 of the token it answers to


_POLL = select(
    FEEDS, *feed_data.state_columns(FEEDS.c.program_id, FEEDS.c.supporter_id, FEEDS.c.student_key)
).where(FEEDS.c.token_digest == bindparam("digest"))


@dataclass(frozen=True)
class Polled:
    """A live feed, what it shows and whether that changed: all from the poll's one statement."""

    feed: Feed
    scope: FeedScope
    state: FeedState


def poll(connection: Connection, token: str, now: datetime) -> Polled | None:
    """The live feed a token opens, with its owner's calendar state, in one statement.

    None for anything else: malformed, rotated or revoked tokens, and offboarded owners.
    """
    if TOKEN_SHAPE.fullmatch(token) is None:
        return None
    row = connection.execute(_POLL, {"digest": token_digest(token)}).first()
    if row is None:
        return None
    feed = _feed(row)
    scope = _scope_of(feed, now)
    state = feed_data.state_of(row, scope)
    return Polled(feed, scope, state) if state is not None else None


def _scope_of(feed: Feed, now: datetime) -> FeedScope:
    """Whose sessions the feed shows: the supporter's, or those of the student's requests."""
    owner = feed.owner
    if owner.supporter_id is not None:
        return feed_data.supporter_scope(now, owner.program_id, owner.supporter_id)
    assert owner.student_key is not None
    return feed_data.requester_scope(now, owner.program_id, owner.student_key)


def issue(runtime: Runtime, ctx: Ctx, owner: Owner) -> tuple[Feed, str, bool]:
    """The owner's feed and its token, made if there is none: (feed, token, made now)."""
    for _attempt in range(2):  # a racing issue for the same owner wins the insert; read it
        feed = _live(ctx, owner)
        if feed is not None:
            token = token_of(runtime, feed.id, feed.revision)
            if feed.digest != token_digest(token):  # PEERLINE_SECRET_KEY was changed
                return (*rotate(runtime, ctx, owner), False)
            return feed, token, False
        feed_id = uuid.uuid4()
        token = token_of(runtime, feed_id, 1)
        feed = Feed(id=feed_id, owner=owner, revision=1, digest=token_digest(token))
        values = _owner_values(owner) | {"created_at": ctx.now, "rotated_at": ctx.now}
        try:
            ctx.session.execute(
                insert(FEEDS).values(id=feed.id, revision=1, token_digest=feed.digest, **values)
            )
            ctx.session.flush()
        except IntegrityError:
            ctx.session.rollback()
            continue
        return feed, token, True
    raise RuntimeError("the feed could be neither made nor found")


def rotate(runtime: Runtime, ctx: Ctx, owner: Owner) -> tuple[Feed, str]:
    """A new token for the owner's feed (made if there is none); the old URL stops working."""
    feed = _live(ctx, owner)
    if feed is None:
        made, token, _ = issue(runtime, ctx, owner)
        return made, token
    token = token_of(runtime, feed.id, feed.revision + 1)
    moved = Feed(id=feed.id, owner=owner, revision=feed.revision + 1, digest=token_digest(token))
    ctx.session.execute(
        update(FEEDS)
        .where(FEEDS.c.id == feed.id)
        .values(revision=moved.revision, token_digest=moved.digest, rotated_at=ctx.now)
    )
    return moved, token


def revoke(ctx: Ctx, owner: Owner) -> bool:
    """Delete the owner's feed; True when there was one."""
    done = cast("CursorResult[Any]", ctx.session.execute(delete(FEEDS).where(owner.matches())))
    return done.rowcount > 0


def token_of(runtime: Runtime, feed_id: uuid.UUID, revision: int) -> str:
    """The feed's token, rebuilt from its id and revision with the deployment's secret."""
    assert runtime.settings.secret_key is not None, "create_app always sets a secret key"
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"peerline lms feed tokens"
    ).derive(runtime.settings.secret_key.get_secret_value().encode())
    mac = hmac.new(key, f"{feed_id}:{revision}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _live(ctx: Ctx, owner: Owner) -> Feed | None:
    row = ctx.session.execute(select(FEEDS).where(owner.matches())).first()
    return _feed(row) if row is not None else None


def _feed(row: Any) -> Feed:
    owner = Owner(row.program_id, supporter_id=row.supporter_id, student_key=row.student_key)
    return Feed(id=row.id, owner=owner, revision=row.revision, digest=row.token_digest)


def _owner_values(owner: Owner) -> dict[str, Any]:
    return {
        "program_id": owner.program_id,
        "supporter_id": owner.supporter_id,
        "student_key": owner.student_key,
    }


def url_of(runtime: Runtime, token: str) -> str:
    """Where calendars subscribe: under PEERLINE_PUBLIC_URL, else the address being served."""
    if runtime.settings.public_url:
        return f"{runtime.settings.public_url}/feeds/{token}.ics"
    if has_request_context():
        return url_for("lms_feeds.feed", token=token, _external=True)
    raise ConfigError("PEERLINE_PUBLIC_URL is needed to give out calendar feed URLs")
