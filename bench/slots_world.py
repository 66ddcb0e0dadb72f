"""The slot-search benchmark's world: a program of N supporters, and a bare same-size endpoint.

Every supporter has weekly hours in their own time zone, a date override each week (time off
or extra hours) and booked sessions, as a real roster would. The program comes from the real
service; supporters, rules, overrides and bookings are bulk inserts into the migrated schema,
so a search reads the same tables and indexes it reads in production.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify
from flask.testing import FlaskClient
from sqlalchemy import insert, text

from bench.harness import app_settings, reset_postgres
from core import create_app, limits
from core.clock import FrozenClock
from core.migrations import upgrade
from core.models import AvailabilityOverride, AvailabilityRule, Booking, Supporter, SupportRequest
from core.plugins import PluginHook, PluginHost
from core.runtime import Runtime, runtime
from core.schemas.programs import ProgramIn
from core.services import programs

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning, a DST change ahead in the US
DAYS = 28
ZONES = ("Europe/London", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC")
TOPICS = ("stress", "grief", "work", "family", "identity")


@dataclass
class World:
    app: Any
    client: FlaskClient
    path: str  # /api/v1/slots?… 28 days ahead
    bare_path: str  # the bare endpoint, returning the same JSON document
    supporters: int


def build(database_url: str, folder: Path, supporters: int, seed: int = 7) -> World:
    if database_url.startswith("postgresql"):
        reset_postgres(database_url)
    plugins: list[tuple[str, PluginHook]] = [("bench-bare", _bare_plugin)]
    app = create_app(app_settings(database_url, folder), clock=FrozenClock(NOW), plugins=plugins)
    current = runtime(app)
    upgrade(current.engine)
    _populate(current, supporters, random.Random(seed))  # noqa: S311 - a repeatable world
    if database_url.startswith("postgresql"):
        with current.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    end = (NOW + timedelta(days=DAYS)).isoformat().replace("+00:00", "Z")
    start = NOW.isoformat().replace("+00:00", "Z")
    path = f"/api/v1/slots?program=bench&from={start}&to={end}"
    client = app.test_client()
    ours = client.get(path)
    assert ours.status_code == 200, ours.data[:300]
    app.config["BENCH_SLOTS"] = ours.get_json()
    return World(app, client, path, "/bench/bare/slots", supporters)


def _bare_plugin(host: PluginHost) -> None:
    """The baseline: a plain Flask view serialising the same document, limited alike."""
    bare = Blueprint("bench_bare", __name__)
    bare.add_url_rule("/bench/bare/slots", "slots", _bare_slots)
    host.add_blueprint(bare)
    limits.protect(host.app, "bench_bare.slots", "lookup")


def _bare_slots() -> Response:
    return jsonify(current_app.config["BENCH_SLOTS"])


def _populate(current: Runtime, count: int, rng: random.Random) -> None:
    ctx = current.system_ctx()
    with ctx.session:
        program = programs.create_program(
            ctx,
            ProgramIn.model_validate(
                {"slug": "bench", "name": "Bench", "kind": "workplace", "time_zone": "UTC",
                 "topics": list(TOPICS)},
            ),
        )  # fmt: skip
        rows = _rows(program.id, count, rng)
        for model, values in rows:
            if values:
                ctx.session.execute(insert(model), values)
        ctx.session.commit()


def _rows(
    program_id: uuid.UUID, count: int, rng: random.Random
) -> list[tuple[type[Any], list[dict[str, Any]]]]:
    """Supporters with two or three weekly windows, a weekly override, and bookings."""
    supporters: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    bookings: list[dict[str, Any]] = []
    for n in range(count):
        supporter_id, zone = uuid.uuid4(), ZONES[n % len(ZONES)]
        supporters.append({
            "id": supporter_id, "program_id": program_id, "alias": f"Supporter {n:04d}",
            "time_zone": zone, "languages": ["en"] if n % 4 else ["en", "es"],
            "topics": rng.sample(TOPICS, 3), "modes": ["text", "video"], "status": "active",
            "created_at": NOW - timedelta(days=90),
        })  # fmt: skip
        days = rng.sample(range(7), rng.choice((2, 3)))
        windows = [(day, rng.choice((8, 9, 12, 17)) * 60) for day in days]
        for day, start in windows:
            rules.append({"id": uuid.uuid4(), "supporter_id": supporter_id, "weekday": day,
                          "start_minute": start, "end_minute": start + 120})  # fmt: skip
        local_today = NOW.astimezone(ZoneInfo(zone)).date()
        for week in range(DAYS // 7 + 1):
            on_date = local_today + timedelta(days=7 * week + rng.randrange(7))
            off = rng.random() < 0.5
            overrides.append({
                "id": uuid.uuid4(), "supporter_id": supporter_id, "on_date": on_date,
                "available": not off, "start_minute": None if off else 18 * 60,
                "end_minute": None if off else 20 * 60,
            })  # fmt: skip
        for week in range(DAYS // 7):  # one or two sessions a week inside their hours
            for day, start in rng.sample(windows, min(len(windows), rng.choice((1, 2)))):
                local = local_today + timedelta(days=(day - local_today.weekday()) % 7 + 7 * week)
                starts_at = datetime.combine(local, time(start // 60), tzinfo=ZoneInfo(zone))
                if starts_at.astimezone(UTC) <= NOW + timedelta(hours=4):
                    continue
                request_id = uuid.uuid4()
                requests.append({
                    "id": request_id, "program_id": program_id, "alias": f"Heron {len(requests)}",
                    "topic": "stress", "urgency": "scheduled", "mode": "video", "language": "en",
                    "status": "scheduled", "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                    "channel": "api", "supporter_id": supporter_id, "excluded_supporter_ids": [],
                    "created_at": NOW - timedelta(days=3), "matched_at": NOW - timedelta(days=3),
                })  # fmt: skip
                bookings.append({
                    "id": uuid.uuid4(), "program_id": program_id, "supporter_id": supporter_id,
                    "request_id": request_id, "starts_at": starts_at.astimezone(UTC),
                    "ends_at": (starts_at + timedelta(minutes=45)).astimezone(UTC),
                    "mode": "video", "status": "confirmed",
                    "calendar_uid": f"{uuid.uuid4()}@peerline", "sequence": 0,
                    "created_at": NOW - timedelta(days=3), "updated_at": NOW - timedelta(days=3),
                })  # fmt: skip
    return [
        (Supporter, supporters),
        (AvailabilityRule, rules),
        (AvailabilityOverride, overrides),
        (SupportRequest, requests),
        (Booking, bookings),
    ]
