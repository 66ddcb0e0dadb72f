"""The booking benchmark's world: supporters free all week, many open requests, a bare baseline.

Program, supporters and weekly hours go through the real services; the open requests (each
with its own requester token) are bulk inserts, as an intake would have left them. The
slots handed out never touch each other (two hours apart, buffers included), so every
booking of the uncontended run is one that must succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Blueprint, Flask, Response
from flask.testing import FlaskClient
from pydantic import BaseModel
from sqlalchemy import insert

from bench.harness import app_settings, reset_postgres
from core import create_app, limits
from core.api.framework import ApiBlueprint
from core.clock import Clock
from core.crypto import REQUESTER_TOKEN_PREFIX, new_secret_token, token_digest
from core.migrations import upgrade
from core.models import AuditEvent, SupportRequest
from core.plugins import PluginHost
from core.runtime import Runtime, db_session, runtime
from core.schemas.programs import ProgramIn
from core.schemas.supporters import AvailabilityIn, SupporterIn
from core.services import availability, programs, roster
from core.services.access import Principal

BARE_PATH = "/bench/bare/bookings"
API_PATH = "/bench/bare/api"  # the same INSERT as an API operation: token, body, JSON answer
APART = timedelta(hours=2)  # a 45-minute session and 15-minute buffers on both sides fit
FIRST_SLOT = timedelta(days=1)  # well past the minimum notice
ALL_WEEK = [
    {"weekday": day, "start": "00:00", "end": "24:00"}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]


@dataclass(frozen=True)
class Ask:
    """One open request and the token its requester books with."""

    request_id: uuid.UUID
    token: str


@dataclass(frozen=True)
class Slot:
    supporter_id: uuid.UUID
    starts_at: datetime


@dataclass
class World:
    app: Flask
    client: FlaskClient
    asks: list[Ask]
    slots: list[Slot]  # pairwise apart: booking all of them must succeed


def settings(database_url: str, folder: Path, redis_url: str | None = None) -> dict[str, str]:
    """Shared by the in-process app and a `peerline serve` started on the same database.

    With `redis_url` the job queue and the rate limiter's counters are in Redis, as in
    production; without it, in the instance folder and in memory, as in the embedded setup.
    """
    found = app_settings(database_url, folder, encryption_keys=Fernet.generate_key().decode())
    return found | ({"redis_url": redis_url} if redis_url else {})


def build(
    config: dict[str, str], clock: Clock | None, *, supporters: int, asks: int, slots_each: int
) -> World:
    """Program, `supporters` free all week, `asks` open requests, `slots_each` slots apiece."""
    if config["database_url"].startswith("postgresql"):
        reset_postgres(config["database_url"])
    app = create_app(dict(config), clock=clock, plugins=[("bench-bare", bare_plugin)])
    current = runtime(app)
    upgrade(current.engine)  # the schema production has: every migration, its indexes
    if current.jobs is not None:
        current.jobs.huey.flush()  # nobody consumes the benchmark's jobs: none from earlier runs
    ids = _roster(current, supporters)
    found = _asks(current, ids[0][1], asks)
    start = _first_start(current.clock.now())
    slots = [
        Slot(supporter_id, start + APART * n) for n in range(slots_each) for supporter_id, _ in ids
    ]
    return World(app, app.test_client(), found, slots)


def _first_start(now: datetime) -> datetime:
    """A whole hour a day ahead: on every slot step, past the notice."""
    return (now + FIRST_SLOT).replace(minute=0, second=0, microsecond=0)


def _roster(current: Runtime, count: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(supporter id, program id) of `count` supporters free every hour of every day."""
    ctx = current.system_ctx()
    with ctx.session:
        program = programs.create_program(
            ctx,
            ProgramIn.model_validate(
                {"slug": "bench", "name": "Bench", "kind": "school", "time_zone": "UTC",
                 "topics": ["stress"], "modes": ["text", "video"],
                 "policy": {"horizon_days": 180, "weekly_cap": 100}},
            ),
        )  # fmt: skip
        found = []
        for n in range(count):
            supporter = roster.add_supporter(
                ctx,
                program,
                SupporterIn.model_validate(
                    {"alias": f"Supporter {n}", "time_zone": "UTC", "languages": ["en"],
                     "topics": ["stress"], "modes": ["text", "video"]},
                ),
            )  # fmt: skip
            availability.set_weekly(ctx, supporter.id, AvailabilityIn.model_validate(
                {"weekly": ALL_WEEK}
            ))  # fmt: skip
            found.append((supporter.id, program.id))
    return found


def _asks(current: Runtime, program_id: uuid.UUID, count: int) -> list[Ask]:
    """Open scheduled requests by text, each with its own requester token, inserted in bulk."""
    now = current.clock.now()
    asks = [Ask(uuid.uuid4(), new_secret_token(REQUESTER_TOKEN_PREFIX)) for _ in range(count)]
    rows: list[dict[str, Any]] = [
        {"id": ask.request_id, "program_id": program_id, "alias": f"Blue Heron {n}",
         "topic": "stress", "urgency": "scheduled", "mode": "text", "language": "en",
         "status": "open", "token_hash": token_digest(ask.token), "channel": "api",
         "excluded_supporter_ids": [], "created_at": now - timedelta(minutes=5)}
        for n, ask in enumerate(asks)
    ]  # fmt: skip
    ctx = current.system_ctx()
    with ctx.session:
        for at in range(0, len(rows), 1000):
            ctx.session.execute(insert(SupportRequest), rows[at : at + 1000])
        ctx.session.commit()
    return asks


def bare_plugin(host: PluginHost) -> None:
    """The baseline endpoints, installed like a plugin and limited like the booking endpoint.

    BARE_PATH is a plain view: the target's baseline. API_PATH does the same INSERT as an
    operation of the API's own framework (the caller's token looked up, the body parsed and
    checked, a JSON answer), for reference: what any API write costs before its own work.
    """
    bare = Blueprint("bench_bare", __name__)
    bare.add_url_rule(BARE_PATH, "insert", _bare_insert, methods=["POST"])
    host.add_blueprint(bare)
    limits.protect(host.app, "bench_bare.insert", "token")
    api = ApiBlueprint("bench_bare_api", __name__, tag="bench")

    @api.operation("POST", API_PATH, summary="One INSERT", roles=frozenset({"requester"}),
                   body=Inserted, response=Inserted, status=201)  # fmt: skip
    def insert_once(principal: Principal, body: Inserted) -> Inserted:
        _insert_one()
        return body

    host.add_blueprint(api)
    limits.protect(host.app, "bench_bare_api.post_insert_once", "token")


class Inserted(BaseModel):
    x: int


def _bare_insert() -> Response:
    """One INSERT and its commit on the request's own session: the least a write can cost."""
    _insert_one()
    return Response(b"{}", status=201, mimetype="application/json")


def _insert_one() -> None:
    session = db_session()
    session.add(
        AuditEvent(
            program_id=None,
            at=runtime().clock.now(),
            actor="bench",
            actor_role="system",
            action="bench.bare",
            target_type="bench",
            target_id=None,
            details={},
        )
    )
    session.commit()
